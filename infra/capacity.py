"""What one task can serve, as measured: the autoscaling target is derived from it, not guessed.

`REQUESTS_PER_SECOND_PER_VCPU` is the sizing line `make bench` printed (bench/scenarios.py
`SIZING_SCENARIO`: streamed chat completions at concurrency 50, in the production configuration, with
Redis, per-client limits, budgets and the response cache on). It is the service's requests per second
divided by the CPUs its processes kept busy. docs/infrastructure.md shows the arithmetic; re-run the
benchmark and update both when the hot path changes.
"""

from __future__ import annotations

from typing import Final

MEASURED_ON: Final = "2026-12-01"
REQUESTS_PER_SECOND_PER_VCPU: Final = 164  # sizing line of `make bench`, 2026-12-01 22:07 UTC
CPU_UNITS_PER_VCPU: Final = 1024


def requests_per_target(cpu_units: int, cpu_target_percent: int) -> int:
    """ALB requests per task per minute at which the task's CPU sits at `cpu_target_percent`.

    The same utilisation the CPU policy aims at, so the two target-tracking policies agree on when to scale.
    """
    per_second = REQUESTS_PER_SECOND_PER_VCPU * cpu_units / CPU_UNITS_PER_VCPU * cpu_target_percent / 100
    return max(1, int(per_second * 60))
