"""Spend budgets per client and for the whole service, per UTC day and month.

A request first reserves its maximum cost on every counter it touches (its client's day and month,
the service's day and month) in one atomic step that refuses if any hard limit would be passed; after
the call the reservation is settled to the real cost. Counters therefore always include the requests
in flight, so concurrent requests cannot overshoot a hard limit, except by what a request costs beyond
its own reservation (never, when max tokens bound the output). A process killed between reserve and
settle leaves its reservation counted until the period ends: a loss in the safe direction. A reservation
that failed open (Redis unavailable) still has its real cost counted when it is settled, and a settle
Redis cannot take is kept and written later (service.state.deferred).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from service.budget.periods import Period, PeriodWindow, current_windows
from service.budget.prices import nanos_from_usd, usd
from service.state import Bucket, SharedState, StateUnavailable

log = structlog.get_logger(__name__)

Scope = str  # "client" or "service"


@dataclass(frozen=True)
class SpendLimits:
    """USD; None means no limit of that kind."""

    daily_soft: float | None = None
    daily_hard: float | None = None
    monthly_soft: float | None = None
    monthly_hard: float | None = None

    def hard(self, period: Period) -> float | None:
        return self.daily_hard if period == "day" else self.monthly_hard

    def soft(self, period: Period) -> float | None:
        return self.daily_soft if period == "day" else self.monthly_soft


class BudgetExceeded(Exception):
    """A hard limit would be passed: refuse before any upstream call (429, insufficient_quota)."""

    def __init__(self, scope: Scope, period: Period, limit_usd: float, resets_at: datetime) -> None:
        whose = "Your" if scope == "client" else "This service's"
        kind = "daily" if period == "day" else "monthly"
        super().__init__(
            f"{whose} {kind} spend budget of ${limit_usd:.2f} is used up; it resets at "
            f"{resets_at.isoformat().replace('+00:00', 'Z')}."
        )
        self.scope = scope
        self.period = period
        self.limit_usd = limit_usd
        self.resets_at = resets_at

    @property
    def retry_after_seconds(self) -> float:
        return max(1.0, (self.resets_at - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True)
class SoftLimitReached:
    scope: Scope
    period: Period
    limit_usd: float
    committed_usd: float  # spent plus in flight

    def header_value(self) -> str:
        return f"{self.scope}-{self.period}; limit={self.limit_usd:.2f}; committed={self.committed_usd:.4f}"


@dataclass
class Reservation:
    client_id: str
    amount_nanos: int  # what the counters hold for this request now (0: the reservation could not be made)
    buckets: tuple[Bucket, ...] = ()
    soft_limits_reached: list[SoftLimitReached] = field(default_factory=list)
    enforced: bool = True
    settled: bool = False

    def headers(self) -> dict[str, str]:
        """`x-budget-warning` when a soft limit is reached, for the caller to see."""
        if not self.soft_limits_reached:
            return {}
        return {"x-budget-warning": ", ".join(s.header_value() for s in self.soft_limits_reached)}


class SpendBudget:
    def __init__(
        self,
        state: SharedState,
        *,
        client_default: SpendLimits,
        service: SpendLimits,
        per_client: Mapping[str, SpendLimits] | None = None,
    ) -> None:
        self._state = state
        self._client_default = client_default
        self._service = service
        self._per_client = dict(per_client or {})

    def limits_for(self, client_id: str) -> SpendLimits:
        return self._per_client.get(client_id, self._client_default)

    def _plan(self, client_id: str, now: datetime) -> list[tuple[Scope, PeriodWindow, SpendLimits, Bucket]]:
        plan = []
        for scope, limits, owner in (("client", self.limits_for(client_id), client_id), ("service", self._service, "")):
            for window in current_windows(now):
                hard = limits.hard(window.period)
                key = f"budget:{scope}:{owner}:{window.period}:{window.label}"
                bucket = Bucket(key, None if hard is None else nanos_from_usd(hard), window.ttl_seconds(now))
                plan.append((scope, window, limits, bucket))
        return plan

    async def reserve(self, client_id: str, max_cost_nanos: int) -> Reservation:
        """Reserve the request's maximum cost or raise `BudgetExceeded` (or `StateRefused` failing closed)."""
        now = datetime.now(UTC)
        plan = self._plan(client_id, now)
        buckets = tuple(bucket for *_, bucket in plan)
        try:
            result = await self._state.store.reserve(buckets, max_cost_nanos)
        except StateUnavailable as exc:
            self._state.on_unavailable("spend budgets", exc)
            # Not checked against the limits, but the real cost is still counted when it is settled.
            return Reservation(client_id, 0, buckets, enforced=False)
        if not result.accepted:
            scope, window, limits, _ = plan[result.refused_index or 0]
            refused = BudgetExceeded(scope, window.period, limits.hard(window.period) or 0.0, window.resets_at)
            log.warning("spend_hard_limit_refused", client_id=client_id, scope=scope, period=window.period)
            raise refused
        reservation = Reservation(client_id, max_cost_nanos, buckets)
        for (scope, window, limits, _), committed in zip(plan, result.values, strict=True):
            soft = limits.soft(window.period)
            if soft is not None and committed > nanos_from_usd(soft):
                reservation.soft_limits_reached.append(SoftLimitReached(scope, window.period, soft, usd(committed)))
        return reservation

    async def settle(self, reservation: Reservation, actual_cost_nanos: int) -> None:
        """Replace the reservation with the real cost (once; a second call does nothing).

        A settle Redis cannot take now is kept and written later (service.state.deferred), never dropped:
        a lost settle would leave its reservation counted as spend until the period ends.
        """
        if reservation.settled:
            return
        reservation.settled = True
        delta = actual_cost_nanos - reservation.amount_nanos
        if delta == 0 or not reservation.buckets:
            return
        try:
            await self._state.store.adjust(reservation.buckets, delta)
        except StateUnavailable:
            self._state.deferred.add_counter_delta(reservation.buckets, delta)

    async def charge_service(self, cost_nanos: int) -> None:
        """Spend by the service itself (indexing the knowledge base): counted on the service's budgets, not refused."""
        buckets = tuple(bucket for scope, *_, bucket in self._plan("", datetime.now(UTC)) if scope == "service")
        try:
            await self._state.store.adjust(buckets, cost_nanos)
        except StateUnavailable:
            self._state.deferred.add_counter_delta(buckets, cost_nanos)

    async def release(self, reservation: Reservation) -> None:
        """The call did not happen (or cost nothing): give the whole reservation back."""
        await self.settle(reservation, 0)
