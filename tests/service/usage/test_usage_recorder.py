"""Usage figures add up across workers, split spend from saved spend, and list clients for admins."""

from __future__ import annotations

import asyncio

import pytest

from service.budget import nanos_from_usd
from service.state import StateConfig, build_shared_state
from service.usage import UsageEvent, UsageRecorder
from tests.support.redis import RedisServer


def test_usage_adds_up_across_workers_and_separates_saved_spend(redis_url: str) -> None:
    async def main() -> None:
        a = UsageRecorder(build_shared_state(StateConfig(redis_url=redis_url)))
        b = UsageRecorder(build_shared_state(StateConfig(redis_url=redis_url)))
        call = UsageEvent("acme", "gpt-4o-mini", 100, 20, 50, nanos_from_usd(0.001))
        hit = UsageEvent("acme", "gpt-4o-mini", 100, 0, 50, nanos_from_usd(0.001), cache_hit=True)
        await asyncio.gather(
            a.record(call), b.record(call), a.record(hit), b.record(UsageEvent("zeta", "m", 1, 0, 1, 7))
        )
        report = await b.report("acme")
        for period in ("day", "month"):
            figures = report[period]
            assert figures["requests"] == 3
            assert (figures["prompt_tokens"], figures["cached_prompt_tokens"]) == (200, 40)
            assert (figures["completion_tokens"], figures["total_tokens"]) == (100, 300)
            assert figures["spend_usd"] == pytest.approx(0.002)
            assert (figures["cache_hits"], figures["saved_tokens"]) == (1, 150)
            assert figures["saved_usd"] == pytest.approx(0.001)
        assert [r["client_id"] for r in await a.report_all()] == ["acme", "zeta"]

    asyncio.run(main())


def test_usage_recorded_while_redis_is_down_is_written_when_it_returns(
    redis_server: RedisServer, redis_url: str
) -> None:
    async def main() -> None:
        state = build_shared_state(StateConfig(redis_url=redis_url, probe_interval_seconds=0.1))
        recorder = UsageRecorder(state)
        redis_server.stop()
        await recorder.record(UsageEvent("acme", "gpt-4o-mini", 10, 0, 5, 7))  # does not fail the request
        await recorder.record(UsageEvent("acme", "gpt-4o-mini", 20, 0, 5, 7))
        assert state.deferred.pending > 0
        redis_server.start()
        for _ in range(50):  # the retry runs every half second
            if not state.deferred.pending:
                break
            await asyncio.sleep(0.1)
        day = (await recorder.report("acme"))["day"]
        assert (day["requests"], day["prompt_tokens"], day["completion_tokens"]) == (2, 30, 10)
        assert [r["client_id"] for r in await recorder.report_all()] == ["acme"]
        await state.aclose()

    asyncio.run(main())
