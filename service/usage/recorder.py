"""Usage accounting per client per UTC day and month: tokens, spend, cache hits and saved spend.

One Redis hash per client and period, incremented atomically by every worker; the set of clients
seen in a period lets an admin list everyone. The query behind `GET /v1/usage` reads them back.
`record` is one round trip; the chat path writes the same (`writes`) in its one step after the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from service.budget import PeriodWindow, current_windows, usd
from service.state import HashIncrement, SetMember, SharedState, Writes

_KEEP = timedelta(days=40)  # last month's figures stay readable for a while after it ends
_FIELDS = (
    "requests",
    "prompt_tokens",
    "cached_prompt_tokens",
    "completion_tokens",
    "spend_nanos",
    "cache_hits",
    "saved_tokens",
    "saved_nanos",
)


@dataclass(frozen=True)
class UsageEvent:
    """One answered request. For a cache hit, `cost_nanos` is what it would have cost upstream."""

    client_id: str
    model: str
    prompt_tokens: int
    cached_prompt_tokens: int
    completion_tokens: int
    cost_nanos: int
    cache_hit: bool = False
    requests: int = 1  # 0 for a share of a batched call (the question embeddings of /v1/answers)

    @classmethod
    def of(
        cls, client_id: str, model: str, usage: Mapping[str, Any], cost_nanos: int, *, cache_hit: bool
    ) -> UsageEvent:
        """From a usage object in chat completions' shape."""
        details = usage.get("prompt_tokens_details") or {}
        return cls(
            client_id=client_id,
            model=model,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            cached_prompt_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, Mapping) else 0,
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cost_nanos=cost_nanos,
            cache_hit=cache_hit,
        )

    def increments(self) -> dict[str, int]:
        tokens = self.prompt_tokens + self.completion_tokens
        if self.cache_hit:
            return {"requests": self.requests, "cache_hits": 1, "saved_tokens": tokens, "saved_nanos": self.cost_nanos}
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "spend_nanos": self.cost_nanos,
        }


def _usage_key(client_id: str, window: PeriodWindow) -> str:
    return f"usage:{window.period}:{window.label}:{client_id}"


def _clients_key(window: PeriodWindow) -> str:
    return f"usage:{window.period}:{window.label}:clients"


def _period_report(window: PeriodWindow, row: dict[str, int]) -> dict[str, Any]:
    counts = {name: row.get(name, 0) for name in _FIELDS}
    return {
        "period": window.label,
        "resets_at": window.resets_at.isoformat().replace("+00:00", "Z"),
        "requests": counts["requests"],
        "prompt_tokens": counts["prompt_tokens"],
        "cached_prompt_tokens": counts["cached_prompt_tokens"],
        "completion_tokens": counts["completion_tokens"],
        "total_tokens": counts["prompt_tokens"] + counts["completion_tokens"],
        "spend_usd": usd(counts["spend_nanos"]),
        "cache_hits": counts["cache_hits"],
        "saved_tokens": counts["saved_tokens"],
        "saved_usd": usd(counts["saved_nanos"]),
    }


class UsageRecorder:
    def __init__(self, state: SharedState) -> None:
        self._state = state

    @staticmethod
    def writes(event: UsageEvent) -> Writes:
        """The event on its client's day and month, and the client on the day's and month's lists."""
        now = datetime.now(UTC)
        windows = current_windows(now)
        ttl = {w.period: w.ttl_seconds(now, keep=_KEEP) for w in windows}
        return Writes(
            increments=tuple(
                HashIncrement(_usage_key(event.client_id, w), event.increments(), ttl[w.period]) for w in windows
            ),
            members=tuple(SetMember(_clients_key(w), event.client_id, ttl[w.period]) for w in windows),
        )

    async def record(self, event: UsageEvent) -> None:
        """Never lost for a busy or briefly absent Redis: what cannot be written now is written later."""
        await self._state.settle(self.writes(event))

    async def report(self, client_id: str, now: datetime | None = None) -> dict[str, Any]:
        """The client's current day and month. Raises `StateUnavailable` when Redis is down."""
        windows = current_windows(now)
        day, month = await self._state.store.hgetall([_usage_key(client_id, w) for w in windows])
        return {
            "object": "usage.report",
            "client_id": client_id,
            "day": _period_report(windows[0], day),
            "month": _period_report(windows[1], month),
        }

    async def report_all(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every client with usage this month (the admin view)."""
        month = current_windows(now)[1]
        clients = sorted(await self._state.store.members(_clients_key(month)))
        return list(await asyncio.gather(*(self.report(client, now) for client in clients)))
