"""Enterprise pages: my batteries, the scoped trace, the upload centre and its templates."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook

from battrace.domain.identities.gbt34014 import format_battery_code
from battrace.services.authorisation import scope_for
from battrace.services.query import scope_trace
from battrace.services.trace import trace
from battrace.web.pages import upload
from tests.http.pages_fixtures import Site, build_site, csrf_of


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = build_site(tmp_path_factory.mktemp("enterprise"))
    yield s
    s.store.close()


def _code(maker: str, serial: int) -> str:
    return format_battery_code(maker, "P", "LFP", "12", "L100000", date(2025, 1, 6), serial)


def _maker_code(site: Site) -> str:
    ent = site.store.get_enterprise(site.orgs["maker"])
    assert ent is not None
    return ent.manufacturer_codes[0]


def _post(client: object, step: str, body: bytes, lang_csrf: str) -> object:
    return client.post(  # type: ignore[attr-defined]
        f"/my/upload/{step}",
        content=body,
        headers={
            "X-CSRF-Token": lang_csrf,
            "X-Filename": "upload.csv",
            "Content-Type": "application/octet-stream",
        },
    )


def test_my_batteries_lists_what_the_enterprise_holds(site: Site) -> None:
    client = site.login("dealer")
    page = client.get("/my/batteries")
    assert page.status_code == 200
    held = (
        site.store.engine.connect()
        .exec_driver_sql(  # type: ignore[attr-defined]
            "SELECT count(*) FROM objects WHERE holder = ? AND kind = 'battery'",
            ("urn:uscc:" + site.orgs["dealer"],),
        )
        .scalar()
    )
    shown = re.search(r"<p>([\d,]+) batter(?:y|ies)</p>", page.text)
    assert held and shown and int(shown.group(1).replace(",", "")) == held
    filtered = client.get("/my/batteries?state=recycled")
    assert "No battery matches." in filtered.text
    assert client.get("/my/batteries?q=%27%3B--").status_code == 400


def test_regulator_cannot_use_enterprise_pages(site: Site) -> None:
    client = site.login("miit")
    assert client.get("/my/batteries").status_code == 403
    assert client.get("/my/upload").status_code == 403


def test_enterprise_trace_is_limited_to_its_own_part(site: Site) -> None:
    client = site.login("dealer")
    held = client.get("/my/batteries").text
    code = held.split('href="/trace/', 1)[1].split('"', 1)[0]
    own = client.get(f"/trace/{code}")
    assert own.status_code == 200 and "Vehicle sold" in own.text
    assert "Produced and coded" not in own.text and "not shown" in own.text
    # The same cut as GET /api/batteries/{code} for this enterprise's key: a partial view hides
    # the current state and holder (services.query.scope_trace).
    dealer = site.store.get_enterprise(site.orgs["dealer"])
    assert dealer is not None
    api_view = scope_trace(site.store, scope_for(dealer), trace(site.store, code))
    assert api_view is not None and api_view["scope"] == "partial"
    shown = re.findall(r'<code class="small hash" title="([^"]+)">[0-9a-f]{16}</code>', own.text)
    assert shown == [e["eventID"] for e in api_view["events"]]
    assert "shown only to those who hold it now" in own.text
    with site.store.engine.connect() as conn:  # type: ignore[attr-defined]
        touched = set(
            conn.exec_driver_sql(
                "SELECT x.epc FROM event_epcs x JOIN events e ON e.seq = x.event_seq WHERE e.reporter = ?",
                (site.orgs["dealer"],),
            ).scalars()
        )
    stranger = next(
        c for c in site.pack_codes() if "urn:gbt34014:" + c not in touched and c not in held
    )
    denied = client.get(f"/trace/{stranger}")
    assert denied.status_code == 403 and "Access denied" in denied.text


def test_templates_per_role_in_excel_and_csv(site: Site) -> None:
    client = site.login("maker")
    centre = client.get("/my/upload")
    assert "/my/upload/template/commissioning.xlsx" in centre.text
    assert "/my/upload/template/selling.xlsx" not in centre.text  # a dealer's step
    assert client.get("/my/upload/template/selling.csv").status_code == 404
    csv_t = client.get("/my/upload/template/commissioning.csv")
    assert csv_t.status_code == 200 and csv_t.content.startswith(b"\xef\xbb\xbf")
    assert "电池编码 (code)" in csv_t.content.decode("utf-8-sig").splitlines()[0]
    xlsx = client.get("/my/upload/template/commissioning.xlsx")
    wb = load_workbook(io.BytesIO(xlsx.content))
    assert [c.value for c in wb.worksheets[0][1]] == upload.STEP_BY_KEY["commissioning"].headers()
    assert len(wb.worksheets) == 2


def test_valid_csv_upload_is_captured(site: Site) -> None:
    client = site.login("maker")
    mc = _maker_code(site)
    codes = [_code(mc, 8_000_001 + i) for i in range(3)]
    body = "\ufeff" + ",".join(upload.STEP_BY_KEY["commissioning"].headers()[:3]) + "\r\n"
    body += "".join(f"{c},2025-02-01 08:00,LFP\r\n" for c in codes)
    before = site.store.head().event_count
    response = _post(client, "commissioning", body.encode(), csrf_of(client, "/my/upload"))
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    assert 'data-upload-result="ok"' in response.text  # type: ignore[attr-defined]
    assert site.store.head().event_count == before + 3
    view = site.client().get(f"/lookup?code={codes[0]}")
    assert view.status_code == 200 and "LFP" in view.text


def test_valid_xlsx_upload_with_chinese_headers_is_captured(site: Site) -> None:
    client = site.login("maker", lang="zh_CN")
    mc = _maker_code(site)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["电池编码", "发生时间", "额定能量(kWh)"])
    ws.append([_code(mc, 8_100_001), "2025-02-03 10:00", 57.6])
    from datetime import datetime

    ws.append([_code(mc, 8_100_002), datetime(2025, 2, 3, 10, 5), 57.6])
    out = io.BytesIO()
    wb.save(out)
    before = site.store.head().event_count
    response = _post(client, "commissioning", out.getvalue(), csrf_of(client, "/my/upload"))
    assert response.status_code == 200 and "已接受" in response.text  # type: ignore[attr-defined]
    assert site.store.head().event_count == before + 2


def test_invalid_upload_reports_every_row_in_the_users_language_and_writes_nothing(
    site: Site,
) -> None:
    client = site.login("maker", lang="zh_CN")
    mc = _maker_code(site)
    rows = [
        f"{_code(mc, 8_200_001)},2025-02-01 08:00,LFP,150",
        "M1JPB12XXXX,2025-02-01 08:00,LFP,150",  # row 3: bad code
        f"{_code(mc, 8_200_003)},,LFP,150",  # row 4: time missing
        f"{_code(mc, 8_200_004)},2025-02-01 08:00,LFP,-5",  # row 5: negative number
    ]
    body = "code,time,chemistry,rated_capacity_ah\n" + "\n".join(rows) + "\n"
    head = site.store.head()
    response = _post(client, "commissioning", body.encode(), csrf_of(client, "/my/upload"))
    text = response.text  # type: ignore[attr-defined]
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert 'data-upload-result="rejected"' in text and "发现 3 个问题" in text
    for row, reason in (("3", "不是有效的电池编码"), ("4", "为必填项"), ("5", "必须是正数")):
        assert f'<td class="num">{row}</td>' in text and reason in text
    assert "未记录任何数据" in text
    assert site.store.head() == head


def test_rows_the_ledger_refuses_are_mapped_back_and_nothing_is_written(site: Site) -> None:
    client = site.login("maker")
    mc = _maker_code(site)
    other = next(
        c
        for e in site.store.list_enterprises("battery_maker")
        for c in e.manufacturer_codes
        if c != mc
    )
    body = f"code,time\n{_code(mc, 8_300_001)},2025-02-01 08:00\n{_code(other, 8_300_002)},2025-02-01 08:00\n"
    head = site.store.head()
    response = _post(client, "commissioning", body.encode(), csrf_of(client, "/my/upload"))
    text = response.text  # type: ignore[attr-defined]
    assert response.status_code == 422 and '<td class="num">3</td>' in text  # type: ignore[attr-defined]
    assert "refused by the ledger" in text and f"manufacturer code {other}" in text
    assert site.store.head() == head


def test_whole_file_problems_and_csrf(site: Site) -> None:
    client = site.login("maker")
    csrf = csrf_of(client, "/my/upload")
    unknown = _post(client, "commissioning", b"code,time,colour\n", csrf)
    assert unknown.status_code == 422 and "Unknown column" in unknown.text  # type: ignore[attr-defined]
    missing = _post(client, "commissioning", b"chemistry\nLFP\n", csrf)
    assert "Missing column" in missing.text  # type: ignore[attr-defined]
    empty = _post(client, "commissioning", b"code,time\n", csrf)
    assert "no data rows" in empty.text  # type: ignore[attr-defined]
    not_xlsx = _post(client, "commissioning", b"PK\x03\x04garbage", csrf)
    assert "Excel file cannot be read" in not_xlsx.text  # type: ignore[attr-defined]
    gbk = _post(client, "commissioning", "电池编码,发生时间\n".encode("gb18030"), csrf)
    assert "no data rows" in gbk.text  # type: ignore[attr-defined]
    forged = _post(client, "commissioning", b"code,time\n", "not-the-token")
    assert forged.status_code == 403  # type: ignore[attr-defined]
    wrong_role = _post(client, "selling", b"vin,time\n", csrf)
    assert wrong_role.status_code == 404  # type: ignore[attr-defined]


def test_api_keys_create_list_revoke(site: Site) -> None:
    from battrace.services import keys

    client = site.login("maker")
    csrf = csrf_of(client, "/my/upload")
    created = client.post("/my/keys", data={"csrf_token": csrf, "action": "create", "name": "ERP"})
    assert created.status_code == 200
    secret = re.search(r'value="(btk_[^"]+)" class="code"', created.text)
    assert secret and keys.authenticate(site.store, secret.group(1)) is not None
    key_id = secret.group(1).split("_")[1]
    listed = client.get("/my/keys")
    assert f"btk_{key_id}_" in listed.text and secret.group(1) not in listed.text  # shown once
    other = site.login("dealer")
    foreign = other.post(
        "/my/keys",
        data={"csrf_token": csrf_of(other, "/my/upload"), "action": "revoke", "key_id": key_id},
    )
    assert foreign.status_code == 403
    assert keys.authenticate(site.store, secret.group(1)) is not None
    revoked = client.post(
        "/my/keys",
        data={"csrf_token": csrf, "action": "revoke", "key_id": key_id},
        follow_redirects=False,
    )
    assert revoked.status_code == 303 and keys.authenticate(site.store, secret.group(1)) is None
    assert client.post("/my/keys", data={"action": "create"}).status_code == 403  # no CSRF token
