"""What the benchmark runs and the targets it reports against (issue 11).

Adding a scenario is one entry in SCENARIOS. Targets: at concurrency 1 the p50 the service adds; at
HIGH_CONCURRENCY its share of direct throughput, which may be lower in the production configuration
(bench.configurations). Load bodies differ per request (`tag`, filled in by bench/wrk.lua), so a
response cache never answers them; `cache_hits` entries send one body over and over instead, and run
only when the service answers a repeat with `X-Cache: HIT` (their direct column is the uncached upstream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

MODEL: Final = "gpt-4o-mini"
PROMPT: Final = "Summarise in one sentence why teams load-test an API before launch."
UNCACHEABLE_TEMPERATURE: Final = 0.7  # the response cache bypasses anything but temperature 0

# Targets (printed as pass/fail, never failing the run).
MAX_ADDED_P50_MS: Final = 2.0  # at concurrency 1: service p50 minus direct p50
MAX_WORKER_PSS_MIB: Final = 100.0  # what a container's memory limit charges each worker
HIGH_CONCURRENCY: Final = 50


@dataclass(frozen=True)
class Scenario:
    name: str
    connections: int
    stream: bool = False
    cache_hits: bool = False
    min_throughput_ratio: float | None = None  # service req/s over direct req/s
    production_min_throughput_ratio: float | None = None  # the same in production; None: as above
    max_added_p50_ms: float | None = None

    @property
    def label(self) -> str:
        return f"{self.name} (c={self.connections})"

    @property
    def varied(self) -> bool:
        """Whether each request's body is different (all but the cache-hit scenarios)."""
        return not self.cache_hits

    def throughput_target(self, *, production: bool) -> float | None:
        if production and self.production_min_throughput_ratio is not None:
            return self.production_min_throughput_ratio
        return self.min_throughput_ratio

    def body(self, *, cacheable: bool, tag: str | None = None) -> dict[str, Any]:
        """The request body; `cacheable` sends temperature 0 so the cache looks it up (and, missing, fills it).

        `tag` goes into the prompt so that bodies differ; cache-hit scenarios are always cacheable.
        """
        prompt = f"{PROMPT} [{tag}]" if tag else PROMPT
        body: dict[str, Any] = {
            "model": MODEL,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": 64,
            "temperature": 0.0 if cacheable or self.cache_hits else UNCACHEABLE_TEMPERATURE,
        }
        if self.stream:
            body["stream"] = True
        return body


NON_STREAMING_HIGH: Final = Scenario(
    "non-streaming", HIGH_CONCURRENCY, min_throughput_ratio=0.90, production_min_throughput_ratio=0.80
)
STREAMING_HIGH: Final = Scenario("streaming", HIGH_CONCURRENCY, stream=True, min_throughput_ratio=0.85)
SCENARIOS: Final = (
    Scenario("non-streaming", 1, max_added_p50_ms=MAX_ADDED_P50_MS),
    Scenario("streaming", 1, stream=True, max_added_p50_ms=MAX_ADDED_P50_MS),
    NON_STREAMING_HIGH,
    STREAMING_HIGH,
    Scenario("cache hits", HIGH_CONCURRENCY, cache_hits=True),
)
# Autoscaling is sized on this scenario's requests per second per vCPU in the production configuration
# (infra/capacity.py): a streamed request costs the service more CPU than a plain one (every event is
# relayed), and most traffic streams, so it sizes the fleet on the safe side.
SIZING_SCENARIO: Final = STREAMING_HIGH
