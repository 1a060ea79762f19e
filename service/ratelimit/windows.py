"""Per-minute request and token windows on the `limits` library (sliding window counters).

Sliding window counters keep two integers per key and take a cost, so a token limit is one Redis
script call whatever the request size (a moving window would store one entry per token).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from service.ratelimit.headers import WindowReport
from service.state import Store


@dataclass(frozen=True)
class Window:
    kind: str  # "requests" | "tokens"
    item: RateLimitItem


class MinuteWindows:
    """Requests-per-minute and tokens-per-minute windows under one namespace (a client, or the fleet)."""

    def __init__(self, store: Store, namespace: str) -> None:
        self._store = store
        self._namespace = namespace
        self._limiter = SlidingWindowCounterRateLimiter(store.limits_storage())

    @staticmethod
    def window(kind: str, per_minute: int) -> Window:
        return Window(kind, RateLimitItemPerMinute(per_minute, namespace=kind))

    async def hit(self, window: Window, identity: str, cost: int) -> bool:
        if cost == 0:
            return True
        return await self._store.guard(lambda: self._limiter.hit(window.item, self._namespace, identity, cost=cost))

    async def report(self, window: Window, identity: str) -> WindowReport:
        stats = await self._store.guard(lambda: self._limiter.get_window_stats(window.item, self._namespace, identity))
        return WindowReport(
            kind=window.kind,
            limit=window.item.amount,
            remaining=int(stats.remaining),
            reset_seconds=max(0.0, stats.reset_time - time.time()),
        )

    async def refund(self, window: Window, identity: str, cost: int) -> None:
        """Give back `cost` (a negative hit, which the counter scripts apply without a limit check)."""
        if cost > 0:
            await self.hit(window, identity, -cost)
