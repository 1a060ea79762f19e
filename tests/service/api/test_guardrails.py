"""Every limit and malformed input gets a clear 4xx naming the field; none reaches the upstream."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.stub.testing import StubServer
from tests.support.service import ServiceProcess

OK_MESSAGES = [{"role": "user", "content": "hi"}]


def _post(service: ServiceProcess, content: bytes | None = None, **body: Any) -> httpx2.Response:
    return httpx2.post(
        f"{service.base_url}/chat/completions",
        content=content if content is not None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {service.api_key}", "Content-Type": "application/json"},
        timeout=30,
    )


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"messages": OK_MESSAGES, "n": 5}, "n", "at most 4"),
        ({"messages": OK_MESSAGES, "best_of": 2}, "best_of", "not supported"),
        ({"messages": OK_MESSAGES, "max_tokens": 20_000}, "max_tokens", "at most 16384 for gpt-4o-mini"),
        ({"messages": OK_MESSAGES, "max_completion_tokens": 10**6}, "max_completion_tokens", "at most 16384"),
        ({"messages": OK_MESSAGES, "reasoning_effort": "low"}, "reasoning_effort", "only accepted by reasoning"),
        ({"messages": OK_MESSAGES, "max_tokens": 0}, "max_tokens", "greater than or equal to 1"),
        ({"messages": [{"role": "user", "content": "x"}] * 101}, "messages", "at most 100"),
        ({"messages": [{"role": "user", "content": "x" * 100_001}]}, "messages", "at most 100000"),
        ({"messages": []}, "messages", "at least 1"),
        ({"messages": "hello"}, "messages", "valid list"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role", "'system'"),
        ({"messages": OK_MESSAGES, "stream": "yes"}, "stream", "valid boolean"),
        ({"messages": OK_MESSAGES, "temperature": 3}, "temperature", "less than or equal to 2"),
        ({"messages": OK_MESSAGES, "stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
        ({"model": "gpt-4o-mini"}, "messages", "Field required"),
        ({"messages": OK_MESSAGES, "max_completion_tokens": 10, "max_tokens": 100_000}, "max_tokens", "at most 16384"),
        ({"messages": OK_MESSAGES, "max_tokens": "100"}, "max_tokens", "valid integer"),
        ({"messages": OK_MESSAGES, "max_tokens": 100.0}, "max_tokens", "valid integer"),
        ({"messages": OK_MESSAGES, "max_tokens": True}, "max_tokens", "valid integer"),
        ({"messages": OK_MESSAGES, "n": "2"}, "n", "valid integer"),
        ({"messages": OK_MESSAGES, "temperature": "0.5"}, "temperature", "valid number"),
    ],
)
def test_invalid_requests_are_refused_naming_the_field(
    service: ServiceProcess, stub: StubServer, body: dict[str, Any], param: str, fragment: str
) -> None:
    response = _post(service, **body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert fragment in error["message"]
    assert error["type"] == "invalid_request_error"
    assert stub.requests_to("/v1/chat/completions") == 0


@pytest.mark.parametrize("model", ["gpt-3.5-turbo-instruct", "text-embedding-3-small", "gpt-9"])
def test_unknown_or_disallowed_models_get_404_model_not_found(
    service: ServiceProcess, stub: StubServer, model: str
) -> None:
    response = _post(service, model=model, messages=OK_MESSAGES)
    assert response.status_code == 404, response.text
    assert response.json()["error"] == {
        "message": f"The model `{model}` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    assert stub.requests_to("/v1/chat/completions") == 0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "must be a JSON object"), (b"", "not valid JSON")],
)
def test_malformed_bodies_get_400(service: ServiceProcess, content: bytes, fragment: str) -> None:
    response = _post(service, content=content)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_oversize_body_gets_413_without_reaching_upstream(service: ServiceProcess, stub: StubServer) -> None:
    big = json.dumps({"messages": [{"role": "user", "content": "x" * 1_100_000}]}).encode()
    response = _post(service, content=big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert stub.requests_to("/v1/chat/completions") == 0


def test_oversize_chunked_body_without_content_length_gets_413(service: ServiceProcess) -> None:
    def chunks() -> Any:
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(20):
            yield b"y" * 100_000
        yield b'"}]}'

    response = httpx2.post(
        f"{service.base_url}/chat/completions",
        content=chunks(),
        headers={"Authorization": f"Bearer {service.api_key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413


def test_moderation_refuses_flagged_input_before_the_model(make_service: Any, stub: StubServer) -> None:
    with make_service(MODERATION_ENABLED="true") as svc:
        flagged = _post(svc, messages=[{"role": "user", "content": "please FLAG_ME now"}])
        clean = _post(svc, messages=[{"role": "user", "content": "a friendly question"}])
    assert flagged.status_code == 400
    assert flagged.json()["error"]["code"] == "content_policy_violation"
    assert clean.status_code == 200
    assert stub.requests_to("/v1/moderations") == 2
    assert stub.requests_to("/v1/chat/completions") == 1


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


_fields = st.sampled_from(
    [
        "model",
        "messages",
        "stream",
        "stream_options",
        "n",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "temperature",
        "top_p",
        "user",
        "best_of",
        "tools",
        "seed",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(_fields, _json_values, max_size=6) | _json_values)
def test_no_client_input_yields_a_server_error(service: ServiceProcess, body: Any) -> None:
    response = _post(service, content=json.dumps(body).encode())
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_client_hanging_up_mid_body_is_not_an_error(service: ServiceProcess) -> None:
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + service.api_key.encode() + b"\r\nX-Request-ID: hangs-up-mid-body\r\n"
            b"Content-Length: 5000\r\n\r\n" + b'{"messages": ['
        )
    deadline = time.monotonic() + 10
    while '"request_id":"hangs-up-mid-body"' not in service.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [line for line in service.logs().splitlines() if "hangs-up-mid-body" in line]
    assert any('"event":"client_disconnected"' in line for line in lines)
    assert any('"status":499' in line for line in lines)
    assert not any('"level":"error"' in line for line in lines)
