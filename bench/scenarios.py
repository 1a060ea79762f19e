"""What the benchmark runs and the targets it reports against.

Adding a scenario is one entry in SCENARIOS. Targets: at concurrency 1 the added p50, at HIGH_CONCURRENCY
the share of direct throughput. `needs_cache` entries run only when the service answers a repeated request
with `X-Cache: HIT` (their direct column is the uncached upstream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

MODEL: Final = "gpt-4o-mini"
PROMPT: Final = "Summarise in one sentence why teams load-test an API before launch."

# Targets (printed as pass/fail, never failing the run).
MIN_THROUGHPUT_RATIO: Final = 0.60  # at high concurrency: service req/s over direct req/s
MAX_ADDED_P50_MS: Final = 3.0  # at concurrency 1: service p50 minus direct p50
MAX_WORKER_RSS_MIB: Final = 150.0
HIGH_CONCURRENCY: Final = 50


@dataclass(frozen=True)
class Scenario:
    name: str
    connections: int
    stream: bool = False
    temperature: float = 0.7  # not 0, so a response cache does not answer the uncached scenarios
    needs_cache: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} (c={self.connections})"

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": MODEL,
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": 64,
            "temperature": self.temperature,
        }
        if self.stream:
            body["stream"] = True
        return body


SCENARIOS: Final = (
    Scenario("non-streaming", 1),
    Scenario("streaming", 1, stream=True),
    Scenario("non-streaming", HIGH_CONCURRENCY),
    Scenario("streaming", HIGH_CONCURRENCY, stream=True),
    Scenario("cached non-streaming, temperature 0", HIGH_CONCURRENCY, temperature=0.0, needs_cache=True),
)
