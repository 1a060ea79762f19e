"""Budget and usage periods: the UTC day and the UTC calendar month, with their keys and resets."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

Period = Literal["day", "month"]
_GRACE = timedelta(days=2)  # counters outlive their period a little, for late settlements and reports


@dataclass(frozen=True)
class PeriodWindow:
    period: Period
    label: str  # 2025-06-01 or 2025-06
    resets_at: datetime

    def ttl_seconds(self, now: datetime, *, keep: timedelta = _GRACE) -> int:
        return int((self.resets_at - now + keep).total_seconds())


def current_windows(now: datetime | None = None) -> tuple[PeriodWindow, PeriodWindow]:
    """Today's and this month's windows (UTC)."""
    return _windows_of((now or datetime.now(UTC)).astimezone(UTC).date())


@functools.lru_cache(maxsize=4)  # several calls per request, all on the same day
def _windows_of(day: date) -> tuple[PeriodWindow, PeriodWindow]:
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    next_day = day_start + timedelta(days=1)
    month_start = day_start.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    return (
        PeriodWindow("day", day_start.strftime("%Y-%m-%d"), next_day),
        PeriodWindow("month", month_start.strftime("%Y-%m"), next_month),
    )
