"""What the fault-and-abuse campaign checked and found sound, kept as regression tests (issue 12).

A storm of upstream faults, Redis killed under load, and worker memory under sustained load. Every load
loop here is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx2

from service.contract import READY_PATH
from service.stub.testing import StubServer
from tests.conftest import ServiceFactory
from tests.support.redis import RedisServer
from tests.support.service import ServiceProcess

CHAT = "/v1/chat/completions"
LOAD_SECONDS = 120  # no load loop here may run longer


async def _load(
    svc: ServiceProcess,
    count: int,
    concurrency: int,
    body: Callable[[int], dict[str, object]],
    on_done: Callable[[int], None] = lambda _: None,
) -> list[httpx2.Response]:
    """`count` requests, `concurrency` at a time; `on_done(n)` after each of the first n completes."""
    limit = asyncio.Semaphore(concurrency)
    done = 0
    headers = {"Authorization": f"Bearer {svc.api_key}"}
    async with httpx2.AsyncClient(base_url=svc.base_url, headers=headers, timeout=60) as client:

        async def one(i: int) -> httpx2.Response:
            nonlocal done
            async with limit:
                response = await client.post("/chat/completions", json=body(i))
            done += 1
            on_done(done)
            return response

        return list(await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(count))), LOAD_SECONDS))


def _plain(i: int) -> dict[str, object]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"request {i}"}], "max_tokens": 20}


def test_a_fault_storm_yields_no_500_every_429_says_when_and_retries_stay_bounded(
    make_service: ServiceFactory, stub: StubServer
) -> None:
    stub.faults(
        [  # 30% of upstream calls answer 429, 5% answer 500 (0.05 / 0.7 of those the first fault let through)
            {"path": CHAT, "status": 429, "retry_after_ms": 10, "probability": 0.3, "count": 100_000},
            {"path": CHAT, "status": 500, "probability": 0.05 / 0.7, "count": 100_000},
        ]
    )
    with make_service(UPSTREAM_MAX_RETRIES="2") as svc:
        responses = asyncio.run(_load(svc, 2000, 20, _plain))
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 429, 502}, statuses
    assert statuses[200] > 1800  # the SDK's retries absorb most faults
    for refused in (r for r in responses if r.status_code == 429):
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["type"] == "rate_limit_error"
    assert stub.requests_to(CHAT) <= 2000 * 3  # one call and at most two retries each


def test_redis_killed_under_load_costs_no_request(
    make_service: ServiceFactory, redis_server: RedisServer, redis_url: str, stub: StubServer
) -> None:
    with make_service(REDIS_URL=redis_url, CLIENT_REQUESTS_PER_MINUTE="100000") as svc:

        def chaos(done: int) -> None:
            if done == 150:
                redis_server.stop()  # SIGKILL, mid-load
            elif done == 350:
                redis_server.start()

        started = time.monotonic()
        responses = asyncio.run(_load(svc, 500, 20, _plain, chaos))
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 10  # each worker probes Redis again within about a second
        while not httpx2.get(svc.url + READY_PATH).json()["checks"]["state"].startswith("ok"):
            assert time.monotonic() < deadline, "the service did not get Redis back"
            time.sleep(0.1)
        logs = svc.logs()
    assert Counter(r.status_code for r in responses) == {200: 500}
    assert elapsed < 60  # nobody waited on a dead Redis
    assert "state_fail_open" in logs


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def _worker_pid(svc: ServiceProcess) -> int:
    children = Path(f"/proc/{svc.process.pid}/task/{svc.process.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def test_worker_memory_stays_flat_under_sustained_load(make_service: ServiceFactory, stub: StubServer) -> None:
    def mixed(i: int) -> dict[str, object]:
        return _plain(i) | {"stream": i % 2 == 0, "user": f"end-user-{i}"}

    with make_service(workers=1) as svc:
        worker = _worker_pid(svc)
        asyncio.run(_load(svc, 500, 20, mixed))  # warm up: imports, pools, caches at their working size
        warm = _rss_kib(worker)
        for _ in range(3):
            asyncio.run(_load(svc, 500, 20, mixed))
        after = _rss_kib(worker)
    growth_mib = (after - warm) / 1024
    print(f"\nworker RSS {warm / 1024:.1f} MiB after warm-up, {after / 1024:.1f} MiB after 1500 more requests")
    assert growth_mib < 8, f"worker RSS grew {growth_mib:.1f} MiB over 1500 requests after warm-up"
