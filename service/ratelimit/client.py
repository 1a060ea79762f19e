"""Per-client requests and tokens per minute, shared by every worker and container through Redis.

`admit` and `reconcile` make one round trip each on their own; the chat path folds their parts
(`takes`, `admitted`/`exceeded`, `reconcile_writes`) into its one step before and after the upstream
call (service.api.ledger).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from service.ratelimit.headers import retry_after
from service.ratelimit.windows import Window, takes_of, windows_of
from service.state import AdmitPlan, Outcome, SharedState, StateUnavailable, WindowState, WindowTake, Writes


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

    def limits_for(self, client_id: str) -> ClientLimits:
        return self._per_client.get(client_id, self._default)

    def windows_for(self, client_id: str) -> tuple[Window, ...]:
        limits = self.limits_for(client_id)
        return windows_of(limits.requests_per_minute, limits.tokens_per_minute, namespace="client", identity=client_id)

    def takes(self, client_id: str, estimated_tokens: int) -> tuple[WindowTake, ...]:
        """The request and its estimated tokens, one take per limited window."""
        return takes_of(self.windows_for(client_id), estimated_tokens)

    def admitted(self, client_id: str, estimated_tokens: int, states: Sequence[WindowState]) -> Admission:
        """The admission, with the windows as they stand after the takes in its headers."""
        headers: dict[str, str] = {}
        for window, state in zip(self.windows_for(client_id), states, strict=True):
            headers |= window.report(state).headers()
        return Admission(client_id, estimated_tokens, headers)

    def exceeded(
        self, client_id: str, estimated_tokens: int, refused: int, states: Sequence[WindowState]
    ) -> RateLimitExceeded:
        """The 429 for the window at index `refused`, with every window's headers as they stand."""
        windows = self.windows_for(client_id)
        window = windows[refused]
        report = window.report(states[refused])
        headers = report.headers() | retry_after(report.reset_seconds)
        for index, (other, state) in enumerate(zip(windows, states, strict=True)):
            if index != refused:
                headers |= other.report(state).headers()
        per_minute = "requests per minute (RPM)" if window.kind == "requests" else "tokens per minute (TPM)"
        if window.kind == "tokens" and estimated_tokens > window.limit:
            message = f"Request too large: it may use more tokens than your limit of {window.limit} {per_minute}."
        else:
            message = (
                f"Rate limit reached for {per_minute}: limit {window.limit}. "
                f"Please try again in {headers['x-ratelimit-reset-' + window.kind]}."
            )
        return RateLimitExceeded(window.kind, message, headers)

    def reconcile_writes(self, admission: Admission, actual_tokens: int) -> Writes:
        """Replace the estimate with what the call really used (a refund, or an extra charge).

        An extra charge is skipped when the client is already at its limit, which its next request will meet.
        """
        delta = actual_tokens - admission.estimated_tokens
        if not admission.enforced or delta == 0:
            return Writes()
        tokens = [w for w in self.windows_for(admission.client_id) if w.kind == "tokens"]
        return Writes(windows=tuple(window.take(delta) for window in tokens))

    async def admit(self, client_id: str, estimated_tokens: int) -> Admission:
        """Count the request and its estimated tokens, or raise `RateLimitExceeded` (or `StateRefused`)."""
        takes = self.takes(client_id, estimated_tokens)
        if not takes:
            return Admission(client_id, estimated_tokens)
        try:
            result = await self._state.store.admit(AdmitPlan(client_windows=takes))
        except StateUnavailable as exc:
            self._state.on_unavailable("rate limits", exc)
            return Admission(client_id, estimated_tokens, enforced=False)
        if result.outcome is Outcome.WINDOW_FULL and result.refused is not None:
            raise self.exceeded(client_id, estimated_tokens, result.refused, result.windows)
        return self.admitted(client_id, estimated_tokens, result.windows)

    async def reconcile(self, admission: Admission, actual_tokens: int) -> None:
        """`reconcile_writes`, on its own (nothing is deferred: it only moves a one-minute estimate)."""
        await self._state.settle(self.reconcile_writes(admission, actual_tokens))
