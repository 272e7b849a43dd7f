"""Who gets which passport view through the real app: the roles of an interface key's enterprise
or of a signed-in user's organisation decide the Annex XIII audiences (domain.passport.
audiences_for_roles); everyone else is the public."""

from __future__ import annotations

from battrace.services import users
from tests import scenario as sc
from tests.http import cast
from tests.http.conftest import Api
from tests.http.pages_fixtures import PASSWORD, csrf_of

URL = f"/passport/{sc.PACK}"


def _status(api: Api, uscc: str | None, audience: str) -> int:
    return api.get(f"{URL}?audience={audience}", uscc).status_code


def test_anonymous_callers_get_the_public_view_only(api: Api) -> None:
    api.load_lifecycle()
    assert _status(api, None, "public") == 200
    refused = api.get(f"{URL}?audience=legitimate", None)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "audience"


def test_a_key_grants_the_audiences_of_its_enterprise_roles(api: Api) -> None:
    api.load_lifecycle()
    # A recycler has a legitimate interest, not the authorities' view.
    assert _status(api, sc.RECYCLER, "legitimate") == 200
    assert _status(api, sc.RECYCLER, "authority") == 403
    body = api.get(f"{URL}?model=batterypass&audience=legitimate", sc.RECYCLER).json()
    assert "batteryStatus" in body["aspects"]["GeneralProductInformation"]["payload"]
    # Regulators are market surveillance authorities.
    assert _status(api, cast.NATIONAL, "authority") == 200
    assert _status(api, cast.JIANGSU, "authority") == 200
    public = api.get(f"{URL}?model=batterypass", cast.NATIONAL).json()
    assert "batteryStatus" not in public["aspects"]["GeneralProductInformation"]["payload"]


def test_an_unknown_key_is_refused_not_downgraded(api: Api) -> None:
    api.load_lifecycle()
    response = api.client.get(URL, headers={"Authorization": "Bearer btk_not-a-key"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_signed_in_web_user_gets_the_audiences_of_the_organisation(api: Api) -> None:
    api.load_lifecycle()
    users.add_user(api.store, "inspector", PASSWORD, cast.GUANGDONG, display_name="Inspector")
    client = api.client
    assert client.get(f"{URL}?audience=authority").status_code == 403
    signed_in = client.post(
        "/login",
        data={"csrf_token": csrf_of(client), "username": "inspector", "password": PASSWORD},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert client.get(f"{URL}?audience=authority").status_code == 200
    client.cookies.clear()
    assert client.get(f"{URL}?audience=authority").status_code == 403
