"""Where the third-party reference data (EPCIS 2.0 examples and schemas, BatteryPass, Catena-X,
IDTA) lies: ``$BATTRACE_REFERENCE`` if set, else ``shared/reference`` beside the checkout (the
workspace layout), else the workspace's ``/work/shared/reference``. Tests that need it skip with
the path in the reason when none exists; it is never copied into the repository."""

from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]


def _find() -> Path:
    configured = os.environ.get("BATTRACE_REFERENCE")
    if configured:
        return Path(configured)
    candidates = [_REPO.parent / "shared" / "reference", Path("/work/shared/reference")]
    return next((c for c in candidates if c.is_dir()), candidates[0])


REFERENCE = _find()
EPCIS = Path(os.environ.get("BATTRACE_EPCIS_REFERENCE") or REFERENCE / "epcis")
