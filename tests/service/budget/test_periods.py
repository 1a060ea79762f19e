"""Budget and usage windows: the UTC day and month, including the turn of a month and a year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.budget.periods import current_windows


@pytest.mark.parametrize(
    ("now", "day", "next_day", "month", "next_month"),
    [
        (
            datetime(2026, 11, 21, 13, 5, tzinfo=UTC),
            "2026-11-21",
            datetime(2026, 11, 22, tzinfo=UTC),
            "2026-11",
            datetime(2026, 12, 1, tzinfo=UTC),
        ),
        (
            datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
            "2026-12-31",
            datetime(2027, 1, 1, tzinfo=UTC),
            "2026-12",
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
        (
            datetime(2028, 2, 29, 0, 0, tzinfo=UTC),
            "2028-02-29",
            datetime(2028, 3, 1, tzinfo=UTC),
            "2028-02",
            datetime(2028, 3, 1, tzinfo=UTC),
        ),
        # 01:30 in UTC+2 is still the previous UTC day.
        (
            datetime(2026, 12, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
            "2026-11-30",
            datetime(2026, 12, 1, tzinfo=UTC),
            "2026-11",
            datetime(2026, 12, 1, tzinfo=UTC),
        ),
    ],
)
def test_windows_are_utc_days_and_months(
    now: datetime, day: str, next_day: datetime, month: str, next_month: datetime
) -> None:
    today, this_month = current_windows(now)
    assert (today.period, today.label, today.resets_at) == ("day", day, next_day)
    assert (this_month.period, this_month.label, this_month.resets_at) == ("month", month, next_month)
    assert today.ttl_seconds(now) > 0
