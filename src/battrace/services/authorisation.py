"""Who may report what, checked for every event before anything is written.

This module holds the checks the ledger itself needs: the reporter is a registered enterprise, the
sites it reports from are its own, and only the holder of a manufacturer code commissions codes
under it. The full role × business-step table of the HTTP interface builds on this.
"""

from __future__ import annotations

from collections.abc import Callable

from battrace.domain.epcis import vocab
from battrace.domain.epcis.event import Event
from battrace.domain.errors import NotAuthorised
from battrace.domain.identities.uris import parse_uri
from battrace.persistence.base import EnterpriseRow

CodeOwner = Callable[[str], str | None]


def _party_of(uri: str | None) -> str | None:
    if uri is None or not uri.startswith("urn:uscc:"):
        return None
    return parse_uri(uri).party


def check_event(event: Event, path: str, reporter: EnterpriseRow, owner_of: CodeOwner) -> None:
    """Raise :class:`NotAuthorised` when ``reporter`` may not report ``event``."""
    for field, uri in (("readPoint.id", event.read_point), ("bizLocation.id", event.biz_location)):
        party = _party_of(uri)
        if party is not None and party != reporter.uscc:
            raise NotAuthorised(
                f"{path}.{field}",
                f"{uri} belongs to enterprise {party.removeprefix('urn:uscc:')}, "
                f"not to the reporting enterprise {reporter.uscc}",
            )
    new_codes: list[tuple[str, str]] = []
    if event.biz_step == "commissioning" and event.action == "ADD":
        new_codes = [(f"{path}.epcList[{i}]", e) for i, e in enumerate(event.epc_list)]
    elif event.biz_step == vocab.BIZSTEP_RECODING:
        # Cascade re-coding creates new codes: the same rule as commissioning applies to them.
        # (Other transformations, such as dismantling, output codes that already exist.)
        new_codes = [(f"{path}.outputEPCList[{i}]", e) for i, e in enumerate(event.output_epcs)]
    for field, uri in new_codes:
        if not uri.startswith("urn:gbt34014:"):
            continue
        maker = uri[len("urn:gbt34014:") :][:3]
        owner = owner_of(maker)
        if owner is None:
            raise NotAuthorised(field, f"manufacturer code {maker} is not registered to anyone")
        if owner != reporter.uscc:
            raise NotAuthorised(
                field,
                f"manufacturer code {maker} is registered to {owner}, not to the reporting "
                f"enterprise {reporter.uscc}",
            )
