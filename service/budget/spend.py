"""Spend budgets per client and for the whole service, per UTC day and month.

A request first reserves its maximum cost on every counter it touches (its client's day and month,
the service's day and month) in one atomic step that refuses if any hard limit would be passed; after
the call the reservation is settled to the real cost. Counters therefore always include the requests
in flight, so concurrent requests cannot overshoot a hard limit, except by what a request costs beyond
its own reservation (never, when max tokens bound the output). A process killed between reserve and
settle leaves its reservation counted until the period ends: a loss in the safe direction. A reservation
that failed open (Redis unavailable) still has its real cost counted when it is settled, and a settle
Redis cannot take is kept and written later (service.state.deferred).

`reserve`, `settle`, `release` and `charge_service` make one round trip each; the chat path folds their
parts (`plan`, `reservation`/`exceeded`, `settle_writes`) into its one step before and after the upstream
call (service.api.ledger).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from service.budget.periods import Period, PeriodWindow, current_windows
from service.budget.prices import nanos_from_usd, usd
from service.state import AdmitPlan, Bucket, Outcome, SharedState, StateUnavailable, Writes

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

    def plan(self, client_id: str, now: datetime | None = None) -> BudgetPlan:
        now = now or datetime.now(UTC)
        lines = []
        for scope, limits, owner in (("client", self.limits_for(client_id), client_id), ("service", self._service, "")):
            for window in current_windows(now):
                hard = limits.hard(window.period)
                key = f"budget:{scope}:{owner}:{window.period}:{window.label}"
                bucket = Bucket(key, None if hard is None else nanos_from_usd(hard), window.ttl_seconds(now))
                lines.append(_Line(scope, window, limits, bucket))
        return BudgetPlan(client_id, tuple(lines))

    @staticmethod
    def reservation(plan: BudgetPlan, amount_nanos: int, committed: Sequence[int]) -> Reservation:
        """The reservation made, with the soft limits its counters' new values reach."""
        reservation = Reservation(plan.client_id, amount_nanos, plan.buckets)
        for line, value in zip(plan.lines, committed, strict=True):
            soft = line.limits.soft(line.window.period)
            if soft is not None and value > nanos_from_usd(soft):
                reached = SoftLimitReached(line.scope, line.window.period, soft, usd(value))
                reservation.soft_limits_reached.append(reached)
        return reservation

    @staticmethod
    def exceeded(plan: BudgetPlan, refused: int) -> BudgetExceeded:
        line = plan.lines[refused]
        period = line.window.period
        log.warning("spend_hard_limit_refused", client_id=plan.client_id, scope=line.scope, period=period)
        return BudgetExceeded(line.scope, period, line.limits.hard(period) or 0.0, line.window.resets_at)

    @staticmethod
    def unenforced(plan: BudgetPlan) -> Reservation:
        """Not checked against the limits (Redis unavailable), but the real cost is still counted when settled."""
        return Reservation(plan.client_id, 0, plan.buckets, enforced=False)

    async def reserve(self, client_id: str, max_cost_nanos: int) -> Reservation:
        """Reserve the request's maximum cost or raise `BudgetExceeded` (or `StateRefused` failing closed)."""
        plan = self.plan(client_id)
        try:
            result = await self._state.store.admit(AdmitPlan(buckets=plan.buckets, amount=max_cost_nanos))
        except StateUnavailable as exc:
            self._state.on_unavailable("spend budgets", exc)
            return self.unenforced(plan)
        if result.outcome is Outcome.OVER_BUDGET and result.refused is not None:
            raise self.exceeded(plan, result.refused)
        return self.reservation(plan, max_cost_nanos, result.values)

    @staticmethod
    def settle_writes(reservation: Reservation, actual_cost_nanos: int) -> Writes:
        """Replace the reservation with the real cost (once: the reservation is marked settled)."""
        if reservation.settled:
            return Writes()
        reservation.settled = True
        delta = actual_cost_nanos - reservation.amount_nanos
        if delta == 0:
            return Writes()
        return Writes(counters=tuple((bucket, delta) for bucket in reservation.buckets))

    async def settle(self, reservation: Reservation, actual_cost_nanos: int) -> None:
        """`settle_writes`, on its own. A settle Redis cannot take now is kept and written later
        (service.state.deferred), never dropped: a lost settle would leave its reservation counted as
        spend until the period ends."""
        await self._state.settle(self.settle_writes(reservation, actual_cost_nanos))

    def charge_writes(self, cost_nanos: int) -> Writes:
        """Spend by the service itself (indexing the knowledge base): on the service's budgets, never refused."""
        buckets = [line.bucket for line in self.plan("").lines if line.scope == "service"]
        return Writes(counters=tuple((bucket, cost_nanos) for bucket in buckets)) if cost_nanos else Writes()

    async def charge_service(self, cost_nanos: int) -> None:
        await self._state.settle(self.charge_writes(cost_nanos))

    async def release(self, reservation: Reservation) -> None:
        """The call did not happen (or cost nothing): give the whole reservation back."""
        await self.settle(reservation, 0)


@dataclass(frozen=True)
class _Line:
    scope: Scope
    window: PeriodWindow
    limits: SpendLimits
    bucket: Bucket


@dataclass(frozen=True)
class BudgetPlan:
    """The counters one client's request touches: its day and month, the service's day and month."""

    client_id: str
    lines: tuple[_Line, ...]

    @property
    def buckets(self) -> tuple[Bucket, ...]:
        return tuple(line.bucket for line in self.lines)
