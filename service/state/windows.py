"""Per-minute sliding-window counters: what was taken in the last minute, approximately, in two integers.

The algorithm of the `limits` library's SlidingWindowCounter, which these replace (it takes one round
trip per window, and a request touches four). Each window keeps the count of the current clock minute
and of the one before; a take is checked against the previous count weighted by the part of it still
inside the last 60 seconds, plus the current count:

    weighted = floor(previous * left_ms / 60000) + current        (left_ms: of the current minute)

and is refused when `cost > limit` or `weighted + cost > limit`. A refund is a take of a negative cost.
Minutes follow the clock: Redis's own (`TIME`) in the Lua script (service.state.scripts), `time.time()`
in `MemoryStore`, which both implement `take` exactly so; the reports below serve both.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_MS = 60_000


@dataclass(frozen=True)
class WindowTake:
    """Take `cost` (negative: give back) from the window at `key`, if the result stays within `limit`."""

    key: str
    limit: int
    cost: int


@dataclass(frozen=True)
class WindowState:
    """A window's two counts and how much of the current minute is left, as read at one instant."""

    previous: int
    current: int
    left_ms: int

    @property
    def weighted(self) -> int:
        return self.previous * self.left_ms // WINDOW_MS + self.current

    def fits(self, cost: int, limit: int) -> bool:
        return cost <= limit and self.weighted + cost <= limit

    def remaining(self, limit: int) -> int:
        return max(0, limit - self.weighted)

    def reset_seconds(self) -> float:
        """Until the weighted count next drops: limits' `get_window_stats` on these counts (0 when empty)."""
        left = self.left_ms / 1000
        resets = [left] if self.current else []  # the current count stops counting fully at the minute's end
        if self.previous > 0:  # the weighted previous count loses one every 60/previous seconds
            resets.append(left % (WINDOW_MS / 1000 / self.previous))
        return min(resets, default=0.0)


def clock(now_ms: int) -> tuple[int, int]:
    """The current minute's number and the milliseconds left in it."""
    return now_ms // WINDOW_MS, WINDOW_MS - now_ms % WINDOW_MS


def counts_at(stored: tuple[int, int, int] | None, minute: int) -> tuple[int, int]:
    """(previous, current) of a window stored as (minute last written in, that minute's count, the one before's)."""
    if stored is None:
        return 0, 0
    at, current, previous = stored
    if at == minute:
        return previous, current
    if at == minute - 1:
        return current, 0
    return 0, 0
