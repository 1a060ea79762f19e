"""One Redis round trip before the upstream call and one after, for a fully metered request.

Counted at the server: Redis 7.0's `INFO stats` `total_reads_processed` goes up by one per read of a
client socket, and redis-py writes a command, a pipeline or a script call in one send and waits for its
reply, so a request this small arrives in one read: reads are round trips. The server's count includes
every connection and library (a client-side count sees only what it wraps), and needs no hook in the
service. The second snapshot's own read is left out (bench.redis_cost). `INFO commandstats` shows the
commands, including those a Lua script runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench.redis_cost import RedisCost, RedisCounters, difference
from service.api.metering import Metering
from service.budget import current_windows
from service.cache import CacheStatus
from service.guardrails import prepare_chat_request
from service.settings import Settings
from tests.support.redis import RedisServer

CLIENT = "acme"
# Production configuration: every limit, every budget, the fleet guard and the cache.
LIMITS: dict[str, Any] = {
    "client_requests_per_minute": 1000,
    "client_tokens_per_minute": 1_000_000,
    "upstream_requests_per_minute": 10_000,
    "upstream_tokens_per_minute": 10_000_000,
    "budget_client_daily_soft_usd": 50.0,
    "budget_client_daily_hard_usd": 100.0,
    "budget_client_monthly_soft_usd": 500.0,
    "budget_client_monthly_hard_usd": 1000.0,
    "budget_service_daily_soft_usd": 500.0,
    "budget_service_daily_hard_usd": 1000.0,
    "budget_service_monthly_soft_usd": 5000.0,
    "budget_service_monthly_hard_usd": 10000.0,
    "cache_enabled": True,
}
USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
# OpenAI says the organization's requests are used up for 20 s: the fleet pause is written in the same trip.
UPSTREAM_HEADERS = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "20s"}


def _answer(text: str) -> bytes:
    return (
        b'{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,'
        b'"message":{"role":"assistant","content":"' + text.encode() + b'"},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}'
    )


class Counted:
    """Snapshots of the server's counters around each step."""

    def __init__(self, server: RedisServer) -> None:
        self._client = server.client()
        self._last = RedisCounters.read(self._client)

    def step(self) -> RedisCost:
        now = RedisCounters.read(self._client)
        cost, self._last = difference(self._last, now, 1), now
        return cost

    def close(self) -> None:
        self._client.close()


def _metering(redis_url: str) -> Metering:
    return Metering.build(Settings(_env_file=None, redis_url=redis_url, **LIMITS))  # type: ignore[call-arg]


def _chat(settings: Settings, text: str) -> Any:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "temperature": 0}
    return prepare_chat_request(body, settings, CLIENT)


def test_a_metered_request_costs_one_round_trip_before_the_call_and_one_after(
    redis_server: RedisServer, redis_url: str
) -> None:
    async def main() -> tuple[RedisCost, RedisCost, RedisCost]:
        metering = _metering(redis_url)
        # Warm up: the pool's connection is opened and the scripts are loaded once per process.
        warm = await metering.begin(_chat(metering.settings, "warm up"), CLIENT, {})
        await warm.succeeded(USAGE, _answer("warm"), {})
        counted = Counted(redis_server)
        try:
            call = await metering.begin(_chat(metering.settings, "measured"), CLIENT, {})
            before = counted.step()
            assert call.lookup.status is CacheStatus.MISS
            assert call.headers()["x-ratelimit-limit-requests"] == "1000"
            assert call.headers()["x-ratelimit-limit-tokens"] == "1000000"
            await call.succeeded(USAGE, _answer("measured"), UPSTREAM_HEADERS)
            after = counted.step()
            # Everything the two trips should have done was done: usage, spend, cache, pause.
            report = await metering.usage.report(CLIENT)
            assert report["day"]["requests"] == 2
            assert report["day"]["prompt_tokens"] == 24
            counted.step()
            again = await metering.begin(_chat(metering.settings, "measured"), CLIENT, {})
            hit = counted.step()
            assert again.lookup.status is CacheStatus.HIT
        finally:
            counted.close()
            await metering.aclose()
        return before, after, hit

    before, after, hit = asyncio.run(main())
    assert before.round_trips <= 1, before.render()
    assert after.round_trips <= 1, after.render()
    assert hit.round_trips <= 2, hit.render()  # the lookup, then the hit's usage (saved spend)
    with redis_server.client() as redis:
        label = current_windows()[0].label
        spend = int(redis.hget(f"oai:usage:day:{label}:{CLIENT}", "spend_nanos") or 0)
        assert int(redis.get(f"oai:budget:client:{CLIENT}:day:{label}") or 0) == spend > 0
        assert int(redis.get(f"oai:budget:service::day:{label}") or 0) == spend
        assert redis.exists("oai:upstream:paused-until-ms")


@pytest.mark.parametrize("reason", ["upstream failed", "stream broke"])
def test_giving_everything_back_is_one_round_trip(redis_server: RedisServer, redis_url: str, reason: str) -> None:
    async def main() -> RedisCost:
        metering = _metering(redis_url)
        warm = await metering.begin(_chat(metering.settings, "warm up"), CLIENT, {})
        await warm.failed()
        counted = Counted(redis_server)
        try:
            call = await metering.begin(_chat(metering.settings, reason), CLIENT, {})
            counted.step()
            if reason == "upstream failed":
                await call.failed(RuntimeError(reason))
            else:
                call.stream_finished(None)  # its accounting runs as a task of its own: wait for it
                await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))
            return counted.step()
        finally:
            counted.close()
            await metering.aclose()

    assert asyncio.run(main()).round_trips <= 1
    with redis_server.client() as redis:
        label = current_windows()[0].label
        # Released: nothing was spent (a broken stream keeps its reservation, the safe side).
        held = int(redis.get(f"oai:budget:client:{CLIENT}:day:{label}") or 0)
        assert (held == 0) == (reason == "upstream failed")
        assert not redis.keys("oai:cache-lock:*")  # the fill lock was let go either way
