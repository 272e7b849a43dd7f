"""Cyclic garbage collection paused around a bounded burst of allocation.

A capture or a full evaluation allocates millions of small objects that form no cycles (events,
identifier tuples, views, facts, stock deltas, findings) and that all live until it ends. The
collector would walk them again and again for nothing: over a tenth of a bulk capture's time, and
15× the time of a parallel evaluation's merge (docs/performance.md, docs/supervision.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """The collector off for the block; whoever turned it off first turns it back on (a
    nested or concurrent pause leaves it to the outer one)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
