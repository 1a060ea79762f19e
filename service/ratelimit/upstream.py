"""The fleet-wide guard for the organization's own OpenAI limits, shared by every container.

Each upstream call first takes its requests and estimated tokens from fleet-wide minute windows
sized to the organization's RPM/TPM. When the fleet is at the limit, calls wait (bounded) for the
window to free up, so the fleet slows down before OpenAI answers 429 rather than after. OpenAI's
own `x-ratelimit-remaining-*` headers feed a shared pause: when they reach zero, every container
holds new calls until the reported reset.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from service.ratelimit.headers import parse_reset
from service.ratelimit.windows import MinuteWindows, Window
from service.state import SharedState, StateUnavailable

log = structlog.get_logger(__name__)

_PAUSE_KEY = "upstream:paused-until-ms"
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
        self._store = state.store
        self._windows = MinuteWindows(state.store, "upstream")
        self._rpm = MinuteWindows.window("requests", requests_per_minute) if requests_per_minute else None
        self._tpm = MinuteWindows.window("tokens", tokens_per_minute) if tokens_per_minute else None
        self._max_wait = max_wait_seconds

    async def acquire(self, estimated_tokens: int) -> UpstreamPermit:
        """Wait until the fleet may make one more call of this size; raise `UpstreamSaturated` past the bound."""
        deadline = time.monotonic() + self._max_wait
        try:
            while True:
                wait = await self._paused_for()
                if wait <= 0:
                    wait = await self._try_take(estimated_tokens)
                    if wait <= 0:
                        return UpstreamPermit(estimated_tokens)
                if time.monotonic() + min(wait, _POLL_SECONDS) > deadline:
                    raise UpstreamSaturated(wait)
                await asyncio.sleep(min(wait, _POLL_SECONDS) * random.uniform(0.8, 1.2))  # noqa: S311
        except StateUnavailable as exc:
            self._state.on_unavailable("upstream rate guard", exc)
            return UpstreamPermit(estimated_tokens, enforced=False)

    async def _paused_for(self) -> float:
        raw = await self._store.get(_PAUSE_KEY)
        return (int(raw) / 1000 - time.time()) if raw else 0.0

    async def _try_take(self, tokens: int) -> float:
        """0 when taken, else roughly how long until the window that refused has room."""
        if self._rpm is not None and not await self._windows.hit(self._rpm, "fleet", 1):
            return await self._reset_of(self._rpm)
        if self._tpm is not None and not await self._windows.hit(self._tpm, "fleet", tokens):
            if self._rpm is not None:
                await self._windows.refund(self._rpm, "fleet", 1)
            return await self._reset_of(self._tpm)
        return 0.0

    async def _reset_of(self, window: Window) -> float:
        return max(_POLL_SECONDS, (await self._windows.report(window, "fleet")).reset_seconds)

    async def reconcile(self, permit: UpstreamPermit, actual_tokens: int) -> None:
        if not permit.enforced or self._tpm is None:
            return
        delta = actual_tokens - permit.estimated_tokens
        try:
            if delta < 0:
                await self._windows.refund(self._tpm, "fleet", -delta)
            elif delta > 0:
                await self._windows.hit(self._tpm, "fleet", delta)
        except StateUnavailable:
            return

    async def observe(self, headers: Mapping[str, str]) -> None:
        """Read OpenAI's `x-ratelimit-remaining-*`/`reset-*`; pause the fleet when a budget is spent."""
        pause = 0.0
        for kind in ("requests", "tokens"):
            remaining = headers.get(f"x-ratelimit-remaining-{kind}")
            reset = parse_reset(headers.get(f"x-ratelimit-reset-{kind}", ""))
            if remaining is not None and remaining.isdigit() and int(remaining) == 0 and reset:
                pause = max(pause, reset)
        if pause > 0:
            await self.pause(pause)

    async def pause(self, seconds: float) -> None:
        """Hold every container's new calls for `seconds` (also for an upstream 429's Retry-After)."""
        if seconds <= 0:
            return
        until_ms = int((time.time() + seconds) * 1000)
        try:
            await self._store.put(_PAUSE_KEY, str(until_ms).encode(), ttl_seconds=seconds)
        except StateUnavailable:
            return
        log.warning("upstream_rate_limit_pause", seconds=round(seconds, 3))
