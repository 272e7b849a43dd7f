"""Synthetic data at every scale: the national-scale simulator (``battrace simulate``).

Drives the real lifecycle — the same event builders, the ledger's own capture path — with a
fleet drawn from the forecast's data (CAAM sales, segment/chemistry/province mix, Weibull
lives), enterprises of every role placed by province, informal leakage and injected violations
whose ground truth is written separately. See docs/simulator.md.
"""

from __future__ import annotations

from battrace.simulate.simulation import (
    DEFAULT_FORMAL_SHARE,
    SCALES,
    SimConfig,
    Simulation,
    Summary,
    simulate,
)
from battrace.simulate.violations import ALERT_KINDS, DEFAULT_RATE, Violations

__all__ = [
    "ALERT_KINDS",
    "DEFAULT_FORMAL_SHARE",
    "DEFAULT_RATE",
    "SCALES",
    "SimConfig",
    "Simulation",
    "Summary",
    "Violations",
    "simulate",
]
