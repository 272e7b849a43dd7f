"""Per-key rate limits: a token bucket per API key, in the serving process.

A key may make ``rate`` requests per second on average with bursts of up to ``burst``; beyond
that the request is refused with 429 and ``Retry-After`` (whole seconds until a token is back).
With ``battrace serve --workers N`` each worker keeps its own buckets, so the effective limit of
a key is up to N times the configured one; put a shared limiter (the reverse proxy) in front when
that matters.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


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


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
