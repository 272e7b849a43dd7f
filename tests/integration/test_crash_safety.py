"""kill -9 during a long multi-capture run, 20 times: every acknowledged capture is complete,
none is partial, and `verify` passes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from battrace.persistence import open_store
from battrace.services.verify import verify

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_kill_9_never_loses_or_splits_an_acknowledged_capture(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.sqlite'}"
    store = open_store(url)
    store.migrate()
    acks = tmp_path / "acks.txt"
    rng = random.Random(20)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for run in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.crash_worker", url, str(acks), str(run)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
        )
        before = acks.read_text().count("\n") if acks.exists() else 0
        deadline = time.monotonic() + 30
        # Wait until this run has acknowledged at least one capture, then kill at a random moment.
        while (acks.read_text().count("\n") if acks.exists() else 0) <= before:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "worker made no progress"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    acknowledged = [line.split() for line in acks.read_text().splitlines() if line.strip()]
    assert len(acknowledged) >= 20
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = dict(
            conn.exec_driver_sql(
                "SELECT c.capture_id, COUNT(e.seq) FROM captures c "
                "LEFT JOIN events e ON e.capture_seq = c.seq GROUP BY c.capture_id"
            ).all()
        )
        declared = dict(conn.exec_driver_sql("SELECT capture_id, event_count FROM captures").all())
    engine.dispose()
    for capture_id, count in acknowledged:
        assert counts.get(capture_id) == int(count), (
            f"acknowledged capture {capture_id} is lost or partial"
        )
    assert all(counts[c] == declared[c] for c in declared), "a stored capture is partial"
    report = verify(open_store(url))
    assert report.ok, report.problem
