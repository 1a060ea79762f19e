"""Targets per configuration, and the table and results file with both configurations side by side."""

from __future__ import annotations

from bench.configurations import IN_PROCESS, PRODUCTION
from bench.connections import ConnectionSplit
from bench.cpu import CpuUse
from bench.redis_cost import RedisCost
from bench.report import Report, ScenarioResult, render
from bench.scenarios import NON_STREAMING_HIGH, SCENARIOS, SIZING_SCENARIO, Scenario
from bench.service import MemoryUse
from bench.wrk import LoadResult

STREAMING_HIGH = next(s for s in SCENARIOS if s.stream and s.connections > 1)
NON_STREAMING_LOW = next(s for s in SCENARIOS if not s.stream and s.connections == 1)
CACHE_HITS = next(s for s in SCENARIOS if s.cache_hits)


def load(rps: float, p50_ms: float = 50.0, errors: int = 0) -> LoadResult:
    return LoadResult(requests=int(rps * 5), seconds=5, p50_ms=p50_ms, p90_ms=60, p99_ms=70, max_ms=80, errors=errors)


def ratio_result(scenario: Scenario, service_rps: float, production: bool) -> ScenarioResult:
    configuration = PRODUCTION if production else IN_PROCESS
    return ScenarioResult(scenario, configuration, direct=load(1000), service=load(service_rps))


def test_non_streaming_at_high_concurrency_needs_90_percent_in_process_and_80_in_production() -> None:
    in_process, production = (ratio_result(NON_STREAMING_HIGH, 850, production=p).target() for p in (False, True))
    assert in_process is not None
    assert in_process.passed is False
    assert "85% of direct (>= 90%)" in in_process.description
    assert production is not None
    assert production.passed is True
    assert "(>= 80%)" in production.description


def test_streaming_at_high_concurrency_needs_85_percent_in_both() -> None:
    for production in (False, True):
        assert ratio_result(STREAMING_HIGH, 860, production).target().passed is True  # type: ignore[union-attr]
        assert ratio_result(STREAMING_HIGH, 840, production).target().passed is False  # type: ignore[union-attr]


def test_at_concurrency_one_the_service_may_add_two_ms_at_p50() -> None:
    within = ScenarioResult(NON_STREAMING_LOW, PRODUCTION, direct=load(20, 51.0), service=load(19, 53.0))
    beyond = ScenarioResult(NON_STREAMING_LOW, PRODUCTION, direct=load(20, 51.0), service=load(19, 53.1))
    assert within.target().passed is True  # type: ignore[union-attr]
    assert beyond.target().passed is False  # type: ignore[union-attr]


def test_errors_fail_a_target_the_figures_would_meet() -> None:
    result = ScenarioResult(SIZING_SCENARIO, IN_PROCESS, direct=load(1000), service=load(1000, errors=3))
    target = result.target()
    assert target is not None
    assert target.passed is False
    assert "but 3 errors" in target.description


def test_cache_hits_have_a_ratio_but_no_target() -> None:
    target = ratio_result(CACHE_HITS, 5000, production=True).target()
    assert target is not None
    assert target.passed is None
    assert str(target) == "info: 500% of direct"


def test_memory_is_judged_on_pss_per_configuration() -> None:
    report = Report(
        config={},
        worker_memory={
            "in-process": {1: MemoryUse(rss=170, pss=99, private=60)},
            "production": {2: MemoryUse(rss=140, pss=101, private=60), 3: None},
        },
    )
    assert report.memory_target("in-process").passed is True  # RSS over 150 no longer fails it
    assert report.memory_target("production").passed is False
    assert report.memory_target("nowhere").passed is False  # no worker measured is not a pass


def full_report() -> Report:
    cpu = CpuUse(seconds=3.0, wall_seconds=5.0, requests=4000)  # 0.6 CPUs busy
    results = [
        ScenarioResult(
            SIZING_SCENARIO,
            IN_PROCESS,
            direct=load(1000),
            service=load(920),
            cpu=cpu,
            split=ConnectionSplit({1: 26, 2: 24}),
        ),
        ScenarioResult(
            SIZING_SCENARIO,
            PRODUCTION,
            direct=load(1000),
            service=load(800),
            cpu=cpu,
            split=ConnectionSplit({3: 25, 4: 25}),
            redis=RedisCost(4000, round_trips=3.0, commands={"evalsha": 2.0, "get": 1.0}),
        ),
        ScenarioResult(CACHE_HITS, PRODUCTION, skipped="n/a (no cache)"),
    ]
    memory: dict[str, dict[int, MemoryUse | None]] = {
        "in-process": {1: MemoryUse(170, 95, 60)},
        "production": {3: MemoryUse(170, 96, 61)},
    }
    return Report(config={}, results=results, worker_memory=memory)


def test_the_table_shows_both_configurations_of_a_scenario_together() -> None:
    lines = render(full_report()).splitlines()
    rows = [line for line in lines if "| " in line and ("in-process |" in line or "production |" in line)]
    assert rows[0].startswith(SIZING_SCENARIO.label)
    assert "in-process" in rows[0]
    assert rows[1].startswith(" ")
    assert "production" in rows[1]
    assert "26/24" in rows[0]
    assert "25/25" in rows[1]
    assert "0.75" in rows[0]  # CPU ms per request: 3000 ms over 4000 requests


def test_the_table_is_followed_by_sizing_redis_cost_and_memory() -> None:
    text = render(full_report())
    # 800 req/s with 0.6 CPUs busy.
    assert "= 1333 req/s per vCPU" in text
    assert "3.00 round trips" in text
    assert "production: memory target: PASS largest worker PSS 96.0 MiB" in text
    assert "Redis + limits + budgets + cache (missed)" in text


def test_the_results_file_carries_the_new_figures() -> None:
    data = full_report().as_json()
    production = data["scenarios"][1]
    assert production["configuration"] == "production"
    assert production["cpu"]["cpu_ms_per_request"] == 0.75
    assert production["cpu"]["requests_per_second_per_vcpu"] == 1333.3
    assert production["connection_split"] == {"by_pid": {"3": 25, "4": 25}, "not_accepted": 0}
    assert production["redis"]["round_trips"] == 3.0
    assert data["sizing"]["requests_per_second_per_vcpu"] == 1333.3
    assert data["configurations"]["production"]["memory_target"]["passed"] is True
    assert data["configurations"]["in-process"]["settings"] == {}


def test_a_long_split_widens_its_column_for_every_row() -> None:
    report = full_report()
    report.results[0] = ScenarioResult(
        SIZING_SCENARIO, IN_PROCESS, direct=load(1000), service=load(900), split=ConnectionSplit({1: 27, 2: 16}, 7)
    )
    rows = [line for line in render(report).splitlines() if line.count(" | ") >= 5]
    assert len({line.rindex(" | ") for line in rows}) == 1  # the target column starts at the same place
