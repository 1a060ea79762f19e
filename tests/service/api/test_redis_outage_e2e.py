"""Redis killed mid-test and restarted: the service keeps answering, reports it, and resumes by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

from service.contract import READY_PATH
from service.stub.testing import StubServer
from tests.conftest import service_env
from tests.support.redis import RedisServer
from tests.support.service import ServiceProcess, run_service

REQUEST: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "outage"}],
    "temperature": 0,
}


@pytest.fixture(scope="module")
def outage_services(
    redis_server: RedisServer, stub_server: StubServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    common = {"REDIS_URL": redis_server.url, "CLIENT_REQUESTS_PER_MINUTE": "1000"}
    with (
        run_service(tmp_path_factory.mktemp("open"), service_env(stub_server, **common)) as fail_open,
        run_service(
            tmp_path_factory.mktemp("closed"),
            service_env(stub_server, **common, STATE_FAILURE_POLICY="closed"),
        ) as fail_closed,
    ):
        yield fail_open, fail_closed


def _cache_status(svc: ServiceProcess) -> str:
    raw = svc.client().chat.completions.with_raw_response.create(**REQUEST)
    return raw.headers["x-cache"]


def _readiness(svc: ServiceProcess) -> dict[str, Any]:
    response = httpx2.get(svc.url + READY_PATH)
    assert response.status_code == 200  # degraded, not out of service
    body: dict[str, Any] = response.json()
    return body


def test_redis_killed_mid_test_and_restarted(
    outage_services: tuple[ServiceProcess, ServiceProcess], redis_server: RedisServer, redis_url: str, stub: StubServer
) -> None:
    svc, closed = outage_services
    assert [_cache_status(svc), _cache_status(svc)] == ["MISS", "HIT"]

    redis_server.stop()
    assert [_cache_status(svc) for _ in range(4)] == ["BYPASS"] * 4  # both workers keep answering
    stream = svc.client().chat.completions.create(**REQUEST, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert _readiness(svc)["checks"]["state"].startswith("degraded: redis unavailable")
    assert "fail open" in _readiness(svc)["checks"]["state"]
    assert "state_fail_open" in svc.logs()
    with pytest.raises(openai.InternalServerError) as refused:  # fail closed: 503, before any upstream call
        closed.client().chat.completions.create(**REQUEST | {"temperature": 1})
    assert refused.value.status_code == 503
    upstream_calls = stub.requests_to("/v1/chat/completions")

    redis_server.start()  # empty, on the same port; no service restart
    deadline = time.monotonic() + 10
    statuses: list[str] = []
    while time.monotonic() < deadline and statuses[-2:] != ["MISS", "HIT"]:
        statuses.append(_cache_status(svc))
        time.sleep(0.1)
    assert statuses[-2:] == ["MISS", "HIT"]
    assert _readiness(svc)["checks"]["state"].startswith("ok")
    # Each worker of the fail-closed service notices within its probe interval (about a second).
    deadline = time.monotonic() + 10
    answered = 0
    while time.monotonic() < deadline and answered < 4:  # several in a row: both workers are back
        try:
            closed.client().chat.completions.create(**REQUEST | {"temperature": 1})
            answered += 1
        except openai.InternalServerError:
            answered = 0
            time.sleep(0.1)
    assert answered == 4
    assert stub.requests_to("/v1/chat/completions") > upstream_calls


def test_readiness_names_no_internal_host_while_redis_is_down(
    outage_services: tuple[ServiceProcess, ServiceProcess], redis_server: RedisServer, redis_url: str
) -> None:
    svc, _ = outage_services
    redis_server.stop()
    body = httpx2.get(svc.url + READY_PATH).text  # no key needed: anyone can read this
    redis_server.start()
    assert "degraded: redis unavailable" in body
    for internal in ("127.0.0.1", str(redis_server.port), "Error", "onnect"):
        assert internal not in body
    assert f":{redis_server.port}" in svc.logs() or str(redis_server.port) in svc.logs()  # the detail is logged
