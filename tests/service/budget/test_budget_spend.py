"""Reserve-then-settle budgets on a real Redis shared by two workers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest

from service.budget import (
    BudgetExceeded,
    SpendBudget,
    SpendLimits,
    current_windows,
    nanos_from_usd,
    signal_soft_limits,
)
from service.state import StateConfig, build_shared_state
from tests.support.redis import RedisServer

CENT = nanos_from_usd(0.01)


def _budgets(url: str, client: SpendLimits, service: SpendLimits | None = None) -> list[SpendBudget]:
    return [
        SpendBudget(
            build_shared_state(StateConfig(redis_url=url)), client_default=client, service=service or SpendLimits()
        )
        for _ in range(2)
    ]


def test_fifty_concurrent_reservations_never_pass_the_hard_limit(redis_url: str) -> None:
    async def main() -> None:
        workers = _budgets(redis_url, SpendLimits(daily_hard=0.10))

        async def one(i: int) -> bool:
            budget = workers[i % 2]
            try:
                reservation = await budget.reserve("acme", 3 * CENT)
            except BudgetExceeded:
                return False
            await asyncio.sleep(0.01)
            await budget.settle(reservation, 2 * CENT)  # cheaper than reserved
            return True

        results = await asyncio.gather(*(one(i) for i in range(50)))
        day_key = f"budget:client:acme:day:{current_windows()[0].label}"
        spent = (await workers[0]._state.store.read_ints([day_key]))[0]
        assert spent <= nanos_from_usd(0.10)
        assert spent == 2 * CENT * sum(results)
        assert sum(results) >= 3  # at least the ones that fit with no reservation released early

    asyncio.run(main())


def test_refusal_names_the_budget_and_when_it_resets(redis_url: str) -> None:
    async def main() -> None:
        budget = _budgets(redis_url, SpendLimits(), SpendLimits(monthly_hard=0.05))[0]
        await budget.reserve("acme", 4 * CENT)
        with pytest.raises(BudgetExceeded) as refused:
            await budget.reserve("other", 2 * CENT)
        assert (refused.value.scope, refused.value.period) == ("service", "month")
        assert "monthly spend budget of $0.05" in str(refused.value)
        assert refused.value.resets_at == current_windows()[1].resets_at
        assert refused.value.resets_at.day == 1
        assert refused.value.resets_at > datetime.now(UTC)

    asyncio.run(main())


def test_settle_and_release_return_unused_reservation(redis_url: str) -> None:
    async def main() -> None:
        budget = _budgets(redis_url, SpendLimits(daily_hard=0.05))[0]
        first = await budget.reserve("acme", 5 * CENT)
        with pytest.raises(BudgetExceeded):
            await budget.reserve("acme", CENT)
        await budget.release(first)
        await budget.release(first)  # idempotent
        await budget.reserve("acme", 5 * CENT)

    asyncio.run(main())


def test_soft_limit_warns_in_a_header_a_log_line_and_a_metric(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def main() -> None:
        budget = _budgets(redis_url, SpendLimits(daily_soft=0.02, daily_hard=1.0))[0]
        assert not (await budget.reserve("acme", CENT)).soft_limits_reached
        reservation = await budget.reserve("acme", 2 * CENT)
        assert [(s.scope, s.period) for s in reservation.soft_limits_reached] == [("client", "day")]
        assert reservation.headers()["x-budget-warning"].startswith("client-day; limit=0.02")
        signal_soft_limits(reservation, "staging")

    asyncio.run(main())
    metric_lines = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    record = orjson.loads(metric_lines[-1])
    assert record["SpendSoftLimitReached"] == 1
    assert record["Environment"] == "staging"
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "OpenAIService"


def test_a_settle_redis_cannot_take_is_written_when_it_returns(redis_server: RedisServer, redis_url: str) -> None:
    async def main() -> None:
        state = build_shared_state(StateConfig(redis_url=redis_url, probe_interval_seconds=0.1))
        budget = SpendBudget(state, client_default=SpendLimits(daily_hard=1.0), service=SpendLimits())
        redis_server.stop()
        reservation = await budget.reserve("acme", 5 * CENT)  # fail open: nothing reserved
        await budget.settle(reservation, 2 * CENT)  # nor can the real cost be written yet: it is kept
        assert state.deferred.pending
        redis_server.start()
        await asyncio.sleep(0.15)  # past the probe interval: the store tries Redis again
        await state.deferred.aclose()  # the last attempt a stopping process makes
        day_key = f"budget:client:acme:day:{current_windows()[0].label}"
        assert await state.store.read_ints([day_key]) == [2 * CENT]
        await state.aclose()

    asyncio.run(main())


def test_spend_while_reservations_fail_open_is_still_counted(redis_server: RedisServer, redis_url: str) -> None:
    async def main() -> None:
        state = build_shared_state(StateConfig(redis_url=redis_url, probe_interval_seconds=0.1))
        budget = SpendBudget(state, client_default=SpendLimits(daily_hard=1.0), service=SpendLimits())
        redis_server.stop()
        reservation = await budget.reserve("acme", 5 * CENT)  # fail open: not checked against the limit
        assert not reservation.enforced
        redis_server.start()
        await asyncio.sleep(0.15)  # past the probe interval: the store tries Redis again
        await budget.settle(reservation, 3 * CENT)
        day_key = f"budget:client:acme:day:{current_windows()[0].label}"
        assert await state.store.read_ints([day_key]) == [3 * CENT]
        await state.aclose()

    asyncio.run(main())
