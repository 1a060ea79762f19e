"""`python -m bench [--duration 5] [--warmup 1] [--only streaming]`: see bench/__init__.py."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from bench.report import Report, ScenarioResult, render
from bench.scenarios import SCENARIOS, Scenario
from bench.service import CLIENT_KEY, REPO_ROOT, RunningService, memory_mib, run_service
from bench.ttft import measure_ttft
from bench.wrk import run_load, wrk_path
from service.stub.testing import StubServer, run_stub

RESULTS_DIR: Final = Path(__file__).with_name("results")
CHAT_PATH: Final = "/chat/completions"
MAX_SECONDS: Final = 120.0  # per measured run; bounds the whole benchmark
PROBE_REQUESTS: Final = 6


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run; 0 = none")
    parser.add_argument("--only", default="", help="run only scenarios whose label contains this text")
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
    return args


def probe(url: str, body: dict[str, Any]) -> set[str]:
    """Send `body` a few times through the service; the X-Cache values of the repeats (upper-cased).

    A few, not two: with an in-process cache each gunicorn worker fills its own, and the kernel spreads
    connections over the workers.
    """
    seen = set()
    for attempt in range(PROBE_REQUESTS):
        request = urllib.request.Request(  # noqa: S310 - loopback only
            url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {CLIENT_KEY}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            response.read()
            if attempt:
                seen.add((response.headers.get("X-Cache") or "").upper())
    return seen


def run_scenario(
    scenario: Scenario, stub: StubServer, service: RunningService, args: argparse.Namespace
) -> ScenarioResult:
    body = scenario.body()
    service_url = f"{service.url}/v1{CHAT_PATH}"
    try:
        cache = probe(service_url, body)
    except OSError as error:  # urllib's HTTPError/URLError
        return ScenarioResult(scenario, skipped=f"n/a (the service refused the request: {error})")
    notes: list[str] = []
    if scenario.needs_cache and "HIT" not in cache:
        return ScenarioResult(scenario, skipped="n/a (no cache)")
    if not scenario.needs_cache and "HIT" in cache:
        notes.append("the service answered from its cache; figures are not upstream round trips")

    targets = (
        (f"{stub.base_url}{CHAT_PATH}", None),
        (service_url, f"Bearer {CLIENT_KEY}"),
    )
    measured = []
    for url, authorization in targets:
        if args.warmup:
            run_load(url, body, connections=scenario.connections, seconds=args.warmup, authorization=authorization)
        measured.append(
            run_load(url, body, connections=scenario.connections, seconds=args.duration, authorization=authorization)
        )
    direct, through_service = measured
    ttft = (
        tuple(measure_ttft(url, body, samples=args.ttft_samples, authorization=auth) for url, auth in targets)
        if scenario.stream and args.ttft_samples > 0
        else (None, None)
    )
    return ScenarioResult(
        scenario,
        direct=direct,
        service=through_service,
        notes=tuple(notes),
        direct_ttft=ttft[0],
        service_ttft=ttft[1],
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk_path()  # fail before starting anything
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
            "stub": {
                "latency_ms": args.latency_ms,
                "ttft_ms": args.ttft_ms,
                "tokens_per_second": args.tokens_per_second,
            },
            "cpus": os.cpu_count(),
        }
    )
    print(
        f"bench: {len(scenarios)} scenarios x (direct, service) x {args.duration:g}s "
        f"(+{args.warmup:g}s warm-up); stub latency {args.latency_ms:g} ms, TTFT {args.ttft_ms:g} ms, "
        f"{args.tokens_per_second:g} tokens/s; {args.workers} gunicorn workers; {os.cpu_count()} CPUs",
        flush=True,
    )
    stub_options = {"latency_ms": args.latency_ms, "ttft_ms": args.ttft_ms, "tokens_per_second": args.tokens_per_second}
    log_path = RESULTS_DIR / f"service-{stamp}.log"
    with run_stub(**stub_options) as stub, run_service(stub.base_url, log_path, args.workers) as service:
        for scenario in scenarios:
            print(f"  {scenario.label} ...", flush=True)
            report.results.append(run_scenario(scenario, stub, service, args))
        report.worker_memory = {pid: memory_mib(pid) for pid in service.worker_pids()}

    print()
    print(render(report))
    results_path = RESULTS_DIR / f"bench-{stamp}.json"
    report.write(results_path)
    print(f"\nresults: {results_path.relative_to(REPO_ROOT)}; service log: {log_path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
