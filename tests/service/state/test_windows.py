"""The sliding-window arithmetic both backends share: limits' SlidingWindowCounter on clock minutes."""

from __future__ import annotations

import pytest

from service.state.windows import WindowState, clock, counts_at


def test_the_previous_minute_counts_for_the_part_of_it_still_inside_the_last_sixty_seconds() -> None:
    half_gone = WindowState(previous=30, current=10, left_ms=30_000)
    assert half_gone.weighted == 15 + 10
    assert half_gone.remaining(100) == 75
    assert half_gone.fits(75, 100)
    assert not half_gone.fits(76, 100)
    assert WindowState(previous=30, current=0, left_ms=1).weighted == 0  # floored, as limits does


@pytest.mark.parametrize(
    ("state", "cost", "limit", "fits"),
    [
        (WindowState(0, 0, 60_000), 4, 3, False),  # more than the whole limit never fits
        (WindowState(0, 3, 60_000), 0, 3, True),
        (WindowState(0, 3, 60_000), -1, 3, True),  # a refund
        (WindowState(0, 9, 60_000), -1, 3, False),  # limits' rule: still over the limit after the refund
    ],
)
def test_what_fits(state: WindowState, cost: int, limit: int, fits: bool) -> None:
    assert state.fits(cost, limit) is fits


@pytest.mark.parametrize(
    ("state", "reset"),
    [
        (WindowState(0, 0, 40_000), 0.0),  # nothing counted: nothing to wait for
        (WindowState(0, 5, 40_000), 40.0),  # the current minute's count leaves with the minute
        (WindowState(30, 0, 31_000), 1.0),  # the weighted previous count drops by one every 60/30 s
        (WindowState(30, 5, 31_000), 1.0),
        (WindowState(-4, 0, 31_000), 0.0),  # refunded below zero: nothing counted
    ],
)
def test_reset_is_when_the_weighted_count_next_drops(state: WindowState, reset: float) -> None:
    assert state.reset_seconds() == pytest.approx(reset)


def test_counts_shift_with_the_clock_minute() -> None:
    assert clock(120_500) == (2, 59_500)
    assert counts_at((7, 10, 3), 7) == (3, 10)
    assert counts_at((6, 10, 3), 7) == (10, 0)  # last minute's count is now the previous one
    assert counts_at((5, 10, 3), 7) == (0, 0)  # older than a minute ago: forgotten
    assert counts_at(None, 7) == (0, 0)
