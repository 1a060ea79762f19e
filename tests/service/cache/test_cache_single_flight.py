"""Single flight, invalidation and outages, with two "workers" (two states) on one real Redis."""

from __future__ import annotations

import asyncio
from typing import Any

from service.cache import CacheMode, CacheStatus, ResponseCache
from service.state import StateConfig, build_shared_state
from tests.support.redis import RedisServer

BODY: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
ANSWER: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


def _worker(url: str, wait_seconds: float = 5.0) -> ResponseCache:
    state = build_shared_state(StateConfig(redis_url=url))
    return ResponseCache(state, ttl_seconds=60, lock_seconds=10, wait_seconds=wait_seconds)


def test_fifty_concurrent_identical_misses_make_one_upstream_call(redis_url: str) -> None:
    async def main() -> None:
        workers = [_worker(redis_url), _worker(redis_url)]
        upstream_calls = 0

        async def request(i: int) -> CacheStatus:
            nonlocal upstream_calls
            cache = workers[i % 2]
            lookup = await cache.lookup(CacheMode.USE, BODY, "acme")
            if lookup.status is CacheStatus.MISS:
                upstream_calls += 1
                await asyncio.sleep(0.2)  # the upstream call
                await cache.fill(lookup, ANSWER)
            else:
                assert lookup.completion == ANSWER
            return lookup.status

        statuses = await asyncio.gather(*(request(i) for i in range(50)))
        assert upstream_calls == 1
        assert statuses.count(CacheStatus.HIT) == 49

    asyncio.run(main())


def test_waiters_take_over_when_the_leader_fails(redis_url: str) -> None:
    async def main() -> None:
        a, b = _worker(redis_url), _worker(redis_url)
        leader = await a.lookup(CacheMode.USE, BODY, "acme")
        assert leader.status is CacheStatus.MISS
        follower = asyncio.create_task(b.lookup(CacheMode.USE, BODY, "acme"))
        await asyncio.sleep(0.05)
        await a.abandon(leader)  # upstream failed: nothing to share
        second = await follower
        assert second.status is CacheStatus.MISS  # it leads now
        await b.fill(second, ANSWER)
        assert (await a.lookup(CacheMode.USE, BODY, "acme")).status is CacheStatus.HIT

    asyncio.run(main())


def test_waiting_is_bounded(redis_url: str) -> None:
    async def main() -> None:
        a, b = _worker(redis_url), _worker(redis_url, wait_seconds=0.2)
        assert (await a.lookup(CacheMode.USE, BODY, "acme")).status is CacheStatus.MISS  # never filled
        assert (await b.lookup(CacheMode.USE, BODY, "acme")).status is CacheStatus.MISS

    asyncio.run(main())


def test_namespace_bump_invalidates_everything_and_refresh_overwrites(redis_url: str) -> None:
    async def main() -> None:
        a, b = _worker(redis_url), _worker(redis_url)
        await a.fill(await a.lookup(CacheMode.USE, BODY, "acme"), ANSWER)
        assert (await b.lookup(CacheMode.USE, BODY, "acme")).status is CacheStatus.HIT
        refresh = await b.lookup(CacheMode.REFRESH, BODY, "acme")
        assert refresh.status is CacheStatus.MISS
        await b.fill(refresh, ANSWER | {"id": "chatcmpl-2"})
        assert (await a.lookup(CacheMode.USE, BODY, "acme")).completion["id"] == "chatcmpl-2"
        assert await b.bump_namespace() == 1
        assert (await a.lookup(CacheMode.USE, BODY, "acme")).status is CacheStatus.MISS

    asyncio.run(main())


def test_incomplete_answers_are_not_stored(redis_url: str) -> None:
    async def main() -> None:
        cache = _worker(redis_url)
        lookup = await cache.lookup(CacheMode.USE, BODY, "acme")
        assert not await cache.fill(lookup, ANSWER | {"choices": [{"index": 0, "finish_reason": None}]})
        assert (await cache.lookup(CacheMode.USE, BODY, "acme")).status is CacheStatus.MISS

    asyncio.run(main())


def test_redis_down_bypasses_the_cache_and_it_resumes_after(redis_server: RedisServer, redis_url: str) -> None:
    async def main() -> None:
        cache = ResponseCache(
            build_shared_state(StateConfig(redis_url=redis_url, probe_interval_seconds=0.1)),
            ttl_seconds=60,
            lock_seconds=10,
            wait_seconds=1,
        )
        redis_server.stop()
        assert (await cache.lookup(CacheMode.USE, BODY, "acme")).status is CacheStatus.BYPASS
        redis_server.start()
        await asyncio.sleep(0.15)
        lookup = await cache.lookup(CacheMode.USE, BODY, "acme")
        assert lookup.status is CacheStatus.MISS
        await cache.fill(lookup, ANSWER)
        assert (await cache.lookup(CacheMode.USE, BODY, "acme")).status is CacheStatus.HIT

    asyncio.run(main())
