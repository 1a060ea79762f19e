"""The benchmark's results: pass/fail against the targets, the printed table and the JSON file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.configurations import CONFIGURATIONS, IN_PROCESS, Configuration
from bench.connections import ConnectionSplit
from bench.cpu import CpuUse
from bench.redis_cost import RedisCost
from bench.scenarios import HIGH_CONCURRENCY, MAX_WORKER_PSS_MIB, SIZING_SCENARIO, Scenario
from bench.service import MemoryUse
from bench.ttft import TTFTResult
from bench.wrk import LoadResult


@dataclass(frozen=True)
class Target:
    description: str
    passed: bool | None  # None: a figure shown for information, with nothing to meet

    def __str__(self) -> str:
        verdict = {True: "PASS", False: "FAIL", None: "info:"}[self.passed]
        return f"{verdict} {self.description}"

    def as_json(self) -> dict[str, Any]:
        return {"description": self.description, "passed": self.passed}


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    configuration: Configuration = IN_PROCESS
    direct: LoadResult | None = None
    service: LoadResult | None = None
    skipped: str | None = None  # why it did not run, e.g. "n/a (no cache)"
    notes: tuple[str, ...] = ()
    direct_ttft: TTFTResult | None = None  # streamed scenarios: time to first token, one connection
    service_ttft: TTFTResult | None = None
    cpu: CpuUse | None = None  # the service's processes during the measured run
    split: ConnectionSplit | None = None  # high-concurrency runs: wrk's connections per worker, mid-run
    redis: RedisCost | None = None  # configurations with Redis

    def target(self) -> Target | None:
        if self.direct is None or self.service is None:
            return None
        clean = self.service.errors == 0
        suffix = "" if clean else f", but {self.service.errors} errors"
        if self.scenario.connections == 1:
            added = self.service.p50_ms - self.direct.p50_ms
            limit = self.scenario.max_added_p50_ms
            if limit is None:
                return Target(f"p50 {added:+.1f} ms{suffix}", None)
            return Target(f"p50 {added:+.1f} ms (<= {limit:g}){suffix}", clean and added <= limit)
        if self.scenario.connections >= HIGH_CONCURRENCY:
            direct_rps = self.direct.requests_per_second
            ratio = self.service.requests_per_second / direct_rps if direct_rps else 0.0
            minimum = self.scenario.throughput_target(production=self.configuration.production)
            if minimum is None:
                return Target(f"{ratio:.0%} of direct{suffix}", None)
            return Target(f"{ratio:.0%} of direct (>= {minimum:.0%}){suffix}", clean and ratio >= minimum)
        return None

    def requests_per_cpu(self) -> float | None:
        """Service req/s over the CPUs its processes kept busy in the same run."""
        if self.cpu is None or self.service is None:
            return None
        return self.cpu.requests_per_cpu(self.service.requests_per_second)

    def as_json(self) -> dict[str, Any]:
        target = self.target()
        per_cpu = self.requests_per_cpu()
        return {
            "scenario": self.scenario.name,
            "configuration": self.configuration.key,
            "connections": self.scenario.connections,
            "stream": self.scenario.stream,
            "direct": self.direct.as_json() if self.direct else None,
            "service": self.service.as_json() if self.service else None,
            "ttft": {
                "direct": self.direct_ttft.as_json() if self.direct_ttft else None,
                "service": self.service_ttft.as_json() if self.service_ttft else None,
            },
            "cpu": self.cpu.as_json() | {"requests_per_second_per_vcpu": per_cpu and round(per_cpu, 1)}
            if self.cpu
            else None,
            "connection_split": self.split.as_json() if self.split else None,
            "redis": self.redis.as_json() if self.redis else None,
            "skipped": self.skipped,
            "notes": list(self.notes),
            "target": target.as_json() if target else None,
        }


@dataclass
class Report:
    config: dict[str, Any]
    results: list[ScenarioResult] = field(default_factory=list)
    # configuration key -> worker pid -> memory at the end of that configuration's run
    worker_memory: dict[str, dict[int, MemoryUse | None]] = field(default_factory=dict)

    def memory_target(self, configuration: str) -> Target:
        sizes = [use.pss for use in self.worker_memory.get(configuration, {}).values() if use is not None]
        largest = max(sizes, default=0.0)
        passed = bool(sizes) and largest <= MAX_WORKER_PSS_MIB
        return Target(f"largest worker PSS {largest:.1f} MiB (<= {MAX_WORKER_PSS_MIB:g} MiB)", passed)

    def configurations(self) -> list[Configuration]:
        """The configurations that ran, in the order of CONFIGURATIONS."""
        ran = {result.configuration.key for result in self.results} | set(self.worker_memory)
        return [configuration for configuration in CONFIGURATIONS if configuration.key in ran]

    def sizing(self) -> ScenarioResult | None:
        """The production run of SIZING_SCENARIO, if it ran."""
        return next(
            (r for r in self.results if r.scenario == SIZING_SCENARIO and r.configuration.production and r.cpu),
            None,
        )

    def as_json(self) -> dict[str, Any]:
        sizing = self.sizing()
        per_cpu = sizing.requests_per_cpu() if sizing else None
        return {
            "config": self.config,
            "scenarios": [result.as_json() for result in self.results],
            "configurations": {
                configuration.key: {
                    "title": configuration.title,
                    "settings": dict(configuration.settings),
                    "worker_memory_mib": {
                        str(pid): use and vars(use)
                        for pid, use in self.worker_memory.get(configuration.key, {}).items()
                    },
                    "memory_target": self.memory_target(configuration.key).as_json(),
                }
                for configuration in self.configurations()
            },
            "sizing": {
                "scenario": SIZING_SCENARIO.label,
                "requests_per_second_per_vcpu": per_cpu and round(per_cpu, 1),
            },
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")


def _load(result: LoadResult | None, *, p99: bool) -> str:
    if result is None:
        return f"{'':>8} {'':>7}" + (f" {'':>7}" if p99 else "")
    figures = f"{result.requests_per_second:8.1f} {result.p50_ms:7.1f}"
    return figures + (f" {result.p99_ms:7.1f}" if p99 else "")


def _cpu(result: ScenarioResult) -> str:
    per_request = result.cpu.ms_per_request if result.cpu else None
    return f"{per_request:7.2f}" if per_request is not None else f"{'':>7}"


def _header(width: int, config_width: int, split_width: int) -> list[str]:
    top = (
        f"{'scenario':<{width}} {'config':<{config_width}} | {'direct':>8} {'p50 ms':>7} | {'service':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} | {'errors':>9} | {'CPU ms':>7} | {'split':<{split_width}} | target"
    )
    second = (
        f"{'':<{width}} {'':<{config_width}} | {'req/s':>8} {'':>7} | {'req/s':>8} {'':>7} {'':>7} | "
        f"{'':>9} | {'per req':>7} |"
    )
    return [top, second, "-" * len(top)]


def _row(result: ScenarioResult, label: str, config_width: int, split_width: int) -> str:
    key = f"{result.configuration.key:<{config_width}}"
    if result.skipped:
        return f"{label} {key} | {result.skipped}"
    errors = f"{result.direct.errors if result.direct else 0}/{result.service.errors if result.service else 0}"
    target = result.target()
    split = str(result.split) if result.split else ""
    return (
        f"{label} {key} | {_load(result.direct, p99=False)} | {_load(result.service, p99=True)} | {errors:>9} | "
        f"{_cpu(result)} | {split:<{split_width}} | {target or ''}"
    )


def _details(result: ScenarioResult, indent: str) -> list[str]:
    lines = []
    if result.direct_ttft and result.service_ttft:
        d, s = result.direct_ttft, result.service_ttft
        lines.append(
            f"{indent}time to first token (ms, {s.samples} sequential): direct p50 {d.p50_ms} p90 {d.p90_ms} "
            f"p99 {d.p99_ms} | service p50 {s.p50_ms} p90 {s.p90_ms} p99 {s.p99_ms}"
        )
    lines.extend(f"{indent}note: {note}" for note in result.notes)
    return lines


def _by_scenario(results: list[ScenarioResult]) -> Mapping[Scenario, list[ScenarioResult]]:
    """Results grouped by scenario, in first-run order: each scenario's configurations side by side."""
    grouped: dict[Scenario, list[ScenarioResult]] = {}
    for result in results:
        grouped.setdefault(result.scenario, []).append(result)
    return grouped


def _sizing_line(report: Report) -> str | None:
    sizing = report.sizing()
    per_cpu = sizing.requests_per_cpu() if sizing else None
    if sizing is None or sizing.cpu is None or sizing.service is None or per_cpu is None:
        return None
    return (
        f"sizing ({sizing.configuration.key}, {sizing.scenario.label}): {sizing.service.requests_per_second:.1f} "
        f"req/s with the service's processes keeping {sizing.cpu.busy_cpus:.2f} CPUs busy = "
        f"{per_cpu:.0f} req/s per vCPU"
    )


def _redis_lines(report: Report, width: int) -> list[str]:
    lines = []
    for configuration in report.configurations():
        rows = [r for r in report.results if r.configuration == configuration and not r.skipped]
        if not configuration.uses_redis or not rows:
            continue
        lines.append(f"Redis cost per request, {configuration.key} ({configuration.title}):")
        for result in rows:
            cost = result.redis.render() if result.redis else "not measured (see the notes above)"
            lines.append(f"  {result.scenario.label:<{width}} {cost}")
    return lines


def _memory_lines(report: Report) -> list[str]:
    lines = ["worker memory at the end of each configuration's run (target: PSS; RSS and private for information):"]
    for configuration in report.configurations():
        memory = report.worker_memory.get(configuration.key)
        if not memory:
            lines.append(f"  {configuration.key}: no workers found")
            continue
        lines.extend(f"  {configuration.key}: worker {pid}: {use or 'gone'}" for pid, use in memory.items())
        lines.append(f"  {configuration.key}: memory target: {report.memory_target(configuration.key)}")
    return lines


def render(report: Report) -> str:
    width = max((len(result.scenario.label) for result in report.results), default=10)
    config_width = max((len(c.key) for c in report.configurations()), default=6)
    split_width = max((len(str(result.split)) for result in report.results if result.split), default=5)
    lines = _header(width, config_width, split_width)
    for scenario, results in _by_scenario(report.results).items():
        for index, result in enumerate(results):
            label = f"{scenario.label if index == 0 else '':<{width}}"
            lines.append(_row(result, label, config_width, split_width))
            lines.extend(_details(result, " " * (width + 3)))
    lines.append("")
    lines.extend(f"{c.key}: {c.title}" for c in report.configurations())
    lines.append(
        "CPU ms per req: utime+stime of the gunicorn master and workers over the measured run, per request wrk "
        "completed; split: wrk's connections per worker pid, sampled mid-run"
    )
    sizing = _sizing_line(report)
    if sizing:
        lines.append(sizing)
    redis = _redis_lines(report, width)
    if redis:
        lines.extend(["", *redis])
    lines.extend(["", *_memory_lines(report)])
    return "\n".join(lines)
