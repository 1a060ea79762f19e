"""Run wrk with bench/wrk.lua and parse the line it prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

SCRIPT: Final = Path(__file__).with_name("wrk.lua")
_MARKER: Final = "BENCH_RESULT "
REQUEST_TIMEOUT_SECONDS: Final = 10
# Put in a body (Scenario.body(tag=TAG_MARKER)) and run with `varied=True`: wrk.lua gives each request its own tag.
TAG_MARKER: Final = "@@bench-tag@@"


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # connect/read/write/timeout errors plus non-2xx/3xx answers

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"requests_per_second": round(self.requests_per_second, 1)}


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("bench: wrk is not installed; `make bench` installs it (Debian package `wrk`)")
    return path


def parse(output: str) -> LoadResult:
    line = next((line for line in output.splitlines() if line.startswith(_MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no {_MARKER.strip()} line:\n{output[-2000:]}")
    raw = json.loads(line.removeprefix(_MARKER))
    errors = sum(raw[f"errors_{kind}"] for kind in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=errors,
    )


def run_load(
    url: str,
    body: dict[str, Any],
    *,
    connections: int,
    seconds: float,
    authorization: str | None = None,
    varied: bool = False,
) -> LoadResult:
    """POST `body` to `url` (loopback only) over `connections` connections for `seconds`.

    `varied`: `body` holds TAG_MARKER, which each request replaces with a tag no other request has.
    """
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the benchmark only targets 127.0.0.1, not {url}")
    encoded = json.dumps(body)
    if varied and TAG_MARKER not in encoded:
        raise ValueError(f"a varied load needs {TAG_MARKER!r} in its body")
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as body_file:
        body_file.write(encoded.encode())
    env = os.environ | {
        "BENCH_BODY_FILE": body_file.name,
        "BENCH_AUTHORIZATION": authorization or "",
        "BENCH_TAG_MARKER": TAG_MARKER if varied else "",
        "BENCH_RUN_ID": uuid.uuid4().hex[:12],
    }
    command = [
        wrk_path(),
        f"--threads={min(2, connections)}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={REQUEST_TIMEOUT_SECONDS}s",
        f"--script={SCRIPT}",
        url,
    ]
    try:
        deadline = seconds + REQUEST_TIMEOUT_SECONDS + 30
        completed = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=deadline)
    finally:
        Path(body_file.name).unlink(missing_ok=True)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return parse(completed.stdout)
