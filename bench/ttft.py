"""Time to first token of streamed requests, which wrk cannot see (it times whole responses).

Sequential streamed requests over one connection, timed from sending to the first `data:` event; run
after the load of a streaming scenario, on the stub directly and through the service, so the two
differ by what the service adds before the first token.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import httpx2


@dataclass(frozen=True)
class TTFTResult:
    samples: int
    p50_ms: float
    p90_ms: float
    p99_ms: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def measure_ttft(url: str, bodies: Sequence[dict[str, Any]], *, authorization: str | None = None) -> TTFTResult:
    """One streamed POST of each of `bodies` to `url` (loopback only), one after another.

    Distinct bodies keep a response cache from answering the repeats (the scenario's load sends them so too).
    """
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the benchmark only targets 127.0.0.1, not {url}")
    headers = {"Authorization": authorization} if authorization else {}
    timings: list[float] = []
    with httpx2.Client(timeout=30) as client:
        for body in bodies:
            started = time.perf_counter()
            first: float | None = None
            with client.stream("POST", url, json={**body, "stream": True}, headers=headers) as response:
                response.raise_for_status()
                for line in response.iter_lines():  # to the end, so the connection is reused
                    if first is None and line.startswith("data: {"):
                        first = (time.perf_counter() - started) * 1000
            if first is not None:
                timings.append(first)
    if not timings:
        raise RuntimeError(f"no streamed event came back from {url}")
    return TTFTResult(len(timings), *(round(_percentile(timings, p), 1) for p in (50, 90, 99)))
