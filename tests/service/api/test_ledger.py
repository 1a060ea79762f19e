"""The step before an upstream call is all or nothing, on real Redis and in process alike."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from service.api.ledger import Entry, Ledger
from service.budget import BudgetExceeded, nanos_from_usd
from service.cache import CacheMode, CacheStatus
from service.ratelimit import RateLimitExceeded, UpstreamSaturated
from service.settings import Settings
from service.state import AdmitPlan, SharedState, StateConfig, StateRefused, WindowTake, build_shared_state
from tests.support.redis import RedisServer

CLIENT = "acme"
PARAMS: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
Scenario = Callable[[Ledger], Coroutine[Any, Any, None]]


@pytest.fixture(params=["redis", "memory"])
def run(request: pytest.FixtureRequest) -> Callable[..., None]:
    def runner(scenario: Scenario, **settings: Any) -> None:
        async def main() -> None:
            url = request.getfixturevalue("redis_url") if request.param == "redis" else None
            state = build_shared_state(StateConfig(redis_url=url))
            try:
                await scenario(Ledger.build(Settings(_env_file=None, **settings), state))  # type: ignore[call-arg]
            finally:
                await state.aclose()

        asyncio.run(main())

    return runner


async def _open(ledger: Ledger, params: dict[str, Any] = PARAMS, *, tokens: int = 100, cost: float = 0.01) -> Entry:
    return await ledger.open(
        CLIENT, CacheMode.USE, params, endpoint="/chat/completions", tokens=tokens, max_cost_nanos=nanos_from_usd(cost)
    )


async def _requests_counted(state: SharedState, namespace: str, identity: str) -> int:
    """The window's current count, read with a take of nothing."""
    key = f"ratelimit:{namespace}:{identity}:requests"
    result = await state.store.admit(AdmitPlan(client_windows=(WindowTake(key, 1_000_000, 0),)))
    return result.windows[0].current


def test_a_budget_refusal_takes_nothing_else(run: Callable[..., None]) -> None:
    async def scenario(ledger: Ledger) -> None:
        first = await _open(ledger, cost=0.03)
        assert first.admission is not None
        assert first.admission.headers["x-ratelimit-remaining-requests"] == "9"
        with pytest.raises(BudgetExceeded, match=r"daily spend budget of \$0\.05"):
            await _open(ledger, PARAMS | {"seed": 1}, cost=0.03)
        assert await _requests_counted(ledger.state, "client", CLIENT) == 1  # the refused request was not counted
        assert await _requests_counted(ledger.state, "upstream", "fleet") == 1
        await ledger.close(first, cost_nanos=0, tokens=0)  # released: the same request now fits
        again = await _open(ledger, PARAMS | {"seed": 1}, cost=0.03)
        assert again.lookup.status is CacheStatus.MISS  # and it leads: the refused one held no cache lock

    run(scenario, client_requests_per_minute=10, upstream_requests_per_minute=100, budget_client_daily_hard_usd=0.05)


def test_a_client_over_its_limit_gets_every_window_in_its_headers(run: Callable[..., None]) -> None:
    async def scenario(ledger: Ledger) -> None:
        await _open(ledger, tokens=600)
        with pytest.raises(RateLimitExceeded) as refused:
            await _open(ledger, PARAMS | {"seed": 2}, tokens=600)
        headers = refused.value.headers
        assert refused.value.kind == "tokens"
        assert (headers["x-ratelimit-limit-tokens"], headers["x-ratelimit-remaining-tokens"]) == ("1000", "400")
        assert (headers["x-ratelimit-limit-requests"], headers["x-ratelimit-remaining-requests"]) == ("5", "4")
        assert int(headers["retry-after"]) >= 1
        with pytest.raises(RateLimitExceeded, match="Request too large"):
            await _open(ledger, PARAMS | {"seed": 3}, tokens=1001)

    run(scenario, client_requests_per_minute=5, client_tokens_per_minute=1000)


def test_a_saturated_fleet_waits_to_its_bound_and_holds_nothing_meanwhile(run: Callable[..., None]) -> None:
    async def scenario(ledger: Ledger) -> None:
        await _open(ledger)
        started = time.monotonic()
        with pytest.raises(UpstreamSaturated) as saturated:
            await _open(ledger, PARAMS | {"seed": 4})
        assert 0.2 <= time.monotonic() - started < 1.5
        assert saturated.value.retry_after_seconds > 0
        assert await _requests_counted(ledger.state, "client", CLIENT) == 1

    run(scenario, client_requests_per_minute=10, upstream_requests_per_minute=1, upstream_wait_seconds=0.3)


def test_an_identical_request_after_a_fill_is_a_hit_that_takes_nothing(run: Callable[..., None]) -> None:
    async def scenario(ledger: Ledger) -> None:
        leader = await _open(ledger)
        answer = {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 15, "completion_tokens": 5, "total_tokens": 20},
        }
        await ledger.close(leader, cost_nanos=5, tokens=20, answer=answer)
        hit = await _open(ledger)
        assert (hit.lookup.status, hit.admission, hit.reservation) == (CacheStatus.HIT, None, None)
        assert await _requests_counted(ledger.state, "client", CLIENT) == 1

    run(scenario, client_requests_per_minute=10)


@pytest.mark.parametrize("policy", ["open", "closed"])
def test_redis_down_follows_the_failure_policy(redis_server: RedisServer, redis_url: str, policy: str) -> None:
    async def main() -> None:
        state = build_shared_state(StateConfig(redis_url=redis_url, failure_policy=policy))  # type: ignore[arg-type]
        settings = Settings(_env_file=None, client_requests_per_minute=10)  # type: ignore[call-arg]
        ledger = Ledger.build(settings, state)
        redis_server.stop()
        try:
            if policy == "closed":
                with pytest.raises(StateRefused, match="rate limits"):
                    await _open(ledger)
            else:
                entry = await _open(ledger)
                assert entry.lookup.status is CacheStatus.BYPASS
                assert entry.admission is not None
                assert not entry.admission.enforced
                assert entry.reservation is not None
                assert not entry.reservation.enforced
                await ledger.close(entry, cost_nanos=7, tokens=10)
                assert state.deferred.pending  # the real cost is kept until Redis takes it
        finally:
            redis_server.start()
            await state.aclose()

    asyncio.run(main())
