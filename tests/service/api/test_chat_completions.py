"""Chat completions through the real service (gunicorn, 2 workers) with the official SDK as client."""

from __future__ import annotations

import json
import time

import httpx2
import openai
import pytest

from service.stub.testing import StubServer
from tests.support.service import ServiceProcess

MESSAGES = [{"role": "user", "content": "Say hello to the production template"}]


def _chat_requests(stub: StubServer) -> list[dict[str, object]]:
    return [r for r in stub.stats()["recent"] if r["path"] == "/v1/chat/completions"]


def test_non_streaming_completion_is_relayed_with_usage(service: ServiceProcess, stub: StubServer) -> None:
    raw = service.client().chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    completion = raw.parse()

    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens > 0
    assert raw.headers["x-request-id"]
    assert stub.requests_to("/v1/chat/completions") == 1


def test_streamed_chunks_arrive_in_order_and_match_the_full_answer(service: ServiceProcess, stub: StubServer) -> None:
    client = service.client()
    full = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0].message.content
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_ends_with_done_and_usage_is_requested_upstream_even_if_not_asked(
    service: ServiceProcess, stub: StubServer
) -> None:
    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
    with httpx2.stream(
        "POST",
        f"{service.base_url}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {service.api_key}"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]

    assert events[-1] == "data: [DONE]"
    assert not any('"usage":{' in e for e in events), "the client did not ask for the usage chunk"
    sent = _chat_requests(stub)[-1]["body"]
    assert isinstance(sent, dict)
    assert sent["stream_options"] == {"include_usage": True}


def test_quiet_stream_gets_heartbeat_comments(make_service, stub: StubServer) -> None:
    stub.faults([{"path": "/v1/chat/completions", "stall_after_chunks": 2, "stall_ms": 1200}])
    with make_service(SSE_HEARTBEAT_SECONDS="0.3") as svc:
        body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
        with httpx2.stream(
            "POST", f"{svc.base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {svc.api_key}"}
        ) as response:
            lines = list(response.iter_lines())

    assert ": keep-alive" in lines
    assert lines[lines.index(": keep-alive") - 1] == "" or lines.index(": keep-alive") > 2
    assert [line for line in lines if line][-1] == "data: [DONE]"


def test_stream_longer_than_the_budget_ends_with_an_error_event(make_service, stub: StubServer) -> None:
    stub.faults([{"path": "/v1/chat/completions", "stall_after_chunks": 1, "stall_ms": 5000}])
    with make_service(MAX_STREAM_SECONDS="1", SSE_HEARTBEAT_SECONDS="0.2") as svc:
        stream = svc.client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIError, match="exceeded this service's limit of 1s"):
            list(stream)


def test_stop_and_hashed_user_are_sent_upstream(service: ServiceProcess, stub: StubServer) -> None:
    service.client().chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stop=["END"], user="alice@example.com"
    )
    sent = _chat_requests(stub)[-1]["body"]
    assert isinstance(sent, dict)
    assert sent["stop"] == ["END"]
    assert sent["user"] != "alice@example.com"
    assert len(sent["user"]) == 32
    assert sent["max_completion_tokens"] == 512  # the default when the client sets none


def test_safety_identifier_goes_upstream_hashed_and_nothing_is_stored(
    service: ServiceProcess, stub: StubServer
) -> None:
    service.client().chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, safety_identifier="alice@example.com", store=True
    )
    sent = _chat_requests(stub)[-1]["body"]
    assert isinstance(sent, dict)
    assert sent["safety_identifier"] != "alice@example.com"
    assert len(sent["safety_identifier"]) == 32
    assert sent["store"] is False  # UPSTREAM_STORE=false, the default: OpenAI keeps no stored completion


def test_models_lists_the_allow_lists_in_openai_format(make_service) -> None:
    with make_service(ALLOWED_MODELS="gpt-4.1-mini,gpt-4o", DEFAULT_MODEL="gpt-4o") as svc:
        models = [m.id for m in svc.client().models.list()]
    assert models == ["gpt-4.1-mini", "gpt-4o", "text-embedding-3-small"]  # chat, then embedding models


def test_org_and_project_headers_are_forwarded(make_service, stub: StubServer) -> None:
    with make_service(OPENAI_ORG_ID="org-template", OPENAI_PROJECT_ID="proj_template") as svc:
        svc.client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    headers = _chat_requests(stub)[-1]["headers"]
    assert isinstance(headers, dict)
    assert headers["openai-organization"] == "org-template"
    assert headers["openai-project"] == "proj_template"


def test_request_id_is_accepted_echoed_and_logged(service: ServiceProcess, stub: StubServer) -> None:
    response = httpx2.get(
        f"{service.base_url}/models",
        headers={"Authorization": f"Bearer {service.api_key}", "X-Request-ID": "trace-abc.123"},
    )
    assert response.headers["x-request-id"] == "trace-abc.123"
    unsafe = httpx2.get(
        f"{service.base_url}/models",
        headers={"Authorization": f"Bearer {service.api_key}", "X-Request-ID": "bad id\twith tab"},
    )
    assert unsafe.headers["x-request-id"] != "bad id\twith tab"


def test_health_ready_and_docs(service: ServiceProcess) -> None:
    assert httpx2.get(f"{service.url}/healthz").json() == {"status": "ok"}
    ready = httpx2.get(f"{service.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["openai_key"] == "ok"
    assert httpx2.get(f"{service.url}/docs").status_code == 200


def test_a_client_leaving_mid_stream_is_one_disconnect_line_and_a_499(make_service, stub: StubServer) -> None:
    stub.configure(tokens_per_second=20)  # a stream that lasts a few seconds
    with make_service(workers=1) as svc:
        body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
        headers = {"Authorization": f"Bearer {svc.api_key}", "X-Request-ID": "leaves-mid-stream"}
        with httpx2.stream("POST", f"{svc.base_url}/chat/completions", json=body, headers=headers) as response:
            assert response.status_code == 200
            next(response.iter_bytes())  # the first event arrived; the client goes away
        deadline = time.monotonic() + 20
        while not any(
            '"leaves-mid-stream"' in line and '"event":"request"' in line for line in svc.logs().splitlines()
        ):
            assert time.monotonic() < deadline, "the request's line was never written"
            time.sleep(0.05)  # polling for the line, bounded by the deadline
        svc.stop()
        lines = [json.loads(line) for line in svc.logs().splitlines() if line.startswith("{")]

    mine = [line for line in lines if line.get("request_id") == "leaves-mid-stream"]
    assert [line for line in mine if line.get("event") == "client_disconnected"] != []
    assert len([line for line in mine if line.get("event") == "client_disconnected"]) == 1
    (request_line,) = [line for line in mine if line.get("event") == "request"]
    assert request_line["status"] == 499
    assert request_line["outcome"] == "499"
    assert "Task exception was never retrieved" not in svc.logs()
