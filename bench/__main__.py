"""`python -m bench [--duration 5] [--warmup 1] [--only streaming] [--config both]`: see bench/__init__.py."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import redis

from bench.configurations import CONFIGURATIONS, Configuration
from bench.connections import ConnectionSplit, MidRunSample, sample_split
from bench.cpu import CpuSample, CpuUse
from bench.redis_cost import RedisCost, RedisCounters, difference
from bench.redis_server import RedisServer, redis_server_path, run_redis
from bench.report import Report, ScenarioResult, render
from bench.scenarios import HIGH_CONCURRENCY, SCENARIOS, Scenario
from bench.service import REPO_ROOT, RunningService, memory_mib, run_service
from bench.ttft import TTFTResult, measure_ttft
from bench.wrk import TAG_MARKER, LoadResult, run_load, wrk_path
from service.stub.testing import HOST, StubServer, run_stub

RESULTS_DIR: Final = Path(__file__).with_name("results")
CHAT_PATH: Final = "/chat/completions"
MAX_SECONDS: Final = 120.0  # per measured run; bounds the whole benchmark
PROBE_REQUESTS: Final = 6
# After a load ends, its last requests (in flight when wrk stopped) finish and their settles reach Redis
# before the next measurement starts or the Redis counters are read: a streamed reply takes ~0.4 s.
SETTLE_SECONDS: Final = 1.0
# Service log events saying Redis was not (fully) in the path: the figures are then not production's.
STATE_TROUBLE: Final = ("state_backend_unavailable", "state_fail_open", "state_pool_exhausted", "state_writes_deferred")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run; 0 = none")
    parser.add_argument("--only", default="", help="run only scenarios whose label contains this text")
    parser.add_argument(
        "--config",
        choices=["both", *(configuration.key for configuration in CONFIGURATIONS)],
        default="both",
        help="service configurations to run (default both; see bench/configurations.py)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="stub latency, non-streaming")
    parser.add_argument("--ttft-ms", type=float, default=50.0, help="stub time to first token, streaming")
    parser.add_argument("--tokens-per-second", type=float, default=200.0, help="stub streaming rate")
    parser.add_argument(
        "--ttft-samples", type=int, default=20, help="streamed requests timed to their first token per target"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= MAX_SECONDS:
        parser.error(f"--duration must be between 1 and {MAX_SECONDS:g} seconds")
    if not 0 <= args.warmup <= MAX_SECONDS:
        parser.error(f"--warmup must be between 0 and {MAX_SECONDS:g} seconds")
    if not 1 <= args.workers <= 16:
        parser.error("--workers must be between 1 and 16")
    if not 0 <= args.ttft_samples <= 1000:
        parser.error("--ttft-samples must be between 0 and 1000")
    return args


def probe(url: str, bodies: Sequence[dict[str, Any]], authorization: str) -> list[str]:
    """POST each of `bodies` through the service; the X-Cache value of each answer (upper-cased)."""
    seen = []
    for body in bodies:
        request = urllib.request.Request(  # noqa: S310 - loopback only
            url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": authorization},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            response.read()
            seen.append((response.headers.get("X-Cache") or "").upper())
    return seen


class ScenarioSkipped(Exception):
    """The scenario cannot run against this service; the message says why, for the table."""


def check_cache(scenario: Scenario, configuration: Configuration, url: str, authorization: str) -> list[str]:
    """What the service's cache does with the scenario's requests; raises `ScenarioSkipped` for a cache-hit scenario
    without a cache, and returns notes where the load will not take the path it is meant to."""
    if scenario.cache_hits:
        # A few repeats, not one: with an in-process cache each worker fills its own, and the kernel spreads
        # connections over the workers.
        body = scenario.body(cacheable=True)
        if "HIT" not in probe(url, [body] * PROBE_REQUESTS, authorization)[1:]:
            raise ScenarioSkipped("n/a (no cache)")
        return []
    nonce = uuid.uuid4().hex[:8]
    bodies = [scenario.body(cacheable=configuration.cacheable_bodies, tag=f"probe-{nonce}-{i}") for i in range(3)]
    seen = set(probe(url, bodies, authorization))
    expected = "MISS" if configuration.cacheable_bodies else "BYPASS"
    if seen == {expected}:
        return []
    if "HIT" in seen:
        return ["the service answered distinct requests from its cache; figures are not upstream round trips"]
    return [f"expected X-Cache: {expected} on every request, the service sent {', '.join(sorted(seen))}"]


@dataclass
class ServiceRun:
    """One measured load through the service, with what it cost the service's processes and Redis."""

    load: LoadResult
    cpu: CpuUse
    split: ConnectionSplit | None = None
    redis: RedisCost | None = None
    notes: list[str] = field(default_factory=list)


def state_trouble(log_path: Path, offset: int) -> str | None:
    """A note if the service logged, past `offset`, that Redis failed or was too busy to be asked."""
    with log_path.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    counts = Counter({event: text.count(f'"{event}"') for event in STATE_TROUBLE})
    found = ", ".join(f"{event} x{count}" for event, count in counts.items() if count)
    return f"the service logged {found} during the run: Redis was not fully in the path" if found else None


def _measure_load(scenario: Scenario, service: RunningService, body: dict[str, Any], seconds: float) -> ServiceRun:
    """The load through the service between two samples of its processes' CPU time; at high concurrency
    the split of wrk's connections across the workers, sampled half-way."""
    cpu_before = CpuSample.take([service.master_pid, *service.worker_pids()])
    sampler = MidRunSample(lambda: sample_split(service.worker_pids(), service.port), delay=seconds / 2)
    with sampler if scenario.connections >= HIGH_CONCURRENCY else nullcontext():
        load = run_load(
            f"{service.url}/v1{CHAT_PATH}",
            body,
            connections=scenario.connections,
            seconds=seconds,
            authorization=service.authorization,
            varied=scenario.varied,
        )
        cpu_after = CpuSample.take({*cpu_before.ticks, service.master_pid, *service.worker_pids()})
    run = ServiceRun(load, CpuUse.between(cpu_before, cpu_after, load.requests), split=sampler.result)
    if scenario.connections >= HIGH_CONCURRENCY and sampler.result is None:
        run.notes.append(f"no connection split: {sampler.error or 'the run ended before the sample'}")
    if run.cpu.lost_pids:
        run.notes.append(f"workers {run.cpu.lost_pids} exited during the run: their CPU time is not counted")
    return run


def measure_service(
    scenario: Scenario, service: RunningService, redis_server: RedisServer | None, body: dict[str, Any], seconds: float
) -> ServiceRun:
    """The measured load through the service; with Redis, what it cost Redis per request the service answered
    (counted in its usage, so that the requests still in flight when wrk stopped are counted too)."""
    time.sleep(SETTLE_SECONDS)  # the warm-up's and the probe's last requests finish first
    log_offset = service.log_path.stat().st_size
    if redis_server is None:
        run = _measure_load(scenario, service, body, seconds)
    else:
        served_before = service.served_requests()  # before the snapshot: its own Redis calls are not counted
        with redis.Redis(host=HOST, port=redis_server.port, socket_timeout=5) as client:
            counters_before = RedisCounters.read(client)
            run = _measure_load(scenario, service, body, seconds)
            time.sleep(SETTLE_SECONDS)  # the requests in flight when wrk stopped finish, and settle in Redis
            counters_after = RedisCounters.read(client)
        served = service.served_requests() - served_before
        if served < 1:  # e.g. the month turned during the run
            run.notes.append(f"usage counted {served} requests; Redis cost divided by wrk's count instead")
            served = max(1, run.load.requests)
        run.redis = difference(counters_before, counters_after, served)
    trouble = state_trouble(service.log_path, log_offset)
    if trouble:
        run.notes.append(trouble)
    return run


def run_scenario(
    scenario: Scenario,
    configuration: Configuration,
    *,
    stub: StubServer,
    service: RunningService,
    redis_server: RedisServer | None,
    args: argparse.Namespace,
) -> ScenarioResult:
    service_url = f"{service.url}/v1{CHAT_PATH}"
    try:
        notes = check_cache(scenario, configuration, service_url, service.authorization)
    except ScenarioSkipped as skip:
        return ScenarioResult(scenario, configuration, skipped=str(skip))
    except OSError as error:  # urllib's HTTPError/URLError
        return ScenarioResult(scenario, configuration, skipped=f"n/a (the service refused the request: {error})")

    body = scenario.body(cacheable=configuration.cacheable_bodies, tag=TAG_MARKER if scenario.varied else None)
    direct_url = f"{stub.base_url}{CHAT_PATH}"
    load_options: dict[str, Any] = {"connections": scenario.connections, "varied": scenario.varied}
    if args.warmup:
        run_load(direct_url, body, seconds=args.warmup, **load_options)
    direct = run_load(direct_url, body, seconds=args.duration, **load_options)
    if args.warmup:
        run_load(service_url, body, seconds=args.warmup, authorization=service.authorization, **load_options)
    run = measure_service(scenario, service, redis_server, body, args.duration)

    ttft: tuple[TTFTResult | None, TTFTResult | None] = (None, None)
    if scenario.stream and args.ttft_samples > 0:
        nonce = uuid.uuid4().hex[:8]

        def bodies(target: str) -> list[dict[str, Any]]:
            return [
                scenario.body(cacheable=configuration.cacheable_bodies, tag=f"ttft-{nonce}-{target}-{i}")
                for i in range(args.ttft_samples)
            ]

        ttft = (
            measure_ttft(direct_url, bodies("direct")),
            measure_ttft(service_url, bodies("service"), authorization=service.authorization),
        )
    return ScenarioResult(
        scenario,
        configuration,
        direct=direct,
        service=run.load,
        notes=(*notes, *run.notes),
        direct_ttft=ttft[0],
        service_ttft=ttft[1],
        cpu=run.cpu,
        split=run.split,
        redis=run.redis,
    )


def run_configuration(
    configuration: Configuration,
    scenarios: Sequence[Scenario],
    *,
    stub: StubServer,
    args: argparse.Namespace,
    log_path: Path,
    report: Report,
) -> None:
    """Start the service (and its Redis) in `configuration`, run every scenario through it, record its memory."""
    with ExitStack() as stack:
        redis_server = stack.enter_context(run_redis()) if configuration.uses_redis else None
        service = stack.enter_context(
            run_service(
                stub.base_url,
                log_path,
                args.workers,
                settings_env=configuration.service_env(redis_server.url if redis_server else None),
                client_key=configuration.client_key,
            )
        )
        for scenario in scenarios:
            print(f"  {configuration.key}: {scenario.label} ...", flush=True)
            report.results.append(
                run_scenario(scenario, configuration, stub=stub, service=service, redis_server=redis_server, args=args)
            )
        report.worker_memory[configuration.key] = {pid: memory_mib(pid) for pid in service.worker_pids()}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configurations = [c for c in CONFIGURATIONS if args.config in ("both", c.key)]
    wrk_path()  # fail before starting anything
    if any(configuration.uses_redis for configuration in configurations):
        redis_server_path()
    scenarios = [scenario for scenario in SCENARIOS if args.only in scenario.label]
    if not scenarios:
        raise SystemExit(f"bench: no scenario label contains {args.only!r}")
    # PYTHONDONTWRITEBYTECODE=1 is common here; without .pyc files every worker compiles at boot.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "service"], cwd=REPO_ROOT, check=True)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = Report(
        config={
            "started_at": stamp,
            "duration_seconds": args.duration,
            "warmup_seconds": args.warmup,
            "workers": args.workers,
            "configurations": [configuration.key for configuration in configurations],
            "stub": {
                "latency_ms": args.latency_ms,
                "ttft_ms": args.ttft_ms,
                "tokens_per_second": args.tokens_per_second,
            },
            "cpus": os.cpu_count(),
        }
    )
    print(
        f"bench: {len(scenarios)} scenarios x {len(configurations)} configurations x (direct, service) x "
        f"{args.duration:g}s (+{args.warmup:g}s warm-up); stub latency {args.latency_ms:g} ms, TTFT "
        f"{args.ttft_ms:g} ms, {args.tokens_per_second:g} tokens/s; {args.workers} gunicorn workers; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    stub_options = {"latency_ms": args.latency_ms, "ttft_ms": args.ttft_ms, "tokens_per_second": args.tokens_per_second}
    log_paths = []
    with run_stub(**stub_options) as stub:
        for configuration in configurations:
            log_paths.append(RESULTS_DIR / f"service-{stamp}-{configuration.key}.log")
            run_configuration(configuration, scenarios, stub=stub, args=args, log_path=log_paths[-1], report=report)

    print()
    print(render(report))
    results_path = RESULTS_DIR / f"bench-{stamp}.json"
    report.write(results_path)
    logs = ", ".join(str(path.relative_to(REPO_ROOT)) for path in log_paths)
    print(f"\nresults: {results_path.relative_to(REPO_ROOT)}; service logs: {logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
