"""One metered call's work on the shared state: one round trip before the upstream call, one after.

`Ledger.open` makes the response-cache lookup (and on a miss the fill lock), the client's RPM/TPM, the
spend reservation on all its budgets and the fleet's pause and RPM/TPM one all-or-nothing step
(`Store.admit`): a hit takes nothing else, a refusal leaves nothing to give back. `Ledger.close` settles
the reservation to the real cost, reconciles the token estimates, records usage and the client, fills
the cache entry or lets its lock go, and pauses the fleet when OpenAI says so, in one step
(`Store.settle`); a failed call gives everything back the same way. The components (service.cache,
service.ratelimit, service.budget, service.usage) still say what they need and what the answers mean;
this only puts their parts in one step. Slow paths cost more: a request waiting for another's identical
answer polls for it, and one waiting for room in the fleet's limits tries again until its bound.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from service.budget import BudgetPlan, Reservation, SpendBudget, SpendLimits
from service.cache import CacheLookup, CacheMode, CacheStatus, ResponseCache
from service.contract import StreamingBudget
from service.ratelimit import Admission, ClientLimits, ClientRateLimiter, UpstreamGuard, UpstreamPermit
from service.settings import Settings
from service.state import AdmitPlan, AdmitResult, CacheClaim, Outcome, SharedState, StateUnavailable, Writes
from service.usage import UsageEvent, UsageRecorder


@dataclass
class Entry:
    """What `open` took for one call, for `close` to settle. Only `lookup` on a cache hit."""

    lookup: CacheLookup
    admission: Admission | None = None
    reservation: Reservation | None = None
    permit: UpstreamPermit | None = None


@dataclass
class Ledger:
    state: SharedState
    cache: ResponseCache | None
    limiter: ClientRateLimiter
    guard: UpstreamGuard
    budget: SpendBudget
    usage: UsageRecorder

    @classmethod
    def build(cls, s: Settings, state: SharedState) -> Ledger:
        """Each control with the typed values it needs from the settings."""
        cache = (
            ResponseCache(
                state,
                ttl_seconds=s.cache_ttl_seconds,
                lock_seconds=StreamingBudget(s.max_stream_seconds).cache_fill_lock_seconds,
                wait_seconds=s.cache_wait_seconds,
                scope=s.cache_scope,
            )
            if s.cache_enabled
            else None
        )
        return cls(
            state=state,
            cache=cache,
            limiter=ClientRateLimiter(state, ClientLimits(s.client_requests_per_minute, s.client_tokens_per_minute)),
            guard=UpstreamGuard(
                state,
                requests_per_minute=s.upstream_requests_per_minute,
                tokens_per_minute=s.upstream_tokens_per_minute,
                max_wait_seconds=s.upstream_wait_seconds,
            ),
            budget=SpendBudget(
                state,
                client_default=SpendLimits(
                    s.budget_client_daily_soft_usd,
                    s.budget_client_daily_hard_usd,
                    s.budget_client_monthly_soft_usd,
                    s.budget_client_monthly_hard_usd,
                ),
                service=SpendLimits(
                    s.budget_service_daily_soft_usd,
                    s.budget_service_daily_hard_usd,
                    s.budget_service_monthly_soft_usd,
                    s.budget_service_monthly_hard_usd,
                ),
            ),
            usage=UsageRecorder(state),
        )

    async def open(
        self,
        client_id: str,
        mode: CacheMode,
        params: dict[str, Any],
        *,
        endpoint: str,
        tokens: int,
        max_cost_nanos: int,
    ) -> Entry:
        """Everything before the call, or a refusal: `RateLimitExceeded`, `BudgetExceeded`,
        `UpstreamSaturated` (past the fleet's wait bound), or `StateRefused` (Redis down, failing closed)."""
        client = self.limiter.takes(client_id, tokens)
        budget = self.budget.plan(client_id)
        plan = AdmitPlan(None, client, budget.buckets, max_cost_nanos, self.guard.pause_key, self.guard.takes(tokens))
        deadline: float | None = None  # the fleet's wait starts at its first refusal, not during a cache wait

        async def attempt(claim: CacheClaim | None) -> AdmitResult:
            nonlocal deadline
            while True:
                result = await self.state.store.admit(replace(plan, cache=claim))
                refused = result.refused if result.refused is not None else -1
                if result.outcome is Outcome.WINDOW_FULL and refused < len(client):
                    raise self.limiter.exceeded(client_id, tokens, refused, result.windows[: len(client)])
                if result.outcome is Outcome.OVER_BUDGET:
                    raise self.budget.exceeded(budget, refused)
                if result.outcome not in (Outcome.WINDOW_FULL, Outcome.PAUSED):
                    return result
                deadline = deadline or self.guard.deadline()
                await self.guard.wait(self.guard.retry_in(result), deadline)

        result: AdmitResult | None
        try:
            if self.cache is None:
                lookup, result = CacheLookup(CacheStatus.BYPASS), await attempt(None)
            else:
                lookup, result = await self.cache.resolve(mode, params, client_id, attempt, endpoint=endpoint)
        except StateUnavailable as exc:
            return self._unenforced(client_id, tokens, budget, exc)
        if result is None:  # answered from the cache: nothing taken
            return Entry(lookup)
        return Entry(
            lookup,
            self.limiter.admitted(client_id, tokens, result.windows[: len(client)]),
            self.budget.reservation(budget, max_cost_nanos, result.values),
            UpstreamPermit(tokens),
        )

    def _unenforced(self, client_id: str, tokens: int, budget: BudgetPlan, error: StateUnavailable) -> Entry:
        """Redis did not answer: each control's failure policy (raises `StateRefused` when failing closed)."""
        if self.limiter.windows_for(client_id):
            self.state.on_unavailable("rate limits", error)
        self.state.on_unavailable("spend budgets", error)
        self.state.on_unavailable("upstream rate guard", error)
        return Entry(
            CacheLookup(CacheStatus.BYPASS),
            Admission(client_id, tokens, enforced=False),
            self.budget.unenforced(budget),
            UpstreamPermit(tokens, enforced=False),
        )

    async def close(
        self,
        entry: Entry,
        *,
        cost_nanos: int | None = None,
        tokens: int | None = None,
        event: UsageEvent | None = None,
        answer: dict[str, Any] | bytes | None = None,
        pause_seconds: float = 0.0,
    ) -> None:
        """Everything after the call, in one step. `cost_nanos` settles the reservation (None keeps it);
        `tokens` reconciles the estimates (None leaves them); `answer` fills the cache (None abandons it)."""
        writes = Writes()
        if entry.reservation is not None and cost_nanos is not None:
            writes += self.budget.settle_writes(entry.reservation, cost_nanos)
        if tokens is not None:
            if entry.admission is not None:
                writes += self.limiter.reconcile_writes(entry.admission, tokens)
            if entry.permit is not None:
                writes += self.guard.reconcile_writes(entry.permit, tokens)
        if event is not None:
            writes += self.usage.writes(event)
        stored = None
        if self.cache is not None:
            cache_writes, stored = self.cache.closing_writes(entry.lookup, answer)
            writes += cache_writes
        writes += self.guard.pause_writes(pause_seconds)
        written = await self.state.settle(writes)  # counters it could not write are kept for later
        if self.cache is not None:
            self.cache.finished(entry.lookup, stored if written else None)
        if written and pause_seconds > 0:
            self.guard.paused(pause_seconds)
