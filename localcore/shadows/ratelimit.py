"""ShadowManager's inbound rate limits for local shadow requests (reference section 6.3/6.6).

Defaults as ShadowManager's ``rateLimits``: 20 requests/s per thing and 200 requests/s in total.
Token buckets whose burst equals the per-second rate; the clock is injected so tests need no sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_PER_THING_PER_SECOND = 20
DEFAULT_TOTAL_PER_SECOND = 200


@dataclass(frozen=True)
class RateLimits:
    """``maxLocalRequestsPerSecondPerThing`` and ``maxTotalLocalRequestsRate``."""

    per_thing_per_second: float = DEFAULT_PER_THING_PER_SECOND
    total_per_second: float = DEFAULT_TOTAL_PER_SECOND

    def __post_init__(self) -> None:
        for name in ("per_thing_per_second", "total_per_second"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"rate limit {name} must be a number > 0, got {value!r}")


class _Bucket:
    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = now

    def refill(self, now: float) -> None:
        # A clock that steps backwards must not mint tokens.
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(self.rate, self.tokens + elapsed * self.rate)
        self.stamp = max(self.stamp, now)


class InboundRateLimiter:
    """Admit or refuse one request for a thing; not thread-safe (the store calls it under its lock)."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self._limits = limits
        self._clock = clock
        self._total = _Bucket(limits.total_per_second, clock())
        self._things: dict[str, _Bucket] = {}

    def try_acquire(self, thing: str) -> bool:
        """Take a token from the thing's and the total bucket; False if either is empty."""
        now = self._clock()
        bucket = self._things.get(thing)
        if bucket is None:
            bucket = self._things[thing] = _Bucket(self._limits.per_thing_per_second, now)
        bucket.refill(now)
        self._total.refill(now)
        if bucket.tokens < 1 or self._total.tokens < 1:
            return False
        bucket.tokens -= 1
        self._total.tokens -= 1
        return True
