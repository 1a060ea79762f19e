"""Usage and spend add up under load: 400 concurrent requests, two workers, one real Redis."""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest

from service.budget import current_windows
from service.stub.testing import StubServer
from tests.conftest import ServiceFactory
from tests.support.redis import RedisServer
from tests.support.service import ServiceProcess

CONCURRENT = 400
CHAT = "/v1/chat/completions"
CLIENT = "local-dev"


# Every limit and budget on, so each request makes all its Redis calls.
LIMITS = {
    "ANSWERS_ENABLED": "false",
    "CLIENT_REQUESTS_PER_MINUTE": "100000",
    "CLIENT_TOKENS_PER_MINUTE": "100000000",
    "UPSTREAM_REQUESTS_PER_MINUTE": "100000",
    "UPSTREAM_TOKENS_PER_MINUTE": "100000000",
    "BUDGET_CLIENT_DAILY_HARD_USD": "1000",
    "BUDGET_SERVICE_DAILY_HARD_USD": "1000",
}


def _usage_day(svc: ServiceProcess) -> dict[str, object]:
    response = httpx2.get(svc.url + "/v1/usage", headers={"Authorization": f"Bearer {svc.api_key}"}, timeout=10)
    response.raise_for_status()
    day: dict[str, object] = response.json()["day"]
    return day


@pytest.mark.parametrize(
    "pool",
    [
        pytest.param({}, id="default-pool"),
        # A pool far too small for the load: calls find no free connection in time (that is not an
        # outage), and what they could not write is queued and written later, not dropped.
        pytest.param({"REDIS_MAX_CONNECTIONS": "3", "REDIS_POOL_TIMEOUT_SECONDS": "0.02"}, id="exhausted-pool"),
    ],
)
def test_four_hundred_concurrent_requests_lose_no_usage_and_no_settle(
    make_service: ServiceFactory, redis_server: RedisServer, redis_url: str, stub: StubServer, pool: dict[str, str]
) -> None:
    stub.configure(latency_ms=20)
    with make_service(REDIS_URL=redis_url, **LIMITS, **pool) as svc:
        elapsed, statuses = _load(svc)
        day, counters = _settled(svc, redis_server)
        logs = svc.logs()

    assert statuses == [200] * CONCURRENT
    billed = stub.tokens_billed(CHAT)
    assert stub.requests_to(CHAT) == CONCURRENT
    assert (day["requests"], day["prompt_tokens"], day["completion_tokens"]) == (
        CONCURRENT,
        billed["prompt_tokens"],
        billed["completion_tokens"],
    )
    # Every reservation was settled to the real cost: the budget counters equal the recorded spend.
    spend, client_budget, service_budget = counters
    assert spend > 0
    assert client_budget == spend
    assert service_budget == spend
    for lost in ("Too many connections", "usage_not_recorded", "spend_settle_failed", "state_backend_unavailable"):
        assert lost not in logs
    print(f"\n{CONCURRENT} concurrent requests in {elapsed:.1f}s")


def _load(svc: ServiceProcess) -> tuple[float, list[int]]:
    client = svc.async_client(timeout=60)

    async def one(i: int) -> int:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"load {i}"}], max_tokens=30
        )
        return raw.http_response.status_code

    async def main() -> list[int]:
        return list(await asyncio.gather(*(one(i) for i in range(CONCURRENT))))

    started = time.monotonic()
    statuses = asyncio.run(main())
    return time.monotonic() - started, statuses


def _counters(redis_server: RedisServer) -> tuple[int, int, int]:
    """Today's recorded spend, and the client's and the service's budget counters (nano-dollars)."""
    label = current_windows()[0].label
    with redis_server.client() as redis:
        spend = int(redis.hget(f"oai:usage:day:{label}:{CLIENT}", "spend_nanos") or 0)
        client_budget = int(redis.get(f"oai:budget:client:{CLIENT}:day:{label}") or 0)
        service_budget = int(redis.get(f"oai:budget:service::day:{label}") or 0)
    return spend, client_budget, service_budget


def _settled(svc: ServiceProcess, redis_server: RedisServer) -> tuple[dict[str, object], tuple[int, int, int]]:
    """Usage and counters once everything has arrived (writes queued while Redis was busy come late), bounded."""
    deadline = time.monotonic() + 15
    while True:
        day, counters = _usage_day(svc), _counters(redis_server)
        if (day["requests"] == CONCURRENT and len(set(counters)) == 1) or time.monotonic() > deadline:
            return day, counters
        time.sleep(0.2)
