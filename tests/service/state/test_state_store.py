"""The Store contract, run against both backends: real Redis and the in-process one (which mirrors its scripts)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from service.state import (
    AdmitPlan,
    Bucket,
    CacheClaim,
    HashIncrement,
    MemoryStore,
    Outcome,
    Pause,
    Put,
    Release,
    SetMember,
    StateConfig,
    Store,
    WindowState,
    WindowTake,
    Writes,
    build_shared_state,
)
from service.state.windows import WINDOW_MS, clock
from tests.support.redis import RedisServer

Scenario = Callable[[Store], Coroutine[Any, Any, None]]


@pytest.fixture(params=["redis", "memory"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def run(backend: str, request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    def runner(scenario: Scenario) -> None:
        async def main() -> None:
            if backend == "redis":
                store: Store = build_shared_state(StateConfig(redis_url=request.getfixturevalue("redis_url"))).store
            else:
                store = MemoryStore()
            try:
                await scenario(store)
            finally:
                await store.aclose()

        asyncio.run(main())

    return runner


def _claim(digest: str, token: bytes, *, lead: bool = True) -> CacheClaim:
    return CacheClaim("cache:namespace", "cache:", "cache-lock:cache:", digest, token, 10_000, lead)


def test_a_reservation_adds_to_every_bucket_or_to_none(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        buckets = (Bucket("a", 100, 60), Bucket("b", 50, 60), Bucket("c", None, 60))
        assert (await store.admit(AdmitPlan(buckets=buckets, amount=30))).values == (30, 30, 30)
        refused = await store.admit(AdmitPlan(buckets=buckets, amount=30))
        assert (refused.outcome, refused.refused) == (Outcome.OVER_BUDGET, 1)
        assert await store.read_ints(["a", "b", "c"]) == [30, 30, 30]
        await store.adjust(buckets, -10)
        assert await store.read_ints(["a", "b", "c"]) == [20, 20, 20]

    run(scenario)


def test_concurrent_reservations_never_pass_the_limit(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        plan = AdmitPlan(buckets=(Bucket("spend", 1000, 60),), amount=70)
        results = await asyncio.gather(*(store.admit(plan) for _ in range(50)))
        assert sum(r.outcome is Outcome.ADMITTED for r in results) == 14  # 14 * 70 = 980 <= 1000 < 15 * 70
        assert await store.read_ints(["spend"]) == [980]

    run(scenario)


def test_windows_take_refuse_and_refund(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        take = AdmitPlan(client_windows=(WindowTake("w", 3, 1),))
        outcomes = [(await store.admit(take)).outcome for _ in range(4)]
        assert outcomes == [Outcome.ADMITTED] * 3 + [Outcome.WINDOW_FULL]
        await store.settle(Writes(windows=(WindowTake("w", 3, -1),)))  # a refund, as reconciliation makes it
        admitted = await store.admit(take)
        assert admitted.outcome is Outcome.ADMITTED
        assert (admitted.windows[0].current, admitted.windows[0].remaining(3)) == (3, 0)
        too_large = await store.admit(AdmitPlan(client_windows=(WindowTake("empty", 3, 4),)))
        assert too_large.outcome is Outcome.WINDOW_FULL  # a cost over the limit never fits

    run(scenario)


def test_admission_is_all_or_nothing_in_its_order(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        client, fleet = WindowTake("client", 10, 1), WindowTake("fleet", 1, 1)
        budget = (Bucket("day", 100, 60),)
        over_budget = await store.admit(AdmitPlan(client_windows=(client,), buckets=budget, amount=101))
        assert (over_budget.outcome, over_budget.refused) == (Outcome.OVER_BUDGET, 0)
        plan = AdmitPlan(client_windows=(client,), buckets=budget, amount=40, fleet_windows=(fleet,))
        assert (await store.admit(plan)).outcome is Outcome.ADMITTED
        fleet_full = await store.admit(plan)
        assert (fleet_full.outcome, fleet_full.refused) == (Outcome.WINDOW_FULL, 1)  # the fleet's, after the client's
        assert [w.current for w in fleet_full.windows] == [1, 1]  # as found: the refused step took nothing
        assert await store.read_ints(["day"]) == [40]

    run(scenario)


def test_the_cache_claim_hits_waits_or_leads_and_a_hit_takes_nothing(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        limited = (WindowTake("client", 10, 1),)
        leader = await store.admit(AdmitPlan(_claim("d", b"mine"), limited))
        assert (leader.outcome, leader.cache_key, leader.lock_key) == (
            Outcome.ADMITTED,
            "cache:0:d",
            "cache-lock:cache:0:d",
        )
        follower = await store.admit(AdmitPlan(_claim("d", b"yours"), limited))
        assert follower.outcome is Outcome.CACHE_BUSY
        refresh = await store.admit(AdmitPlan(_claim("d", b"other", lead=False), limited))
        assert (refresh.outcome, refresh.cache_key) == (Outcome.ADMITTED, "cache:0:d")  # names it, takes no lock
        await store.settle(Writes(releases=(Release("cache-lock:cache:0:d", b"yours"),)))  # not its lock: kept
        assert await store.get("cache-lock:cache:0:d") == b"mine"
        filled = Writes(
            puts=(Put("cache:0:d", b"answer", 60_000),), releases=(Release("cache-lock:cache:0:d", b"mine"),)
        )
        await store.settle(filled)
        hit = await store.admit(AdmitPlan(_claim("d", b"third"), limited, (Bucket("day", None, 60),), 5))
        assert (hit.outcome, hit.body) == (Outcome.CACHE_HIT, b"answer")
        assert await store.read_ints(["day"]) == [0]
        checked = await store.admit(AdmitPlan(client_windows=(WindowTake("client", 10, 0),)))
        assert checked.windows[0].current == 2  # the leader and the refresh; not the follower, not the hit
        assert await store.incr("cache:namespace") == 1
        assert (await store.admit(AdmitPlan(_claim("d", b"fourth")))).outcome is Outcome.ADMITTED  # a new namespace

    run(scenario)


def test_a_pause_holds_the_fleet_for_its_time(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        await store.settle(Writes(pause=Pause("paused", 30_000)))
        paused = await store.admit(AdmitPlan(pause_key="paused", fleet_windows=(WindowTake("fleet", 5, 1),)))
        assert paused.outcome is Outcome.PAUSED
        assert 25 < paused.wait_seconds <= 30
        assert (await store.admit(AdmitPlan(fleet_windows=(WindowTake("fleet", 5, 1),)))).outcome is Outcome.ADMITTED

    run(scenario)


def test_a_shorter_pause_does_not_end_a_longer_one(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        await store.settle(Writes(pause=Pause("paused", 30_000)))  # OpenAI's tokens reset in 30 s
        await store.settle(Writes(pause=Pause("paused", 50)))  # then a 429 asks for 50 ms
        paused = await store.admit(AdmitPlan(pause_key="paused"))
        assert paused.outcome is Outcome.PAUSED
        assert paused.wait_seconds > 25

    run(scenario)


def test_settle_writes_counters_usage_and_members(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        writes = Writes(
            counters=((Bucket("a", 10, 60), 7), (Bucket("b", None, 60), -2)),
            increments=(HashIncrement("h", {"x": 2, "y": 3}, 60), HashIncrement("h", {"x": 1}, 60)),
            members=(SetMember("s", "acme", 60), SetMember("s", "zeta", 60)),
        )
        await store.settle(writes)
        assert await store.read_ints(["a", "b"]) == [7, -2]  # a settle is not checked against limits
        assert await store.hgetall(["h"]) == [{"x": 3, "y": 3}]
        assert await store.members("s") == {"acme", "zeta"}

    run(scenario)


def test_the_previous_minute_is_weighted_alike_in_both_backends(
    run: Callable[[Scenario], None], backend: str, redis_server: RedisServer
) -> None:
    """A count planted in the previous minute: the backend's decision and counts match `WindowState`."""

    def plant(store: Store, key: str, minute: int, current: int) -> None:
        if backend == "redis":
            with redis_server.client() as redis:
                redis.hset(f"oai:{key}", mapping={"minute": minute, "current": current, "previous": 0})
        else:
            store._put(key, (minute, current, 0), 120)  # type: ignore[attr-defined]

    async def scenario(store: Store) -> None:
        for _ in range(3):  # a minute may turn between planting and reading: plant again
            minute, _ = clock(int(time.time() * 1000))
            plant(store, "w", minute - 1, 200)
            result = await store.admit(AdmitPlan(client_windows=(WindowTake("w", 100, 1),)))
            state = result.windows[0]
            if state.previous == 200:
                break
        else:
            pytest.fail("the previous minute's count was never read back")
        found = WindowState(state.previous, 0, state.left_ms)  # before this take
        assert (result.outcome is Outcome.ADMITTED) == found.fits(1, 100)
        assert state.current == (1 if result.outcome is Outcome.ADMITTED else 0)
        assert 0 < state.left_ms <= WINDOW_MS

    run(scenario)


def test_put_only_if_absent_and_delete_if_equals_make_a_lock(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        assert await store.put("lock", b"me", ttl_seconds=5, only_if_absent=True)
        assert not await store.put("lock", b"you", ttl_seconds=5, only_if_absent=True)
        assert not await store.delete_if_equals("lock", b"you")
        assert await store.delete_if_equals("lock", b"me")
        assert await store.get("lock") is None

    run(scenario)


def test_entries_expire(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        await store.put("short", b"x", ttl_seconds=0.05)
        await asyncio.sleep(0.1)
        assert await store.get("short") is None
        assert await store.get_many(["short", "never"]) == [None, None]

    run(scenario)


def test_hash_counters_members_and_incr(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        await store.hincr([HashIncrement("h", {"a": 2, "b": 3}, 60), HashIncrement("h", {"a": 1}, 60)])
        assert await store.hgetall(["h", "missing"]) == [{"a": 3, "b": 3}, {}]
        await store.add_member("s", "x", 60)
        await store.add_member("s", "y", 60)
        assert await store.members("s") == {"x", "y"}
        assert [await store.incr("n"), await store.incr("n")] == [1, 2]

    run(scenario)
