"""The OpenAPI description: every ledger endpoint needs a key, errors are documented as the
problem details the app sends, and /docs serves it."""

from __future__ import annotations

from tests.http.conftest import Api

LEDGER = ("/capture", "/events", "/epcs", "/eventTypes", "/bizSteps", "/bizLocations")
LEDGER += ("/readPoints", "/dispositions", "/queries", "/api/")


def test_openapi_is_truthful_about_keys_and_errors(sqlite_api: Api) -> None:
    doc = sqlite_api.client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    ours = {p: ops for p, ops in doc["paths"].items() if p.startswith(LEDGER)}
    assert len(ours) >= 19
    for path, ops in ours.items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            assert op.get("security") == [{"apiKey": []}], where
            codes = set(op["responses"])
            assert {"400", "401", "403", "429"} <= codes, where
            assert "422" not in codes, where
            for code in codes - {"200", "201", "202", "204"}:
                content = op["responses"][code]["content"]
                assert list(content) == ["application/problem+json"], (where, code)
    assert "security" not in doc["paths"]["/health"]["get"]
    assert all("422" not in op["responses"] for ops in doc["paths"].values() for op in ops.values())
    assert "HTTPValidationError" not in doc["components"].get("schemas", {})


def test_docs_page(sqlite_api: Api) -> None:
    r = sqlite_api.client.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
