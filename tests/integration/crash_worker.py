"""Captures documents in a loop and records each acknowledged capture; killed by the crash test.

Usage: python -m tests.integration.crash_worker DB_URL ACKS_FILE RUN
"""

from __future__ import annotations

import os
import sys

import orjson

from battrace.domain.lifecycle import builders as b
from battrace.persistence import open_store
from battrace.services.capture import Ledger
from tests import scenario as sc


def main(url: str, acks_path: str, run: int) -> None:
    store = open_store(url)
    if store.get_enterprise(sc.MAKER) is None:
        sc.register_all(store)
    ledger = Ledger(store)
    with open(acks_path, "a", encoding="utf-8") as acks:
        batch = 0
        while True:
            base = run * 100_000 + batch * 50
            codes = [sc.code("C", base + k) for k in range(50)]
            events = [
                b.commission([c], site=sc.site(sc.MAKER), time=sc.at(k / 60))
                for k, c in enumerate(codes)
            ]
            result = ledger.capture_document(orjson.dumps(b.document(events)), sc.MAKER)
            assert result.ok and result.captured == 50, result
            # Acknowledged: only now may the client consider the capture done.
            acks.write(f"{result.capture_id} {result.captured}\n")
            acks.flush()
            os.fsync(acks.fileno())
            batch += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
