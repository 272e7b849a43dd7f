"""Per-key rate limits: a token bucket per API key.

A key may make ``rate`` requests per second on average with bursts of up to ``burst``; beyond
that the request is refused with 429 and ``Retry-After`` (whole seconds until a token is back).

:class:`RateLimiter` keeps the buckets in the serving process. With ``battrace serve --workers N``
the kernel spreads one key's connections over all workers, so the workers share one
:class:`SharedRateLimiter` instead: the buckets live in shared memory created by the supervisor
before it starts the workers, so a key's limit is the configured one, not N times it.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from multiprocessing.context import SpawnContext
from typing import Protocol


class Limiter(Protocol):
    def take(self, key: str) -> float:
        """Take one token for ``key``: 0.0 if allowed, else the seconds to wait."""
        ...


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0.0 if allowed, else the seconds to wait."""
        now = self.clock()
        with self._lock:
            tokens, updated = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - updated) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:  # bound memory: forget full buckets
                self._buckets = {
                    k: v for k, v in self._buckets.items() if v[0] < self.burst - 1 or k == key
                }
            return (1.0 - tokens) / self.rate


class SharedRateLimiter:
    """Token buckets in shared memory for the worker processes of one server.

    An open-addressing table of ``slots`` buckets (key hash, tokens, last update), guarded by one
    process-shared lock; ``time.monotonic`` is the system-wide clock, so every worker sees the same
    time. A key probes ``PROBES`` slots from its hash; when all are taken by other keys, the bucket
    refilled the longest ago is reused (a full bucket holds no state worth keeping, so this is
    exact unless more than ``PROBES`` keys in one neighbourhood are all mid-burst).
    Create it in the supervisor; pass it to the workers as a ``Process`` argument.
    """

    PROBES = 16

    def __init__(self, rate: float, burst: int, ctx: SpawnContext, *, slots: int = 1 << 16) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.slots = slots
        self._hashes = ctx.RawArray("Q", slots)
        self._tokens = ctx.RawArray("d", slots)
        self._updated = ctx.RawArray("d", slots)
        self._lock = ctx.Lock()

    @staticmethod
    def _hash(key: str) -> int:
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") | 1  # 0 marks an empty slot

    def _slot(self, h: int) -> tuple[int, bool]:
        """(slot, found) for hash ``h``: its own slot, else an empty or the stalest one."""
        hashes, updated = self._hashes, self._updated
        free = -1
        stalest, oldest = -1, math.inf
        for i in range(self.PROBES):
            slot = (h + i) % self.slots
            held = hashes[slot]
            if held == h:
                return slot, True
            if held == 0:
                if free < 0:
                    free = slot
            elif updated[slot] < oldest:
                stalest, oldest = slot, updated[slot]
        return (free if free >= 0 else stalest), False

    def take(self, key: str) -> float:
        h = self._hash(key)
        now = time.monotonic()
        with self._lock:
            slot, found = self._slot(h)
            if found:
                elapsed = now - float(self._updated[slot])
                tokens = min(float(self.burst), float(self._tokens[slot]) + elapsed * self.rate)
            else:
                self._hashes[slot] = h
                tokens = float(self.burst)
            self._updated[slot] = now
            if tokens >= 1.0:
                self._tokens[slot] = tokens - 1.0
                return 0.0
            self._tokens[slot] = tokens
            return (1.0 - tokens) / self.rate


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
