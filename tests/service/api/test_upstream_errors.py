"""What the client sees when OpenAI misbehaves: retries first, then an OpenAI-shaped error."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx2
import openai
import pytest

from service.contract import METRIC_DIMENSION, Metrics
from service.stub.testing import StubServer, free_port
from tests.conftest import UPSTREAM_KEY, ServiceFactory, service_env
from tests.support.service import ServiceProcess, run_service

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def fast_fail_service(stub_server: StubServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """No SDK retries and a 2 s budget, so timeouts and single failures are quick to provoke."""
    env = service_env(stub_server, UPSTREAM_MAX_RETRIES="0", MAX_STREAM_SECONDS="2")
    with run_service(tmp_path_factory.mktemp("fast-fail"), env) as process:
        yield process


def _post(service: ServiceProcess, body: object | None = None) -> httpx2.Response:
    return httpx2.post(
        f"{service.base_url}/chat/completions",
        json=body or {"model": "gpt-4o-mini", "messages": MESSAGES},
        headers={"Authorization": f"Bearer {service.api_key}"},
        timeout=30,
    )


def _assert_openai_shaped(response: httpx2.Response) -> dict[str, object]:
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    return error


def test_two_429s_are_retried_by_the_sdk_and_the_client_sees_one_success(
    service: ServiceProcess, stub: StubServer
) -> None:
    stub.faults([{"path": "/v1/chat/completions", "status": 429, "retry_after_ms": 10, "count": 2}])
    completion = service.client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.choices[0].message.content
    assert stub.requests_to("/v1/chat/completions") == 3


def test_persistent_429_becomes_429_with_retry_after(service: ServiceProcess, stub: StubServer) -> None:
    stub.faults([{"path": "/v1/chat/completions", "status": 429, "retry_after_ms": 10, "count": 3}])
    response = _post(service)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert _assert_openai_shaped(response)["type"] == "rate_limit_error"
    assert stub.requests_to("/v1/chat/completions") == 3  # one call and the SDK's two retries


def test_sdk_client_gets_rate_limit_error(fast_fail_service: ServiceProcess, stub: StubServer) -> None:
    stub.faults([{"path": "/v1/chat/completions", "status": 429, "retry_after_ms": 10}])
    with pytest.raises(openai.RateLimitError):
        fast_fail_service.client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def test_upstream_5xx_becomes_502(fast_fail_service: ServiceProcess, stub: StubServer) -> None:
    stub.faults([{"path": "/v1/chat/completions", "status": 500}])
    response = _post(fast_fail_service)
    assert response.status_code == 502
    assert _assert_openai_shaped(response)["code"] == "upstream_error"


def test_upstream_timeout_becomes_504(fast_fail_service: ServiceProcess, stub: StubServer) -> None:
    stub.faults([{"path": "/v1/chat/completions", "hang": True}])
    response = _post(fast_fail_service)
    assert response.status_code == 504
    assert _assert_openai_shaped(response)["code"] == "upstream_timeout"


def test_upstream_400_is_passed_on_with_its_message(fast_fail_service: ServiceProcess, stub: StubServer) -> None:
    stub.faults(
        [{"path": "/v1/chat/completions", "status": 400, "message": "Invalid 'tools[0].function.name': too long."}]
    )
    response = _post(fast_fail_service)
    assert response.status_code == 400
    assert _assert_openai_shaped(response)["message"] == "Invalid 'tools[0].function.name': too long."


def test_bad_upstream_key_is_a_502_and_never_shown(make_service: ServiceFactory, stub: StubServer) -> None:
    stub.configure(api_keys=["sk-other-key-the-stub-wants"])
    with make_service(UPSTREAM_MAX_RETRIES="0") as svc:
        response = _post(svc)
        logs = svc.logs()
    assert response.status_code == 502
    assert _assert_openai_shaped(response)["message"] == "Upstream authentication failed"
    assert "upstream_authentication_failed" in logs
    for text in (response.text, logs):
        assert UPSTREAM_KEY not in text
        assert UPSTREAM_KEY[-8:] not in text


def test_unreachable_upstream_becomes_502(make_service: ServiceFactory) -> None:
    closed_port = free_port()  # nothing listens there
    with make_service(OPENAI_BASE_URL=f"http://127.0.0.1:{closed_port}/v1", UPSTREAM_MAX_RETRIES="0") as svc:
        response = _post(svc)
    assert response.status_code == 502
    assert _assert_openai_shaped(response)["code"] == "upstream_unreachable"


def test_keys_never_reach_logs_or_bodies(service: ServiceProcess, stub: StubServer) -> None:
    service.client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    stub.faults([{"path": "/v1/chat/completions", "status": 500, "count": 3}])
    _post(service)
    logs = service.logs()
    assert '"event":"request"' in logs  # the log is really being written
    assert UPSTREAM_KEY not in logs


def test_upstream_429_after_retries_emits_the_alarm_metric(fast_fail_service: ServiceProcess, stub: StubServer) -> None:
    stub.faults([{"path": "/v1/chat/completions", "status": 429, "retry_after_ms": 10}])
    assert _post(fast_fail_service).status_code == 429
    records = [json.loads(line) for line in fast_fail_service.logs().splitlines() if '"_aws"' in line]
    metric = [r for r in records if Metrics.UPSTREAM_RATE_LIMITED in r]
    assert metric, "no UpstreamRateLimited EMF record was written"
    assert metric[-1]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == Metrics.NAMESPACE
    assert metric[-1][METRIC_DIMENSION] == "local"


def test_a_sub_second_retry_after_pauses_the_fleet_only_that_long(
    make_service: ServiceFactory, stub: StubServer
) -> None:
    stub.faults([{"path": "/v1/chat/completions", "status": 429, "retry_after_ms": 50}])
    with make_service(workers=1, UPSTREAM_MAX_RETRIES="0") as svc:
        refused = _post(svc)
        started = time.monotonic()
        answered = _post(svc)  # the pause OpenAI asked for is 50 ms: this one must not wait a second
        waited = time.monotonic() - started
        logs = svc.logs()
    assert refused.status_code == 429
    assert refused.headers["retry-after-ms"] == "50"
    assert refused.headers["retry-after"] == "1"  # HTTP's whole seconds, rounded up
    assert answered.status_code == 200
    assert waited < 0.5
    assert '"event":"upstream_rate_limit_pause"' in logs
    assert '"seconds":0.05' in logs
