"""The one way to build a :class:`~battrace.services.capture.Ledger` that captures real data.

Every such ledger carries the regulation engine (:class:`battrace.services.alerts.CaptureObserver`)
so alerts are computed incrementally, inside each capture's transaction: the CLI ``capture``, the
HTTP interface, the demo loader and the simulator all build their ledger here, and a new call site
cannot forget the engine. A bare ``Ledger(store)`` (no engine) is for tests of the ledger itself;
a ledger captured without the engine is detected and repaired with
``battrace alerts rebuild --from-events`` (docs/supervision.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from battrace.config import Settings
from battrace.domain.rules import RuleSet, load_rulebooks
from battrace.persistence.base import Store
from battrace.services.alerts import CaptureObserver as RegulationEngine
from battrace.services.capture import CaptureObserver, Ledger


def ledger_for(
    store: Store,
    settings: Settings | None = None,
    *,
    extra_observers: Sequence[CaptureObserver] = (),
    rules: RuleSet | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Ledger:
    """A ledger over ``store`` with the regulation engine attached after ``extra_observers``.

    ``rules`` defaults to the packaged rulebooks plus ``settings.rulebooks``
    (``BATTRACE_RULEBOOKS``); one engine per ledger: it caches the evaluation context between
    captures. A local rulebook that does not validate raises :class:`RulebookError` here.
    """
    settings = settings or Settings.from_env(store.url)
    engine = RegulationEngine(rules if rules is not None else load_rulebooks(settings.rulebooks))
    return Ledger(store, settings, clock=clock, observers=[*extra_observers, engine])


__all__ = ["ledger_for"]
