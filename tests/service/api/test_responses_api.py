"""`POST /v1/responses` with the official Python SDK against gunicorn + the stub, metered like chat completions.

The service shares one real Redis between its two workers, so `/v1/usage` sees what either recorded.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

from service.settings import hash_client_key
from service.stub.testing import StubServer
from tests.conftest import service_env
from tests.support.redis import RedisServer
from tests.support.service import ServiceProcess, run_service

PATH = "/v1/responses"
BROKE_KEY = "key-responses-broke-0123456789"


def _client_key() -> str:
    """A fresh client per module, so its `/v1/usage` holds only these tests' requests."""
    return f"key-responses-{uuid.uuid4().hex}"


def _usage(svc: ServiceProcess, key: str) -> dict[str, Any]:
    day: dict[str, Any] = httpx2.get(svc.url + "/v1/usage", headers={"Authorization": f"Bearer {key}"}).json()["day"]
    return day


@pytest.fixture(scope="module")
def keyed_service(
    redis_server: RedisServer, stub_server: StubServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, str]]:
    key = _client_key()
    env = service_env(
        stub_server,
        REDIS_URL=redis_server.url,
        CLIENT_API_KEYS=json.dumps({hash_client_key(key): "responses-client"}),
        ALLOWED_MODELS="gpt-4o-mini,gpt-5.1",
    )
    with run_service(tmp_path_factory.mktemp("responses-keyed"), env) as process:
        yield process, key


def test_a_response_is_relayed_and_its_usage_and_cost_are_recorded(
    keyed_service: tuple[ServiceProcess, str], stub: StubServer
) -> None:
    svc, key = keyed_service
    before = _usage(svc, key)
    raw = svc.client(api_key=key).responses.with_raw_response.create(model="gpt-4o-mini", input="Say hello")
    response = raw.parse()
    assert response.status == "completed"
    assert response.output_text
    assert raw.headers["x-cache"] == "BYPASS"  # temperature not 0: not reusable
    after = _usage(svc, key)
    assert response.usage is not None
    assert after["requests"] - before["requests"] == 1
    assert after["prompt_tokens"] - before["prompt_tokens"] == response.usage.input_tokens
    assert after["completion_tokens"] - before["completion_tokens"] == response.usage.output_tokens
    assert after["spend_usd"] > before["spend_usd"]


def test_a_streamed_response_ends_with_completed_and_its_usage_is_recorded(
    keyed_service: tuple[ServiceProcess, str], stub: StubServer
) -> None:
    svc, key = keyed_service
    before = _usage(svc, key)
    events = list(svc.client(api_key=key).responses.create(model="gpt-4o-mini", input="Say hello", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    completed = events[-1].response
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == completed.output_text
    after = _usage(svc, key)
    assert completed.usage is not None
    assert after["prompt_tokens"] - before["prompt_tokens"] == completed.usage.input_tokens
    assert after["completion_tokens"] - before["completion_tokens"] == completed.usage.output_tokens


def test_the_sdk_stream_helper_gets_the_final_response(keyed_service: tuple[ServiceProcess, str]) -> None:
    svc, key = keyed_service
    with svc.client(api_key=key).responses.stream(model="gpt-4o-mini", input="Say hello") as stream:
        final = stream.get_final_response()
    assert final.status == "completed"
    assert final.output_text


def test_reasoning_tokens_are_logged_and_billed_as_output(keyed_service: tuple[ServiceProcess, str]) -> None:
    svc, key = keyed_service
    raw = svc.client(api_key=key).responses.with_raw_response.create(
        model="gpt-5.1", input="Think, then say hello", reasoning={"effort": "low"}
    )
    usage = raw.parse().usage
    assert usage is not None
    assert usage.output_tokens_details.reasoning_tokens > 0
    request_id = raw.headers["x-request-id"]
    line = svc.log_line('"event":"request"', f'"request_id":"{request_id}"')
    assert line["reasoning_tokens"] == usage.output_tokens_details.reasoning_tokens
    assert line["completion_tokens"] == usage.output_tokens  # reasoning included, as OpenAI bills it
    assert line["cost_usd"] > 0


def test_max_output_tokens_gets_the_models_default_and_its_cap(service: ServiceProcess, stub: StubServer) -> None:
    client = service.client()
    client.responses.create(model="gpt-4o-mini", input="hi")
    sent = stub.last_request(PATH)["body"]
    assert isinstance(sent["max_output_tokens"], int)
    assert sent["store"] is False  # the service's retention policy (UPSTREAM_STORE=false)
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="gpt-4o-mini", input="hi", max_output_tokens=10_000_000)
    assert refused.value.param == "max_output_tokens"


def test_an_unknown_model_is_a_not_found_error_before_any_upstream_call(
    service: ServiceProcess, stub: StubServer
) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        service.client().responses.create(model="gpt-unknown", input="hi")
    assert missing.value.code == "model_not_found"
    assert stub.requests_to(PATH) == 0


def test_previous_response_id_passes_through_unless_refused(
    service: ServiceProcess, make_service: Any, stub: StubServer
) -> None:
    service.client().responses.create(model="gpt-4o-mini", input="and then?", previous_response_id="resp_earlier")
    assert stub.last_request(PATH)["body"]["previous_response_id"] == "resp_earlier"
    with (
        make_service(workers=1, RESPONSES_ALLOW_STORED_STATE="false") as strict,
        pytest.raises(openai.BadRequestError) as refused,
    ):
        strict.client().responses.create(model="gpt-4o-mini", input="hi", previous_response_id="resp_earlier")
    assert refused.value.param == "previous_response_id"
    assert "RESPONSES_ALLOW_STORED_STATE" in refused.value.message


def test_a_deterministic_response_is_answered_from_the_cache_the_second_time(
    keyed_service: tuple[ServiceProcess, str], stub: StubServer
) -> None:
    svc, key = keyed_service
    client = svc.client(api_key=key)
    prompt = f"Repeat after me: {uuid.uuid4().hex}"
    first = client.responses.with_raw_response.create(model="gpt-4o-mini", input=prompt, temperature=0)
    second = client.responses.with_raw_response.create(model="gpt-4o-mini", input=prompt, temperature=0)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert second.parse().output_text == first.parse().output_text
    assert stub.requests_to(PATH) == 1


def test_a_client_over_its_budget_is_refused_with_insufficient_quota(
    redis_server: RedisServer, stub: StubServer, make_service: Any
) -> None:
    with (
        make_service(
            workers=1,
            REDIS_URL=redis_server.url,
            CLIENT_API_KEYS=json.dumps({hash_client_key(BROKE_KEY): "broke-client"}),
            BUDGET_CLIENT_DAILY_HARD_USD="0.000001",  # less than any response's most expensive case
        ) as svc,
        pytest.raises(openai.RateLimitError) as refused,
    ):
        svc.client(api_key=BROKE_KEY).responses.create(model="gpt-4o-mini", input="hi")
    assert refused.value.code == "insufficient_quota"
    assert stub.requests_to(PATH) == 0
