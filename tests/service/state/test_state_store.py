"""The Store contract, run against both backends: real Redis and the in-process one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from limits import RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from service.state import Bucket, HashIncrement, MemoryStore, StateConfig, Store, build_shared_state

Scenario = Callable[[Store], Coroutine[Any, Any, None]]


@pytest.fixture(params=["redis", "memory"])
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    def runner(scenario: Scenario) -> None:
        async def main() -> None:
            if request.param == "redis":
                url = request.getfixturevalue("redis_url")
                store = build_shared_state(StateConfig(redis_url=url)).store
            else:
                store = MemoryStore()
            try:
                await scenario(store)
            finally:
                await store.aclose()

        asyncio.run(main())

    return runner


def test_reserve_adds_to_every_bucket_or_to_none(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        buckets = [Bucket("a", 100, 60), Bucket("b", 50, 60), Bucket("c", None, 60)]
        assert (await store.reserve(buckets, 30)).values == (30, 30, 30)
        refused = await store.reserve(buckets, 30)
        assert not refused.accepted
        assert refused.refused_index == 1
        assert await store.read_ints(["a", "b", "c"]) == [30, 30, 30]
        await store.adjust(buckets, -10)
        assert await store.read_ints(["a", "b", "c"]) == [20, 20, 20]

    run(scenario)


def test_concurrent_reservations_never_pass_the_limit(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        bucket = [Bucket("spend", 1000, 60)]
        results = await asyncio.gather(*(store.reserve(bucket, 70) for _ in range(50)))
        assert sum(r.accepted for r in results) == 14  # 14 * 70 = 980 <= 1000 < 15 * 70
        assert await store.read_ints(["spend"]) == [980]

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


def test_limits_storage_runs_a_sliding_window(run: Callable[[Scenario], None]) -> None:
    async def scenario(store: Store) -> None:
        limiter = SlidingWindowCounterRateLimiter(store.limits_storage())
        item = RateLimitItemPerMinute(3)
        assert [await limiter.hit(item, "c") for _ in range(4)] == [True, True, True, False]
        assert await limiter.hit(item, "c", cost=-1)  # a refund, as reconciliation uses it
        assert await limiter.hit(item, "c")

    run(scenario)
