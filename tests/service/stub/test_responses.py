"""The Responses API through the official SDK: plain, streamed, the stream helper, reasoning and limits."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

import openai
import pytest

from service.stub import text
from service.stub.testing import StubServer

from .conftest import API_KEY

RESPONSES = "/v1/responses"
GREETING = "Hello there, how are you today?"


def _raw_events(stub: StubServer, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL
        f"{stub.base_url}/responses",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.headers["Content-Type"].startswith("text/event-stream")
        blocks = [block for block in response.read().decode().split("\n\n") if block]
    events = []
    for block in blocks:
        kind, data = block.split("\n")
        events.append((kind.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def test_response_holds_the_reply_and_its_usage(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4o-mini", input=GREETING)
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.model == "gpt-4o-mini"
    assert response.output_text.startswith(f"Stub reply to: {GREETING}")
    assert [item.type for item in response.output] == ["message"]
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens == text.count_tokens(GREETING)
    assert usage.output_tokens == text.count_tokens(response.output_text) == 20
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_instructions_and_input_items_make_the_conversation(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4.1-mini",
        instructions="Use only this context.\n[doc-2] Secrets are stored in AWS Secrets Manager.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Where are the secrets stored?"}]}],
    )
    assert response.output_text == "Secrets are stored in AWS Secrets Manager."
    assert response.instructions is not None


def test_tool_calls_and_their_outputs_do_not_hide_the_question(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o-mini",
        input=[
            {"role": "user", "content": "What is the weather in Paris?"},
            {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
        ],
    )
    assert response.output_text.startswith("Stub reply to: What is the weather in Paris?")


def test_reasoning_models_spend_reasoning_tokens_by_effort(client: openai.OpenAI) -> None:
    low = client.responses.create(model="gpt-5-mini", input=GREETING, reasoning={"effort": "low"})
    default = client.responses.create(model="o4-mini", input=GREETING)
    assert [item.type for item in low.output] == ["reasoning", "message"]
    assert low.usage is not None
    assert default.usage is not None
    assert low.usage.output_tokens_details.reasoning_tokens == text.REASONING_TOKENS["low"]
    assert default.usage.output_tokens_details.reasoning_tokens == text.REASONING_TOKENS["medium"]
    assert low.usage.output_tokens == 20 + text.REASONING_TOKENS["low"]
    assert low.reasoning is not None
    assert low.reasoning.effort == "low"


def test_max_output_tokens_counts_reasoning_and_ends_incomplete(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-5", input=GREETING, max_output_tokens=40)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None
    assert response.usage.output_tokens == 40
    assert response.usage.output_tokens_details.reasoning_tokens == text.REASONING_TOKENS["medium"]
    assert response.output_text == "Stub reply to: Hello there, how"  # 8 visible tokens after 32 reasoning


def test_stream_sends_the_events_in_openai_order(stub: StubServer) -> None:
    events = _raw_events(stub, {"model": "gpt-4o-mini", "input": GREETING, "stream": True, "max_output_tokens": 16})
    kinds = [kind for kind, _ in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 16,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    assert all(data["type"] == kind for kind, data in events)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert events[0][1]["response"]["status"] == "in_progress"
    assert events[0][1]["response"]["usage"] is None
    assert events[-1][1]["response"]["usage"]["output_tokens"] == 16
    assert len({data["response"]["id"] for kind, data in events if "response" in data}) == 1


def test_stream_parses_with_the_sdk(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="o3", input=GREETING, stream=True))
    assert events[0].type == "response.created"
    assert [event.type for event in events[2:4]] == ["response.output_item.added", "response.output_item.done"]
    completed = events[-1]
    assert completed.type == "response.completed"
    usage = completed.response.usage
    assert usage is not None
    assert usage.output_tokens_details.reasoning_tokens == text.REASONING_TOKENS["medium"]
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas == completed.response.output_text


def test_stream_helper_builds_the_final_response(client: openai.OpenAI) -> None:
    with client.responses.stream(model="gpt-5-nano", input=GREETING, reasoning={"effort": "minimal"}) as stream:
        snapshots = [event.snapshot for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.status == "completed"
    assert final.output_text == snapshots[-1]
    assert final.usage is not None
    assert final.usage.output_tokens_details.reasoning_tokens == text.REASONING_TOKENS["minimal"]


def test_async_stream_helper_builds_the_final_response(stub: StubServer) -> None:
    async def final_text() -> str:
        client = openai.AsyncOpenAI(base_url=stub.base_url, api_key=API_KEY, max_retries=0, timeout=10)
        async with client.responses.stream(model="gpt-4o", input=GREETING) as stream:
            final = await stream.get_final_response()
        await client.close()
        return final.output_text

    assert asyncio.run(final_text()).startswith("Stub reply to: Hello")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "m", "input": 5}, "input"),
        ({"model": "m", "input": "hi", "max_output_tokens": 8}, "max_output_tokens"),
    ],
)
def test_invalid_requests_get_an_openai_error(client: openai.OpenAI, body: dict[str, Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.post("/responses", body=body, cast_to=object)
    assert raised.value.param == param


def test_responses_are_billed_and_recorded(client: openai.OpenAI, stub: StubServer) -> None:
    response = client.responses.create(model="gpt-5-mini", input=GREETING, user="end-user-1")
    assert response.usage is not None
    billed = stub.stats()["tokens"][RESPONSES]
    assert billed["prompt_tokens"] == response.usage.input_tokens
    assert billed["completion_tokens"] == response.usage.output_tokens
    assert billed["reasoning_tokens"] == response.usage.output_tokens_details.reasoning_tokens
    assert stub.requests_to(RESPONSES) == 1
    assert stub.last_request(RESPONSES)["body"] == {"model": "gpt-5-mini", "input": GREETING, "user": "end-user-1"}


def test_chat_completions_of_a_reasoning_model_count_reasoning_tokens(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": GREETING}]
    completion = client.chat.completions.create(model="o4-mini", messages=messages, reasoning_effort="high")  # type: ignore[arg-type]
    usage = completion.usage
    assert usage is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == text.REASONING_TOKENS["high"]
    assert usage.completion_tokens == 20 + text.REASONING_TOKENS["high"]
    cut = client.chat.completions.create(model="gpt-5", messages=messages, max_completion_tokens=10)  # type: ignore[arg-type]
    assert cut.choices[0].finish_reason == "length"
    assert cut.choices[0].message.content == ""
