"""The fleet-wide guard for the organization's own OpenAI limits, shared by every container.

Each upstream call first takes its requests and estimated tokens from fleet-wide minute windows
sized to the organization's RPM/TPM. When the fleet is at the limit, calls wait (bounded) for the
window to free up, so the fleet slows down before OpenAI answers 429 rather than after. OpenAI's
own `x-ratelimit-remaining-*` headers feed a shared pause: when they reach zero, every container
holds new calls until the reported reset.

`acquire`, `reconcile` and `pause` make their own round trips; the chat path folds their parts into
its one step before and after the upstream call (service.api.ledger), and only a fleet at its limit
costs more, one step per poll while it waits.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from service.ratelimit.headers import parse_reset
from service.ratelimit.windows import takes_of, windows_of
from service.state import AdmitPlan, AdmitResult, Outcome, Pause, SharedState, StateUnavailable, WindowTake, Writes
from service.state.plans import ceil_ms

log = structlog.get_logger(__name__)

PAUSE_KEY = "upstream:paused-until-ms"
_POLL_SECONDS = 0.1


class UpstreamSaturated(Exception):
    """The organization's limits will not free up within the wait bound; answer 503 with Retry-After."""

    def __init__(self, retry_after_seconds: float) -> None:
        super().__init__("the service is at its OpenAI rate limit; retry later")
        self.retry_after_seconds = retry_after_seconds


@dataclass
class UpstreamPermit:
    estimated_tokens: int
    enforced: bool = True


class UpstreamGuard:
    def __init__(
        self,
        state: SharedState,
        *,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        max_wait_seconds: float,
    ) -> None:
        self._state = state
        self._windows = windows_of(requests_per_minute, tokens_per_minute, namespace="upstream", identity="fleet")
        self._max_wait = max_wait_seconds

    pause_key = PAUSE_KEY

    def takes(self, estimated_tokens: int) -> tuple[WindowTake, ...]:
        return takes_of(self._windows, estimated_tokens)

    def deadline(self) -> float:
        """The latest (monotonic) time a call that starts waiting now may still be let through."""
        return time.monotonic() + self._max_wait

    @staticmethod
    def retry_in(result: AdmitResult) -> float:
        """How long until a refusal by the fleet's pause or one of its windows may pass."""
        if result.outcome is Outcome.PAUSED or result.refused is None:
            return result.wait_seconds
        return max(_POLL_SECONDS, result.windows[result.refused].reset_seconds())

    async def wait(self, seconds: float, deadline: float) -> None:
        """Sleep (at most a poll interval, jittered) before another try; past `deadline`, `UpstreamSaturated`."""
        if time.monotonic() + min(seconds, _POLL_SECONDS) > deadline:
            raise UpstreamSaturated(seconds)
        await asyncio.sleep(min(seconds, _POLL_SECONDS) * random.uniform(0.8, 1.2))  # noqa: S311

    async def acquire(self, estimated_tokens: int) -> UpstreamPermit:
        """Wait until the fleet may make one more call of this size; raise `UpstreamSaturated` past the bound."""
        deadline = self.deadline()
        plan = AdmitPlan(pause_key=self.pause_key, fleet_windows=self.takes(estimated_tokens))
        try:
            while (result := await self._state.store.admit(plan)).outcome is not Outcome.ADMITTED:
                await self.wait(self.retry_in(result), deadline)
        except StateUnavailable as exc:
            self._state.on_unavailable("upstream rate guard", exc)
            return UpstreamPermit(estimated_tokens, enforced=False)
        return UpstreamPermit(estimated_tokens)

    def reconcile_writes(self, permit: UpstreamPermit, actual_tokens: int) -> Writes:
        delta = actual_tokens - permit.estimated_tokens
        if not permit.enforced or delta == 0:
            return Writes()
        return Writes(windows=tuple(w.take(delta) for w in self._windows if w.kind == "tokens"))

    async def reconcile(self, permit: UpstreamPermit, actual_tokens: int) -> None:
        await self._state.settle(self.reconcile_writes(permit, actual_tokens))

    @staticmethod
    def pause_seconds(headers: Mapping[str, str]) -> float:
        """From OpenAI's `x-ratelimit-remaining-*`/`reset-*` (lower-case names): how long to hold the fleet."""
        pause = 0.0
        for kind in ("requests", "tokens"):
            remaining = headers.get(f"x-ratelimit-remaining-{kind}")
            reset = parse_reset(headers.get(f"x-ratelimit-reset-{kind}", ""))
            if remaining is not None and remaining.isdigit() and int(remaining) == 0 and reset:
                pause = max(pause, reset)
        return pause

    def pause_writes(self, seconds: float) -> Writes:
        """Hold every container's new calls for `seconds` (also for an upstream 429's Retry-After)."""
        return Writes(pause=Pause(self.pause_key, ceil_ms(seconds))) if seconds > 0 else Writes()

    @staticmethod
    def paused(seconds: float) -> None:
        log.warning("upstream_rate_limit_pause", seconds=round(seconds, 3))

    async def observe(self, headers: Mapping[str, str]) -> None:
        """Pause the fleet when OpenAI's headers say a budget is spent."""
        await self.pause(self.pause_seconds(headers))

    async def pause(self, seconds: float) -> None:
        writes = self.pause_writes(seconds)
        if writes and await self._state.settle(writes):
            self.paused(seconds)
