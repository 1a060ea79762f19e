"""The benchmark's results: pass/fail against the targets, the printed table and the JSON file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scenarios import HIGH_CONCURRENCY, MAX_ADDED_P50_MS, MAX_WORKER_RSS_MIB, MIN_THROUGHPUT_RATIO, Scenario
from bench.service import MemoryUse
from bench.ttft import TTFTResult
from bench.wrk import LoadResult


@dataclass(frozen=True)
class Target:
    description: str
    passed: bool

    def __str__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.description}"


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    direct: LoadResult | None = None
    service: LoadResult | None = None
    skipped: str | None = None  # why it did not run, e.g. "n/a (no cache)"
    notes: tuple[str, ...] = ()
    direct_ttft: TTFTResult | None = None  # streamed scenarios: time to first token, one connection
    service_ttft: TTFTResult | None = None

    def target(self) -> Target | None:
        if self.direct is None or self.service is None:
            return None
        clean = self.service.errors == 0
        suffix = "" if clean else f", but {self.service.errors} errors"
        if self.scenario.connections == 1:
            added = self.service.p50_ms - self.direct.p50_ms
            return Target(f"p50 {added:+.1f} ms (<= {MAX_ADDED_P50_MS:g}){suffix}", clean and added <= MAX_ADDED_P50_MS)
        if self.scenario.connections >= HIGH_CONCURRENCY:
            direct_rps = self.direct.requests_per_second
            ratio = self.service.requests_per_second / direct_rps if direct_rps else 0.0
            return Target(
                f"{ratio:.0%} of direct (>= {MIN_THROUGHPUT_RATIO:.0%}){suffix}",
                clean and ratio >= MIN_THROUGHPUT_RATIO,
            )
        return None


@dataclass
class Report:
    config: dict[str, Any]
    results: list[ScenarioResult] = field(default_factory=list)
    worker_memory: dict[int, MemoryUse | None] = field(default_factory=dict)

    def memory_target(self) -> Target:
        sizes = [use.rss for use in self.worker_memory.values() if use is not None]
        largest = max(sizes, default=0.0)
        passed = bool(sizes) and largest < MAX_WORKER_RSS_MIB
        return Target(f"largest worker RSS {largest:.1f} MiB (< {MAX_WORKER_RSS_MIB:g} MiB)", passed)

    def as_json(self) -> dict[str, Any]:
        scenarios = []
        for result in self.results:
            target = result.target()
            scenarios.append(
                {
                    "scenario": result.scenario.name,
                    "connections": result.scenario.connections,
                    "stream": result.scenario.stream,
                    "direct": result.direct.as_json() if result.direct else None,
                    "service": result.service.as_json() if result.service else None,
                    "ttft": {
                        "direct": result.direct_ttft.as_json() if result.direct_ttft else None,
                        "service": result.service_ttft.as_json() if result.service_ttft else None,
                    },
                    "skipped": result.skipped,
                    "notes": list(result.notes),
                    "target": {"description": target.description, "passed": target.passed} if target else None,
                }
            )
        memory = self.memory_target()
        return {
            "config": self.config,
            "scenarios": scenarios,
            "worker_memory_mib": {str(pid): use and vars(use) for pid, use in self.worker_memory.items()},
            "memory_target": {"description": memory.description, "passed": memory.passed},
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")


def _figures(result: LoadResult | None) -> str:
    if result is None:
        return f"{'':>8} {'':>7} {'':>7}"
    return f"{result.requests_per_second:8.1f} {result.p50_ms:7.1f} {result.p99_ms:7.1f}"


def render(report: Report) -> str:
    width = max(len(result.scenario.label) for result in report.results) if report.results else 10
    header = (
        f"{'scenario':<{width}} | {'direct':>8} {'p50 ms':>7} {'p99 ms':>7} | {'service':>8} {'p50 ms':>7} "
        f"{'p99 ms':>7} | {'errors':>9} | target"
    )
    lines = [header, f"{'':<{width}} | {'req/s':>8} {'':>7} {'':>7} | {'req/s':>8}", "-" * len(header)]
    for result in report.results:
        label = f"{result.scenario.label:<{width}}"
        if result.skipped:
            lines.append(f"{label} | {result.skipped}")
            continue
        errors = f"{result.direct.errors if result.direct else 0}/{result.service.errors if result.service else 0}"
        target = result.target()
        lines.append(f"{label} | {_figures(result.direct)} | {_figures(result.service)} | {errors:>9} | {target or ''}")
        if result.direct_ttft and result.service_ttft:
            d, s = result.direct_ttft, result.service_ttft
            lines.append(
                f"{'':<{width}}   time to first token (ms, {s.samples} sequential): direct p50 {d.p50_ms} "
                f"p90 {d.p90_ms} p99 {d.p99_ms} | service p50 {s.p50_ms} p90 {s.p90_ms} p99 {s.p99_ms}"
            )
        lines.extend(f"{'':<{width}}   note: {note}" for note in result.notes)
    lines.append("")
    for pid, use in report.worker_memory.items():
        lines.append(f"worker {pid} at the end: {use or 'gone'}")
    lines.append(f"memory target: {report.memory_target()}" if report.worker_memory else "no workers found")
    return "\n".join(lines)
