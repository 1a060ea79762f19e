"""Chat completions through the official SDK, plain and streamed."""

from __future__ import annotations

import json
import time
import urllib.request

import openai
import pytest

from service.stub import text
from service.stub.testing import StubServer

QUESTION = [{"role": "user", "content": "Hello there, how are you today?"}]


def test_completion_echoes_the_model_and_counts_tokens(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-test-model", messages=QUESTION)  # type: ignore[arg-type]
    choice = completion.choices[0]
    assert completion.model == "gpt-test-model"
    assert choice.message.content is not None
    assert choice.message.content.startswith("Stub reply to: Hello there, how are you today?")
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == text.count_tokens(QUESTION[0]["content"])
    assert completion.usage.completion_tokens == text.count_tokens(choice.message.content) == 20


def test_completion_is_deterministic(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model="m", messages=QUESTION)  # type: ignore[arg-type]
    second = client.chat.completions.create(model="m", messages=QUESTION)  # type: ignore[arg-type]
    assert first.choices[0].message.content == second.choices[0].message.content


def test_n_returns_that_many_choices(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="m", messages=QUESTION, n=3)  # type: ignore[arg-type]
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 60


def test_max_tokens_truncates_with_finish_reason_length(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="m", messages=QUESTION, max_tokens=3)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == "Stub reply to"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_max_completion_tokens_is_honoured(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="m", messages=QUESTION, max_completion_tokens=2)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == "Stub reply"


def test_stop_sequence_truncates_with_finish_reason_stop(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="m", messages=QUESTION, stop=[":"])  # type: ignore[arg-type]
    assert completion.choices[0].message.content == "Stub reply to"
    assert completion.choices[0].finish_reason == "stop"


def test_extractive_answer_from_context(client: openai.OpenAI) -> None:
    messages = [
        {
            "role": "system",
            "content": "Use only this context.\n[doc-1] The API runs on ECS Fargate. It scales out on CPU.\n"
            "[doc-2] Secrets are stored in AWS Secrets Manager.",
        },
        {"role": "user", "content": "Where are the secrets stored?"},
    ]
    completion = client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == "Secrets are stored in AWS Secrets Manager."


def test_unanswerable_question_gets_i_dont_know(client: openai.OpenAI) -> None:
    messages = [
        {"role": "user", "content": "Context:\n[doc-1] The API runs on ECS Fargate.\n\nQuestion: Who won the cup?"}
    ]
    completion = client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == "I don't know: the knowledge base does not cover this."


def test_stream_without_usage(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="m", messages=QUESTION, stream=True))  # type: ignore[arg-type]
    assert all(chunk.object == "chat.completion.chunk" and chunk.usage is None for chunk in chunks)
    assert all(len(chunk.choices) == 1 for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert content.startswith("Stub reply to: Hello there")
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len({chunk.id for chunk in chunks}) == 1


def test_stream_with_usage_ends_with_a_usage_chunk(client: openai.OpenAI, stub: StubServer) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=QUESTION,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=5,
    )
    chunks = list(stream)
    *content_chunks, usage_chunk = chunks
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens == 5
    assert usage_chunk.usage.total_tokens == usage_chunk.usage.prompt_tokens + 5
    assert content_chunks[-1].choices[0].finish_reason == "length"
    assert "".join(c.choices[0].delta.content or "" for c in content_chunks) == "Stub reply to: Hello"


def test_stream_chunks_carry_usage_null_when_usage_is_requested(stub: StubServer) -> None:
    body = {"model": "m", "messages": QUESTION, "stream": True, "stream_options": {"include_usage": True}}
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL
        f"{stub.base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-stub-test-key"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = [line for line in response.read().decode().split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    parsed = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert all("usage" in chunk for chunk in parsed)
    assert all(chunk["usage"] is None for chunk in parsed[:-1])
    assert parsed[-1]["usage"]["completion_tokens"] == 20


def test_ttft_and_tokens_per_second_pace_the_stream(client: openai.OpenAI, stub: StubServer) -> None:
    stub.configure(ttft_ms=200, tokens_per_second=100)
    started = time.monotonic()
    stream = client.chat.completions.create(model="m", messages=QUESTION, stream=True, max_tokens=10)  # type: ignore[arg-type]
    arrivals = [time.monotonic() - started for _ in stream]
    assert arrivals[0] >= 0.19
    # 10 content chunks at 100/s: the last arrives about 90 ms after the first.
    assert 0.08 <= arrivals[-1] - arrivals[0] < 1.0


def test_latency_delays_the_plain_response(client: openai.OpenAI, stub: StubServer) -> None:
    stub.configure(latency_ms=150)
    started = time.monotonic()
    client.chat.completions.create(model="m", messages=QUESTION)  # type: ignore[arg-type]
    assert time.monotonic() - started >= 0.15


def test_invalid_request_gets_an_openai_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="m", messages=[])
    assert raised.value.param == "messages"
    assert raised.value.type == "invalid_request_error"


def test_models_lists_chat_and_embedding_models(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert "gpt-4o-mini" in ids
    assert "text-embedding-3-small" in ids
