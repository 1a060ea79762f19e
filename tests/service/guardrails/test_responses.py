"""`prepare_responses_request` in process: limits, reasoning, stored state, identity and the prepared shape."""

from __future__ import annotations

from typing import Any

import pytest

from service.errors import InvalidRequest, ModelNotFound
from service.guardrails import Endpoint, end_user_id, prepare_chat_request, prepare_responses_request
from service.ratelimit import count_text_tokens

from .conftest import make_settings

MODELS = ["gpt-4o-mini", "gpt-5", "o3"]


def _prepare(body: dict[str, Any], **settings: Any) -> Any:
    return prepare_responses_request(body, make_settings(**({"allowed_models": MODELS} | settings)), "acme")


def test_a_response_gets_its_models_default_cap_and_the_service_policies() -> None:
    prepared = _prepare({"model": "gpt-5", "input": "hi", "user": "alice", "store": True})
    assert prepared.endpoint is Endpoint.RESPONSES
    assert prepared.max_output_tokens == prepared.params["max_output_tokens"] == 25_000
    assert prepared.params["store"] is False
    assert prepared.params["user"] == end_user_id("acme", "alice")
    assert (prepared.stream, prepared.include_usage, prepared.n) == (False, True, 1)
    assert _prepare({"input": "hi"}).model == "gpt-4o-mini"  # DEFAULT_MODEL, as for chat
    assert _prepare({"input": "hi", "store": True}, upstream_store=True).params["store"] is True


def test_max_output_tokens_is_capped_per_model_and_strictly_typed() -> None:
    assert _prepare({"model": "o3", "input": "hi", "max_output_tokens": 100_000}).max_output_tokens == 100_000
    for value, fragment in [(100_001, "at most 100000 for o3"), (8, "greater than or equal to 16"), ("64", "integer")]:
        with pytest.raises(InvalidRequest, match=fragment) as refused:
            _prepare({"model": "o3", "input": "hi", "max_output_tokens": value})
        assert refused.value.param == "max_output_tokens"


@pytest.mark.parametrize(
    ("model", "effort", "refused"),
    [("gpt-5", "minimal", False), ("o3", "minimal", True), ("o3", "high", False), ("gpt-4o-mini", "low", True)],
)
def test_reasoning_effort_is_checked_against_the_model(model: str, effort: str, refused: bool) -> None:
    body = {"model": model, "input": "hi", "reasoning": {"effort": effort, "summary": "auto"}}
    if not refused:
        assert _prepare(body).params["reasoning"] == {"effort": effort, "summary": "auto"}
        return
    with pytest.raises(InvalidRequest) as raised:
        _prepare(body)
    assert raised.value.param == "reasoning.effort"


def test_unknown_models_are_404() -> None:
    with pytest.raises(ModelNotFound):
        _prepare({"model": "gpt-4.1", "input": "hi"})


@pytest.mark.parametrize(("field", "value"), [("previous_response_id", "resp_123"), ("conversation", "conv_1")])
def test_stored_state_passes_through_unless_the_setting_refuses_it(field: str, value: str) -> None:
    assert _prepare({"input": "hi", field: value}).params[field] == value
    with pytest.raises(InvalidRequest) as refused:
        _prepare({"input": "hi", field: value}, responses_allow_stored_state=False)
    assert refused.value.param == field
    assert "RESPONSES_ALLOW_STORED_STATE=false" in refused.value.message


def test_background_responses_are_refused_because_they_cannot_be_metered() -> None:
    with pytest.raises(InvalidRequest) as refused:
        _prepare({"input": "hi", "background": True})
    assert refused.value.param == "background"
    assert _prepare({"input": "hi", "background": False}).params["background"] is False


def test_input_text_and_its_size_limit_cover_instructions_messages_and_tool_outputs() -> None:
    body = {
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "What is up?"}, {"type": "input_image"}]},
            {"type": "function_call_output", "call_id": "c1", "output": "42"},
            {"role": "assistant", "content": "Fine."},
        ],
    }
    prepared = _prepare(body)
    assert prepared.input_text == "Be brief.\nWhat is up?\n42\nFine."
    with pytest.raises(InvalidRequest) as refused:
        _prepare(body, max_input_chars=len(prepared.input_text) - 4)
    assert (refused.value.param, refused.value.code) == ("input", "context_length_exceeded")
    with pytest.raises(InvalidRequest, match="at most 2") as too_many:
        _prepare(body, max_messages=2)
    assert too_many.value.param == "input"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": 5}, "input"),
        ({"input": ["hi"]}, "input"),
        ({"input": "hi", "stream": "yes"}, "stream"),
        ({"input": "hi", "temperature": "0.5"}, "temperature"),
        ({"input": "hi", "conversation": 7}, "conversation"),
        ({"input": "hi", "reasoning": "high"}, "reasoning"),
    ],
)
def test_malformed_fields_are_refused_by_name(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        _prepare(body)
    assert refused.value.param == param


def test_input_tokens_are_estimated_like_the_same_chat() -> None:
    text = "How long is the free trial? It matters for the budget."
    prepared = _prepare({"instructions": "Answer briefly.", "input": text})
    chat = prepare_chat_request(
        {"messages": [{"role": "developer", "content": "Answer briefly."}, {"role": "user", "content": text}]},
        make_settings(),
        "acme",
    )
    assert prepared.estimate_input_tokens() == chat.estimate_input_tokens()
    assert prepared.estimate_input_tokens() > count_text_tokens(text)
