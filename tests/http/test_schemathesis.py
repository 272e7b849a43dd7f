"""schemathesis against the app's own OpenAPI, with a valid key: no 5xx, and every response
(status, media type, headers, body) matches what /openapi.json says."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import checks  # noqa: E402

from battrace.persistence.sqlite import SqliteStore  # noqa: E402
from battrace.web.app import create_app  # noqa: E402
from battrace.web.runtime import ApiSettings  # noqa: E402
from tests.http import cast  # noqa: E402
from tests.http.conftest import Api  # noqa: E402

# Built at import: schemathesis derives the tests from the app's schema. The ledger holds the
# cast's whole pack lifecycle, so queries have something to return.
_DIR = Path(tempfile.mkdtemp(prefix="battrace-schemathesis-"))
STORE = SqliteStore(f"sqlite:///{_DIR / 'ledger.sqlite'}")
STORE.migrate()
APP = create_app(api=ApiSettings(rate_limit=100_000, rate_burst=100_000), store=STORE)


def _setup() -> str:
    from fastapi.testclient import TestClient

    from battrace.services import keys

    cast.register(STORE)
    api = Api(STORE, TestClient(APP), {})
    api.load_lifecycle()
    return keys.create_key(STORE, cast.NATIONAL, "schemathesis")[1]


KEY = _setup()
# The HTTP interface of this module; the web pages and the passport test their own routes.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).include(
    path_regex=r"^/(health|capture|events|epcs|eventTypes|bizSteps|bizLocations|readPoints"
    r"|dispositions|queries|api/)"
)

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, checks=CHECKS)
