"""Scripted faults, API keys, rate-limit headers and request observation."""

from __future__ import annotations

import time
import urllib.error

import openai
import pytest

from service.stub.testing import StubServer

from .conftest import API_KEY

MESSAGES = [{"role": "user", "content": "ping"}]
CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"


def _retrying_client(stub: StubServer, **options: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=stub.base_url, api_key=API_KEY, **options)  # type: ignore[arg-type]


def test_two_429s_then_success_is_three_requests(stub: StubServer) -> None:
    stub.faults([{"status": 429, "retry_after_ms": 10, "count": 2}])
    client = _retrying_client(stub, max_retries=2)
    started = time.monotonic()
    completion = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.choices[0].message.content
    assert stub.requests_to(CHAT) == 3
    assert time.monotonic() - started < 2  # the SDK waited retry-after-ms, not its default backoff


def test_429_carries_retry_headers_and_openai_body(client: openai.OpenAI, stub: StubServer) -> None:
    stub.faults([{"status": 429, "retry_after_ms": 1500}])
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    headers = raised.value.response.headers
    assert headers["retry-after-ms"] == "1500"
    assert headers["retry-after"] == "2"
    assert raised.value.code == "rate_limit_exceeded"
    assert raised.value.body == {
        "message": "Rate limit reached for requests (stub). Please try again.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }


def test_429_without_retry_after_still_says_when_to_retry(client: openai.OpenAI, stub: StubServer) -> None:
    stub.faults([{"status": 429}])
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert raised.value.response.headers["retry-after-ms"] == "1000"
    assert raised.value.response.headers["retry-after"] == "1"


def test_faults_are_consumed_in_order(client: openai.OpenAI, stub: StubServer) -> None:
    stub.faults([{"status": 500}, {"status": 400, "message": "bad temperature", "param": "temperature"}])
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="bad temperature") as raised:
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert raised.value.param == "temperature"
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices  # type: ignore[arg-type]


def test_path_filter_leaves_other_endpoints_alone(client: openai.OpenAI, stub: StubServer) -> None:
    stub.faults([{"status": 503, "path": "/v1/embeddings"}])
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices  # type: ignore[arg-type]
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="e", input="x")
    assert stub.faults([]) == []


def test_wrong_key_gets_401_invalid_api_key(stub: StubServer) -> None:
    client = openai.OpenAI(base_url=stub.base_url, api_key="sk-wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert raised.value.status_code == 401
    assert raised.value.code == "invalid_api_key"


def test_keys_can_be_changed_at_runtime(stub: StubServer) -> None:
    stub.configure(api_keys=["sk-rotated"])
    rotated = openai.OpenAI(base_url=stub.base_url, api_key="sk-rotated", max_retries=0)
    assert rotated.models.list().data
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=stub.base_url, api_key=API_KEY, max_retries=0).models.list()
    stub.configure(api_keys=[])
    assert openai.OpenAI(base_url=stub.base_url, api_key="anything", max_retries=0).models.list().data


def test_hang_never_answers(stub: StubServer) -> None:
    stub.faults([{"hang": True}])
    client = _retrying_client(stub, max_retries=0, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert 0.4 < time.monotonic() - started < 3


def test_delay_then_normal_answer(client: openai.OpenAI, stub: StubServer) -> None:
    stub.faults([{"delay_ms": 300}])
    started = time.monotonic()
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices  # type: ignore[arg-type]
    assert time.monotonic() - started >= 0.3


def test_stream_stalls_after_chunks(client: openai.OpenAI, stub: StubServer) -> None:
    stub.faults([{"stall_after_chunks": 2, "stall_ms": 400}])
    # A plain request does not consume a mid-stream fault.
    client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    started = time.monotonic()
    arrivals = [
        time.monotonic() - started for _ in client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    ]  # type: ignore[arg-type]
    assert arrivals[1] < 0.3
    assert arrivals[2] - arrivals[1] >= 0.35
    assert len(arrivals) == 22  # role + 20 tokens + finish


def test_stream_dropped_mid_way_is_an_error(client: openai.OpenAI, stub: StubServer) -> None:
    stub.faults([{"drop_after_chunks": 3}])
    received = []
    with pytest.raises(openai.APIConnectionError):  # noqa: PT012
        for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):  # type: ignore[arg-type]
            received.append(chunk)
    assert len(received) == 3


def test_rate_limit_headers_are_added_to_every_response(client: openai.OpenAI, stub: StubServer) -> None:
    stub.configure(rate_limit_headers={"x-ratelimit-remaining-requests": "5", "x-ratelimit-limit-tokens": "9"})
    raw = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert raw.headers["x-ratelimit-remaining-requests"] == "5"
    assert raw.headers["x-ratelimit-limit-tokens"] == "9"
    assert raw.headers["x-request-id"].startswith("req_")


def test_stats_record_redacted_headers_and_bodies(stub: StubServer) -> None:
    client = openai.OpenAI(
        base_url=stub.base_url, api_key=API_KEY, organization="org-abc", project="proj-xyz", max_retries=0
    )
    client.chat.completions.create(model="m", messages=MESSAGES, extra_headers={"X-Request-ID": "trace-1"})  # type: ignore[arg-type]
    client.embeddings.create(model="e", input="x")
    stats = stub.stats()
    assert stats["total"] == 2
    assert stats["requests"] == {CHAT: 1, "/v1/embeddings": 1}
    chat = stats["recent"][0]
    assert chat["method"] == "POST"
    assert chat["path"] == CHAT
    assert chat["body"]["messages"] == MESSAGES
    assert chat["headers"] == {
        "authorization": "..." + API_KEY[-4:],
        "openai-organization": "org-abc",
        "openai-project": "proj-xyz",
        "x-request-id": "trace-1",
    }


def test_reset_clears_faults_stats_and_config(client: openai.OpenAI, stub: StubServer) -> None:
    stub.faults([{"status": 500, "count": 5}])
    stub.configure(latency_ms=1000)
    with pytest.raises(openai.InternalServerError):
        client.models.list()
    stub.reset()
    assert stub.stats()["total"] == 0
    started = time.monotonic()
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices  # type: ignore[arg-type]
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    "bad",
    [[{"status": 200}], [{"statuss": 500}], [{}], [{"status": 500, "stall_after_chunks": 1}], [{"count": 2}]],
)
def test_invalid_faults_are_refused(stub: StubServer, bad: list[dict[str, object]]) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        stub.faults(bad)
    assert raised.value.code == 400
    assert stub.faults([]) == []


# --- The Responses and model paths take the same faults ----------------------------------------------


def test_responses_429s_then_success_with_retries(stub: StubServer) -> None:
    stub.faults([{"status": 429, "retry_after_ms": 10, "count": 2, "path": RESPONSES}])
    client = _retrying_client(stub, max_retries=2)
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices  # type: ignore[arg-type]
    assert client.responses.create(model="m", input="ping").output_text
    assert stub.requests_to(RESPONSES) == 3
    assert stub.tokens_billed(RESPONSES)["completion_tokens"] == 20  # only the answered request is billed


def test_responses_status_fault_is_an_openai_error(client: openai.OpenAI, stub: StubServer) -> None:
    stub.faults([{"status": 400, "message": "bad reasoning", "param": "reasoning.effort", "path": RESPONSES}])
    with pytest.raises(openai.BadRequestError, match="bad reasoning") as raised:
        client.responses.create(model="m", input="ping")
    assert raised.value.param == "reasoning.effort"


def test_responses_hang_and_delay(stub: StubServer) -> None:
    stub.faults([{"hang": True, "path": RESPONSES}, {"delay_ms": 300, "path": RESPONSES}])
    impatient = _retrying_client(stub, max_retries=0, timeout=0.5)
    with pytest.raises(openai.APITimeoutError):
        impatient.responses.create(model="m", input="ping")
    started = time.monotonic()
    assert _retrying_client(stub, max_retries=0).responses.create(model="m", input="ping").output_text
    assert time.monotonic() - started >= 0.3


def test_responses_stream_stalls_after_events(client: openai.OpenAI, stub: StubServer) -> None:
    list(client.responses.create(model="m", input="ping", stream=True))  # the SDK's first parse of these is slow
    stub.faults([{"stall_after_chunks": 4, "stall_ms": 400, "path": RESPONSES}])
    client.responses.create(model="m", input="ping")  # a plain request does not consume a mid-stream fault
    started = time.monotonic()
    arrivals = [time.monotonic() - started for _ in client.responses.create(model="m", input="ping", stream=True)]
    assert arrivals[3] < 0.3
    assert arrivals[4] - arrivals[3] >= 0.35
    assert len(arrivals) == 4 + 20 + 4  # created, in_progress, item and part added; deltas; dones, completed


def test_responses_stream_dropped_mid_way_is_an_error(client: openai.OpenAI, stub: StubServer) -> None:
    stub.faults([{"drop_after_chunks": 5, "path": RESPONSES}])
    received = []
    with pytest.raises(openai.APIConnectionError):  # noqa: PT012
        for event in client.responses.create(model="m", input="ping", stream=True):
            received.append(event.type)
    assert received[:2] == ["response.created", "response.in_progress"]
    assert len(received) == 5


def test_model_lookup_takes_faults_on_its_own_path(client: openai.OpenAI, stub: StubServer) -> None:
    stub.faults([{"status": 503, "path": "/v1/models/gpt-4o"}])
    assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    with pytest.raises(openai.InternalServerError):
        client.models.retrieve("gpt-4o")
    assert stub.stats()["requests"] == {"/v1/models/gpt-4o-mini": 1, "/v1/models/gpt-4o": 1}
