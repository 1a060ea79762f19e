"""The stub's mutable state: latency/auth knobs, the scripted fault queue and request statistics."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.stub.text import DEFAULT_REPLY_TOKENS

RECENT_REQUESTS: Final = 50
OBSERVED_HEADERS: Final = ("authorization", "openai-organization", "openai-project", "x-request-id", "traceparent")


@dataclass(frozen=True)
class Knobs:
    """What `POST /_stub/config` can change; the CLI sets the values `POST /_stub/reset` returns to."""

    ttft_ms: float = 0.0  # streaming: delay before the first chunk
    tokens_per_second: float = 0.0  # streaming: pace of content chunks; 0 = as fast as possible
    latency_ms: float = 0.0  # non-streaming: delay before the response
    api_keys: frozenset[str] = frozenset()  # empty: any key is accepted
    rate_limit_headers: Mapping[str, str] = field(default_factory=dict)  # added to every /v1 response
    moderation_marker: str = "FLAG_ME"
    reply_tokens: int = DEFAULT_REPLY_TOKENS  # length of the non-extractive reply

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"api_keys": sorted(self.api_keys)}


class KnobsUpdate(BaseModel):
    """Body of `POST /_stub/config`; unknown fields are refused so a typo cannot pass silently."""

    model_config = ConfigDict(extra="forbid")

    ttft_ms: float | None = Field(default=None, ge=0)
    tokens_per_second: float | None = Field(default=None, ge=0)
    latency_ms: float | None = Field(default=None, ge=0)
    api_keys: list[str] | None = None
    rate_limit_headers: dict[str, str] | None = None
    moderation_marker: str | None = Field(default=None, min_length=1)
    reply_tokens: int | None = Field(default=None, ge=1)

    def apply(self, knobs: Knobs) -> Knobs:
        changes: dict[str, Any] = self.model_dump(exclude_none=True)
        if "api_keys" in changes:
            changes["api_keys"] = frozenset(changes["api_keys"])
        return dataclasses.replace(knobs, **changes)


class Fault(BaseModel):
    """One scripted response, used by the next `count` requests that match `path` (and, for the
    mid-stream faults, that stream)."""

    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(default=None, ge=400, le=599)
    message: str | None = None
    type: str | None = None
    code: str | None = None
    param: str | None = None
    retry_after_ms: int | None = Field(default=None, ge=0)  # sets retry-after-ms/retry-after; 429s: 1000
    headers: dict[str, str] = Field(default_factory=dict)
    count: int = Field(default=1, ge=1)
    path: str | None = None  # e.g. "/v1/chat/completions"; None matches every /v1 path
    hang: bool = False  # never answer (until the client disconnects)
    delay_ms: float = Field(default=0, ge=0)  # wait, then answer (with `status`, or normally)
    stall_after_chunks: int | None = Field(default=None, ge=0)  # streams: pause after N chunks...
    stall_ms: float = Field(default=0, ge=0)  # ...for this long, then carry on
    drop_after_chunks: int | None = Field(default=None, ge=0)  # streams: cut the connection after N
    probability: float = Field(default=1.0, gt=0, le=1)  # each matching request plays it with this chance (seeded)

    @property
    def mid_stream(self) -> bool:
        return self.stall_after_chunks is not None or self.drop_after_chunks is not None

    @model_validator(mode="after")
    def _does_something(self) -> Self:
        if self.mid_stream and (self.status is not None or self.hang):
            raise ValueError("stall_after_chunks/drop_after_chunks cannot be combined with status or hang")
        if not (self.status is not None or self.hang or self.delay_ms or self.mid_stream):
            raise ValueError("a fault needs one of: status, hang, delay_ms, stall_after_chunks, drop_after_chunks")
        return self


class FaultQueue:
    """Scripted faults, consumed in order by the requests they match.

    A fault with a `probability` below 1 is played by each matching request with that chance (a seeded
    generator, so a run is repeatable); a request that does not play it looks further down the queue.
    """

    def __init__(self, seed: int = 0) -> None:
        self._pending: list[tuple[Fault, list[int]]] = []  # (fault, [uses left])
        self._random = random.Random(seed)  # noqa: S311 - repeatable test faults, not security

    def extend(self, faults: list[Fault]) -> None:
        self._pending.extend((fault, [fault.count]) for fault in faults)

    def take(self, path: str, streaming: bool) -> Fault | None:
        for position, (fault, left) in enumerate(self._pending):
            if fault.path is not None and fault.path != path:
                continue
            if fault.mid_stream and not streaming:
                continue
            if fault.probability < 1 and self._random.random() >= fault.probability:
                continue
            left[0] -= 1
            if left[0] == 0:
                del self._pending[position]
            return fault
        return None

    def as_json(self) -> list[dict[str, Any]]:
        return [fault.model_dump(exclude_defaults=True) | {"count": left[0]} for fault, left in self._pending]

    def clear(self) -> None:
        self._pending.clear()
        self._random.seed(0)


class Stats:
    """Requests received per /v1 path (faulted ones included), the last few in detail, and the tokens
    billed per path (what a real upstream would charge: every answered completion, response or embedding)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)
        self.tokens: dict[str, Counter[str]] = {}

    def bill(self, path: str, usage: Mapping[str, int]) -> None:
        self.tokens.setdefault(path, Counter()).update(usage)

    def record(self, method: str, path: str, headers: Mapping[str, str], body: Any) -> None:
        self.counts[path] += 1
        seen = {name: headers[name] for name in OBSERVED_HEADERS if name in headers}
        if "authorization" in seen:
            seen["authorization"] = "..." + seen["authorization"][-4:]
        self.recent.append({"method": method, "path": path, "headers": seen, "body": body})

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.counts.total(),
            "requests": dict(self.counts),
            "tokens": {path: dict(counts) for path, counts in self.tokens.items()},
            "recent": list(self.recent),
        }


class StubState:
    def __init__(self, defaults: Knobs) -> None:
        self.defaults = defaults
        self.knobs = defaults
        self.faults = FaultQueue()
        self.stats = Stats()

    def reset(self) -> None:
        self.knobs = self.defaults
        self.faults.clear()
        self.stats = Stats()
