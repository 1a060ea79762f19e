"""What the benchmark concludes from the service's log: Redis trouble makes production figures suspect."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import state_trouble

QUIET = '{"event": "request", "status": 200}\n'
FAIL_OPEN = '{"event": "state_fail_open", "component": "rate limit"}\n'
BUSY = '{"event": "state_pool_exhausted", "calls_so_far": 3}\n'


def test_a_run_without_redis_trouble_has_no_note(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_text(QUIET * 3)
    assert state_trouble(log, 0) is None


def test_redis_trouble_after_the_offset_is_counted_by_event(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_text(FAIL_OPEN + QUIET)
    offset = log.stat().st_size
    with log.open("a") as more:
        more.write(QUIET + BUSY + BUSY + FAIL_OPEN)
    note = state_trouble(log, offset)
    assert note is not None
    assert "state_fail_open x1" in note
    assert "state_pool_exhausted x2" in note
