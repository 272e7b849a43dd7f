"""The enterprise registry: validated before it is stored."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select, update

from battrace.domain.errors import InvalidInput
from battrace.domain.identities.divisions import province_by_code
from battrace.domain.identities.uscc import validate_uscc
from battrace.persistence import schema as t
from battrace.persistence.base import EnterpriseRow, Store

ROLES = (
    "battery_maker",
    "automaker",
    "importer",
    "dealer",
    "repairer",
    "swap_operator",
    "dismantler",
    "recycling_outlet",
    "cascade_user",
    "recycler",
    "regulator_national",
    "regulator_provincial",
)
QUALIFICATION_KINDS = ("cascade_use", "recycling")
CSV_COLUMNS = (
    "uscc",
    "name_zh",
    "name_en",
    "province",
    "roles",
    "manufacturer_codes",
    "sites",
    "qualifications",
)


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [
            p.strip() for p in value.replace(";", ",").replace("|", ",").split(",") if p.strip()
        ]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise InvalidInput("list", "must be a list of strings or a comma-separated string")


def _qualification_extras(q: Mapping[str, Any], when: date, field: str) -> dict[str, Any]:
    """The optional keys of a qualification: ``valid_to`` (last day it qualifies, inclusive),
    ``capacity_t`` (registered treatment capacity, t/yr) and ``application`` (the whitelist
    application it was announced from)."""
    out: dict[str, Any] = {}
    if q.get("valid_to") not in (None, ""):
        try:
            until = date.fromisoformat(str(q["valid_to"]))
        except ValueError:
            raise InvalidInput(
                f"{field}.valid_to", f"{q['valid_to']!r} is not YYYY-MM-DD"
            ) from None
        if until < when:
            raise InvalidInput(f"{field}.valid_to", f"{until} is before the date {when}")
        out["valid_to"] = until.isoformat()
    cap = q.get("capacity_t")
    if cap is not None:
        if isinstance(cap, bool) or not isinstance(cap, int | float) or not 0 <= cap < 1e9:
            raise InvalidInput(f"{field}.capacity_t", "must be a number >= 0 (t/yr)")
        out["capacity_t"] = float(cap)
    app = q.get("application")
    if app is not None:
        if isinstance(app, bool) or not isinstance(app, int) or app < 1:
            raise InvalidInput(f"{field}.application", "must be an application id")
        out["application"] = app
    return out


def _qualifications(value: Any, field: str) -> list[dict[str, Any]]:
    """Whitelist qualifications: dicts, or text ``kind:batch:YYYY-MM-DD[:valid_to]`` separated
    by ``;``.

    kind is cascade_use or recycling; batch is the announcement batch number (公告批次); the
    date is the announcement date, from which the enterprise qualifies, until ``valid_to`` if
    given. Dicts may also carry ``capacity_t`` and ``application``.
    """
    if not value:
        return []
    items: list[Any]
    if isinstance(value, str):
        items = []
        for part in (p.strip() for p in value.split(";")):
            if not part:
                continue
            bits = part.split(":")
            if len(bits) not in (3, 4):
                raise InvalidInput(field, f"{part!r} is not kind:batch:YYYY-MM-DD[:YYYY-MM-DD]")
            item = {"kind": bits[0], "batch": bits[1], "date": bits[2]}
            if len(bits) == 4:
                item["valid_to"] = bits[3]
            items.append(item)
    elif isinstance(value, list):
        items = value
    else:
        raise InvalidInput(field, "must be a list or text kind:batch:YYYY-MM-DD;…")
    out = []
    for q in items:
        if not isinstance(q, dict) or q.get("kind") not in QUALIFICATION_KINDS:
            raise InvalidInput(field, "each needs kind cascade_use or recycling")
        try:
            batch = int(q.get("batch", 0))
            when = date.fromisoformat(str(q.get("date")))
        except (TypeError, ValueError):
            raise InvalidInput(
                field, f"{q!r}: batch must be a number and date YYYY-MM-DD"
            ) from None
        if batch < 1:
            raise InvalidInput(field, f"batch {batch} must be 1 or more")
        extras = _qualification_extras(q, when, field)
        out.append({"kind": q["kind"], "batch": batch, "date": when.isoformat(), **extras})
    return out


def in_force(qualification: Mapping[str, Any], day: date) -> bool:
    """Whether a qualification holds on ``day``: from its date to its valid_to (inclusive)."""
    try:
        start = qualification.get("date")
        until = qualification.get("valid_to")
        if start and date.fromisoformat(str(start)) > day:
            return False
        return not (until and date.fromisoformat(str(until)) < day)
    except ValueError:
        return False


def qualifies(row: EnterpriseRow, kind: str, day: date) -> bool:
    """Whether ``row`` holds a ``kind`` qualification on ``day``."""
    return any(
        isinstance(q, dict) and q.get("kind") == kind and in_force(q, day)
        for q in row.qualifications
    )


def record_qualification(conn: Connection, uscc: str, qualification: Mapping[str, Any]) -> None:
    """Record a whitelist qualification on a registered enterprise, inside the caller's
    transaction. It replaces the enterprise's earlier qualification of the same kind (a new
    announcement supersedes the old one, so capacities are not counted twice). The row's
    ``created_at`` moves, which tells the regulation engine's registry cache to reload."""
    row = conn.execute(
        select(t.enterprises.c.qualifications).where(t.enterprises.c.uscc == uscc)
    ).first()
    if row is None:
        raise InvalidInput("uscc", f"{uscc} is not a registered enterprise")
    (new,) = _qualifications([dict(qualification)], "qualification")
    kept = [q for q in orjson.loads(row.qualifications) if q.get("kind") != new["kind"]]
    conn.execute(
        update(t.enterprises)
        .where(t.enterprises.c.uscc == uscc)
        .values(
            qualifications=orjson.dumps([*kept, new]).decode(),
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
    )


def build_enterprise(data: Mapping[str, Any], where: str = "") -> EnterpriseRow:
    """Validate one enterprise record (from the CLI, a CSV row or the demo)."""
    pre = f"{where}." if where else ""
    uscc = validate_uscc(str(data.get("uscc", "")).strip())
    name_zh = str(data.get("name_zh") or "").strip()
    if not name_zh:
        raise InvalidInput(f"{pre}name_zh", "is required")
    province = str(data.get("province") or uscc[2:4]).strip()
    if province_by_code(province) is None:
        raise InvalidInput(f"{pre}province", f"{province!r} is not a GB/T 2260 province code")
    try:
        roles = _split(data.get("roles"))
        codes = [c.upper() for c in _split(data.get("manufacturer_codes"))]
        site_ids = data.get("sites") or []
        sites = (
            [s if isinstance(s, dict) else {"id": s} for s in _split(site_ids)]
            if isinstance(site_ids, str)
            else [s if isinstance(s, dict) else {"id": str(s)} for s in site_ids]
        )
    except InvalidInput as exc:
        raise InvalidInput(f"{pre}{exc.field}", exc.reason) from None
    if not roles:
        raise InvalidInput(f"{pre}roles", f"at least one of: {', '.join(ROLES)}")
    for role in roles:
        if role not in ROLES:
            raise InvalidInput(f"{pre}roles", f"{role!r} is not a role ({', '.join(ROLES)})")
    for code in codes:
        if len(code) != 3 or not code.isalnum() or not code.isascii():
            raise InvalidInput(f"{pre}manufacturer_codes", f"{code!r} is not a 3-character code")
    quals = _qualifications(data.get("qualifications"), f"{pre}qualifications")
    return EnterpriseRow(
        uscc=uscc,
        name_zh=name_zh,
        name_en=str(data.get("name_en") or "").strip(),
        province=province,
        roles=sorted(set(roles)),
        manufacturer_codes=sorted(set(codes)),
        sites=sites,
        qualifications=quals,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )


def register(store: Store, records: Iterable[Mapping[str, Any]]) -> int:
    """Validate every record first, then store them all in one transaction (or none)."""
    rows = [build_enterprise(r, f"row {i + 1}") for i, r in enumerate(records)]
    store.put_enterprises(rows)
    return len(rows)


def read_csv(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("uscc", "name_zh", "roles") if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput("header", f"missing column(s): {', '.join(missing)}")
    return [dict(r) for r in reader]
