"""CPU time the service's processes used during a run, from /proc/<pid>/stat, and what it is per request."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

CLOCK_TICKS_PER_SECOND: Final = os.sysconf("SC_CLK_TCK")


def cpu_ticks(stat: str) -> int:
    """utime + stime (fields 14 and 15 of a /proc/<pid>/stat line), in clock ticks.

    Fields are counted after the last ")": the command name before it may hold spaces and parentheses.
    """
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields[0] is field 3 (state)


@dataclass(frozen=True)
class CpuSample:
    ticks: Mapping[int, int]  # pid -> utime + stime so far
    at: float  # time.monotonic()

    @classmethod
    def take(cls, pids: Iterable[int]) -> CpuSample:
        """The processes' CPU time now; a pid that has exited is left out."""
        ticks = {}
        for pid in pids:
            try:
                ticks[pid] = cpu_ticks(Path(f"/proc/{pid}/stat").read_text())
            except OSError:
                continue
        return cls(ticks, time.monotonic())


@dataclass(frozen=True)
class CpuUse:
    """What the processes used between two samples, for `requests` completed requests."""

    seconds: float  # CPU seconds, all processes together
    wall_seconds: float
    requests: int
    lost_pids: tuple[int, ...] = ()  # exited between the samples: their last ticks are not counted

    @classmethod
    def between(
        cls, before: CpuSample, after: CpuSample, requests: int, ticks_per_second: int = CLOCK_TICKS_PER_SECOND
    ) -> CpuUse:
        # A process that started in between (a restarted worker) used all its ticks in the window.
        ticks = sum(used - before.ticks.get(pid, 0) for pid, used in after.ticks.items())
        lost = tuple(sorted(set(before.ticks) - set(after.ticks)))
        return cls(ticks / ticks_per_second, after.at - before.at, requests, lost)

    @property
    def ms_per_request(self) -> float | None:
        return self.seconds * 1000 / self.requests if self.requests else None

    @property
    def busy_cpus(self) -> float:
        """CPU seconds used per wall second: how many CPUs the processes kept busy on average."""
        return self.seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def requests_per_cpu(self, requests_per_second: float) -> float | None:
        """`requests_per_second` divided by the CPUs kept busy: the rate one fully used vCPU would serve."""
        busy = self.busy_cpus
        return requests_per_second / busy if busy > 0 else None

    def as_json(self) -> dict[str, Any]:
        per_request = self.ms_per_request
        return {
            "cpu_seconds": round(self.seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3),
            "requests": self.requests,
            "cpu_ms_per_request": None if per_request is None else round(per_request, 3),
            "busy_cpus": round(self.busy_cpus, 3),
            "lost_pids": list(self.lost_pids),
        }
