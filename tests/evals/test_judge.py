"""The judge's request: what a plain model and a reasoning model are each sent."""

from __future__ import annotations

import openai
import pytest

from evals.runner import (
    JUDGE_MAX_COMPLETION_TOKENS,
    JUDGE_PROMPT,
    JUDGE_REASONING_MAX_COMPLETION_TOKENS,
    judge_request,
    parse_verdict,
)
from service.stub.testing import StubServer
from tests.conftest import UPSTREAM_KEY

PROMPT = JUDGE_PROMPT.format(
    question="Who makes it?", reference="Ferncliff Labs makes it.", answer="It is made by Ferncliff Labs."
)


def test_a_plain_judge_is_deterministic_and_answers_in_a_word() -> None:
    request = judge_request("gpt-4o-mini", PROMPT)
    assert request["temperature"] == 0
    assert request["max_completion_tokens"] == JUDGE_MAX_COMPLETION_TOKENS
    assert "max_tokens" not in request
    assert "reasoning_effort" not in request


@pytest.mark.parametrize(("model", "effort"), [("gpt-5-mini", "minimal"), ("o4-mini", "low"), ("gpt-5.1", "none")])
def test_a_reasoning_judge_thinks_least_and_has_room_to_think(model: str, effort: str) -> None:
    request = judge_request(model, PROMPT)
    assert "temperature" not in request  # reasoning models refuse it
    assert request["reasoning_effort"] == effort
    assert request["max_completion_tokens"] == JUDGE_REASONING_MAX_COMPLETION_TOKENS


@pytest.mark.parametrize("model", ["gpt-4o-mini", "o4-mini"])
def test_the_judge_request_gets_a_verdict_from_the_stub(stub: StubServer, model: str) -> None:
    client = openai.OpenAI(base_url=stub.base_url, api_key=UPSTREAM_KEY, max_retries=0)
    completion = client.chat.completions.create(**judge_request(model, PROMPT))
    assert parse_verdict(completion.choices[0].message.content or "") is True
