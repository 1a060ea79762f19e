"""CPU time per request from /proc/<pid>/stat: the parsing and the arithmetic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.cpu import CpuSample, CpuUse, cpu_ticks

# A real line's shape: utime (field 14) 1234 and stime (field 15) 567, then cutime/cstime, which are not ours.
STAT = (
    "4242 (gunicorn: worker [x]) S 4241 4241 4241 0 -1 4194560 9000 0 0 0 1234 567 88 99 20 0 3 0 "
    "87516 3133440 361 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
)


def test_ticks_are_utime_plus_stime_counted_after_the_command_name() -> None:
    assert cpu_ticks(STAT) == 1234 + 567


def test_a_command_name_with_a_closing_parenthesis_does_not_shift_the_fields() -> None:
    assert cpu_ticks(STAT.replace("(gunicorn: worker [x])", "(a) b) c)")) == 1801


def test_this_process_is_readable_and_its_ticks_grow_with_work() -> None:
    before = CpuSample.take([os.getpid()])
    deadline = os.times().elapsed + 0.3
    while os.times().elapsed < deadline:
        pass  # busy: about 30 ticks at 100 Hz
    after = CpuSample.take([os.getpid()])
    assert after.ticks[os.getpid()] > before.ticks[os.getpid()]
    assert cpu_ticks(Path("/proc/self/stat").read_text()) >= after.ticks[os.getpid()]


def test_a_process_that_is_gone_is_left_out() -> None:
    assert CpuSample.take([2**22 + 1]).ticks == {}  # above the kernel's largest pid


def test_cpu_use_per_request_and_per_wall_second() -> None:
    before = CpuSample({1: 100, 2: 1000}, at=10.0)
    after = CpuSample({1: 110, 2: 1290}, at=12.0)
    use = CpuUse.between(before, after, requests=600, ticks_per_second=100)
    assert use.seconds == pytest.approx(3.0)  # (10 + 290) ticks at 100 Hz
    assert use.ms_per_request == pytest.approx(5.0)
    assert use.busy_cpus == pytest.approx(1.5)
    # 300 req/s served with 1.5 CPUs busy: one vCPU serves 200.
    assert use.requests_per_cpu(300.0) == pytest.approx(200.0)


def test_a_worker_started_in_the_window_counts_whole_and_one_that_exited_is_reported() -> None:
    before = CpuSample({1: 100, 2: 50}, at=0.0)
    after = CpuSample({1: 150, 3: 20}, at=1.0)  # 2 exited, 3 replaced it
    use = CpuUse.between(before, after, requests=10, ticks_per_second=100)
    assert use.seconds == pytest.approx(0.7)
    assert use.lost_pids == (2,)


def test_no_requests_or_no_cpu_gives_no_ratio_rather_than_a_division_error() -> None:
    idle = CpuUse(seconds=0.0, wall_seconds=1.0, requests=0)
    assert idle.ms_per_request is None
    assert idle.requests_per_cpu(100.0) is None
    assert idle.as_json()["cpu_ms_per_request"] is None
