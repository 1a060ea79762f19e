"""Per-client requests and tokens per minute, shared by every worker and container through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from service.ratelimit.headers import WindowReport, retry_after
from service.ratelimit.windows import MinuteWindows, Window
from service.state import SharedState, StateUnavailable


@dataclass(frozen=True)
class ClientLimits:
    """None means unlimited."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


class RateLimitExceeded(Exception):
    """A client went over one of its limits; the route answers 429 with `headers`."""

    def __init__(self, kind: str, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.headers = headers


@dataclass
class Admission:
    """A request let through; keep it to reconcile the token estimate with the real usage."""

    client_id: str
    estimated_tokens: int
    headers: dict[str, str] = field(default_factory=dict)
    enforced: bool = True  # False when Redis was down and the policy is fail-open


class ClientRateLimiter:
    def __init__(
        self,
        state: SharedState,
        default: ClientLimits,
        per_client: Mapping[str, ClientLimits] | None = None,
    ) -> None:
        self._state = state
        self._default = default
        self._per_client = dict(per_client or {})
        self._windows = MinuteWindows(state.store, "client")

    def limits_for(self, client_id: str) -> ClientLimits:
        return self._per_client.get(client_id, self._default)

    def _windows_for(self, client_id: str) -> tuple[Window | None, Window | None]:
        limits = self.limits_for(client_id)
        rpm = MinuteWindows.window("requests", limits.requests_per_minute) if limits.requests_per_minute else None
        tpm = MinuteWindows.window("tokens", limits.tokens_per_minute) if limits.tokens_per_minute else None
        return rpm, tpm

    async def admit(self, client_id: str, estimated_tokens: int) -> Admission:
        """Count the request and its estimated tokens, or raise `RateLimitExceeded` (or `StateRefused`)."""
        try:
            return await self._admit(client_id, estimated_tokens)
        except StateUnavailable as exc:
            self._state.on_unavailable("rate limits", exc)
            return Admission(client_id, estimated_tokens, enforced=False)

    async def _admit(self, client_id: str, estimated_tokens: int) -> Admission:
        rpm, tpm = self._windows_for(client_id)
        if rpm is not None and not await self._windows.hit(rpm, client_id, 1):
            report = await self._windows.report(rpm, client_id)
            raise self._exceeded(report, await self._reports(client_id, tpm), rpm.item.amount, "requests")
        if tpm is not None and not await self._windows.hit(tpm, client_id, estimated_tokens):
            if rpm is not None:
                await self._windows.refund(rpm, client_id, 1)
            report = await self._windows.report(tpm, client_id)
            too_large = estimated_tokens > tpm.item.amount
            raise self._exceeded(report, await self._reports(client_id, rpm), tpm.item.amount, "tokens", too_large)
        reports = await self._reports(client_id, rpm, tpm)
        headers: dict[str, str] = {}
        for report in reports:
            headers |= report.headers()
        return Admission(client_id, estimated_tokens, headers)

    async def _reports(self, client_id: str, *windows: Window | None) -> list[WindowReport]:
        present = [w for w in windows if w is not None]
        return list(await asyncio.gather(*(self._windows.report(w, client_id) for w in present)))

    @staticmethod
    def _exceeded(
        report: WindowReport, others: list[WindowReport], limit: int, kind: str, too_large: bool = False
    ) -> RateLimitExceeded:
        headers = report.headers() | retry_after(report.reset_seconds)
        for other in others:
            headers |= other.headers()
        per_minute = "requests per minute (RPM)" if kind == "requests" else "tokens per minute (TPM)"
        if too_large:
            message = f"Request too large: it may use more tokens than your limit of {limit} {per_minute}."
        else:
            message = (
                f"Rate limit reached for {per_minute}: limit {limit}. "
                f"Please try again in {headers['x-ratelimit-reset-' + kind]}."
            )
        return RateLimitExceeded(kind, message, headers)

    async def reconcile(self, admission: Admission, actual_tokens: int) -> None:
        """Replace the estimate with what the call really used (a refund, or an extra charge)."""
        if not admission.enforced:
            return
        _, tpm = self._windows_for(admission.client_id)
        delta = actual_tokens - admission.estimated_tokens
        if tpm is None or delta == 0:
            return
        try:
            if delta < 0:
                await self._windows.refund(tpm, admission.client_id, -delta)
            else:
                # Refused only when the client is already at its limit, which its next request will meet.
                await self._windows.hit(tpm, admission.client_id, delta)
        except StateUnavailable:
            return
