"""`prepare_chat_request` in process: what it refuses, what it reserves for, and what it sends upstream."""

from __future__ import annotations

import pytest

from service.errors import InvalidRequest, ModelNotFound
from service.guardrails import Endpoint, end_user_id, prepare_chat_request
from service.ratelimit import count_prompt_tokens

from .conftest import make_settings

MESSAGES = [{"role": "user", "content": "hi"}]
REASONING = ["gpt-4o-mini", "gpt-5-mini", "o4-mini"]


def test_both_token_caps_are_checked_and_the_larger_one_is_reserved() -> None:
    chat = prepare_chat_request(
        {"messages": MESSAGES, "max_completion_tokens": 10, "max_tokens": 2000}, make_settings(), "acme"
    )
    assert chat.max_output_tokens == 2000
    with pytest.raises(InvalidRequest) as refused:
        prepare_chat_request(
            {"messages": MESSAGES, "max_completion_tokens": 10, "max_tokens": 100_000}, make_settings(), "a"
        )
    assert refused.value.param == "max_tokens"
    assert "at most 16384 for gpt-4o-mini" in refused.value.message


def test_each_model_has_its_own_cap_and_default() -> None:
    settings = make_settings(allowed_models=["gpt-4o-mini", "gpt-5-mini"])
    reasoning = prepare_chat_request({"model": "gpt-5-mini", "messages": MESSAGES}, settings, "acme")
    plain = prepare_chat_request({"model": "gpt-4o-mini", "messages": MESSAGES}, settings, "acme")
    assert (reasoning.max_output_tokens, reasoning.params["max_completion_tokens"]) == (25_000, 25_000)
    assert (plain.max_output_tokens, plain.params["max_completion_tokens"]) == (512, 512)
    big = {"model": "gpt-5-mini", "messages": MESSAGES, "max_completion_tokens": 100_000}
    assert prepare_chat_request(big, settings, "acme").max_output_tokens == 100_000
    with pytest.raises(InvalidRequest, match="at most 128000 for gpt-5-mini"):
        prepare_chat_request(big | {"max_completion_tokens": 128_001}, settings, "acme")


def test_the_service_wide_limit_lowers_every_cap_and_default_and_is_named() -> None:
    settings = make_settings(allowed_models=["gpt-4o-mini", "o3"], max_output_tokens_limit=4096)
    assert prepare_chat_request({"model": "o3", "messages": MESSAGES}, settings, "a").max_output_tokens == 4096
    with pytest.raises(InvalidRequest) as refused:
        prepare_chat_request({"model": "o3", "messages": MESSAGES, "max_completion_tokens": 5000}, settings, "a")
    assert refused.value.param == "max_completion_tokens"
    assert "at most 4096 for o3 (this service's MAX_OUTPUT_TOKENS_LIMIT)" in refused.value.message


def test_reasoning_models_refuse_max_tokens_as_openai_does() -> None:
    settings = make_settings(allowed_models=["gpt-4o-mini", "o4-mini"])
    with pytest.raises(InvalidRequest) as refused:
        prepare_chat_request({"model": "o4-mini", "messages": MESSAGES, "max_tokens": 100}, settings, "a")
    assert refused.value.param == "max_tokens"
    assert refused.value.code == "unsupported_parameter"
    assert "max_completion_tokens" in refused.value.message


@pytest.mark.parametrize(
    ("model", "effort", "accepted"),
    [
        ("gpt-5-mini", "minimal", True),
        ("gpt-5-mini", "high", True),
        ("gpt-5-mini", "xhigh", False),
        ("o4-mini", "low", True),
        ("o4-mini", "minimal", False),
        ("gpt-4o-mini", "low", False),
    ],
)
def test_reasoning_effort_is_checked_against_the_model(model: str, effort: str, accepted: bool) -> None:
    settings = make_settings(allowed_models=REASONING)
    body = {"model": model, "messages": MESSAGES, "reasoning_effort": effort}
    if accepted:
        assert prepare_chat_request(body, settings, "a").params["reasoning_effort"] == effort
        return
    with pytest.raises(InvalidRequest) as refused:
        prepare_chat_request(body, settings, "a")
    assert refused.value.param == "reasoning_effort"
    assert model in refused.value.message


def test_a_non_reasoning_model_refuses_reasoning_effort_by_name() -> None:
    with pytest.raises(InvalidRequest, match="only accepted by reasoning models, and gpt-4o-mini is not one"):
        prepare_chat_request({"messages": MESSAGES, "reasoning_effort": "low"}, make_settings(), "a")


@pytest.mark.parametrize("model", ["gpt-3.5-turbo-instruct", "gpt-4.1", "text-embedding-3-small"])
def test_unknown_or_disallowed_models_are_404_model_not_found(model: str) -> None:
    settings = make_settings(allowed_models=["gpt-4o-mini"])
    with pytest.raises(ModelNotFound) as refused:
        prepare_chat_request({"model": model, "messages": MESSAGES}, settings, "a")
    body = refused.value.body()["error"]
    assert refused.value.status_code == 404
    assert body == {
        "message": f"The model `{model}` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens", "n", "seed", "top_logprobs"])
@pytest.mark.parametrize("value", ["100", 100.0, True])
def test_integer_fields_are_type_checked_locally(field: str, value: object) -> None:
    with pytest.raises(InvalidRequest) as refused:
        prepare_chat_request({"messages": MESSAGES, field: value}, make_settings(), "acme")
    assert refused.value.param == field


@pytest.mark.parametrize("field", ["temperature", "top_p", "presence_penalty", "frequency_penalty"])
@pytest.mark.parametrize("value", ["0.5", True])
def test_number_fields_are_type_checked_locally(field: str, value: object) -> None:
    with pytest.raises(InvalidRequest) as refused:
        prepare_chat_request({"messages": MESSAGES, field: value}, make_settings(), "acme")
    assert refused.value.param == field


def test_safety_identifier_is_hashed_like_user_and_store_is_forced_off() -> None:
    body = {"messages": MESSAGES, "user": "alice", "safety_identifier": "alice@example.com", "store": True}
    params = prepare_chat_request(body, make_settings(), "acme").params
    assert params["safety_identifier"] == end_user_id("acme", "alice@example.com")
    assert "alice" not in params["safety_identifier"]
    assert params["user"] == end_user_id("acme", "alice")
    assert params["store"] is False


def test_store_passes_through_when_the_setting_allows_it() -> None:
    settings = make_settings(upstream_store=True)
    assert prepare_chat_request({"messages": MESSAGES, "store": True}, settings, "acme").params["store"] is True
    assert "store" not in prepare_chat_request({"messages": MESSAGES}, settings, "a").params


def test_the_prepared_request_says_what_metering_needs() -> None:
    body = {"messages": MESSAGES * 2, "n": 2, "stream": True, "stream_options": {"include_usage": False}}
    chat = prepare_chat_request(body, make_settings(), "acme")
    assert chat.endpoint is Endpoint.CHAT
    assert (chat.stream, chat.include_usage, chat.n) == (True, False, 2)
    assert chat.params["stream_options"] == {"include_usage": True}  # usage is always asked for upstream
    assert chat.input_text == "hi\nhi"
    assert chat.estimate_input_tokens() == count_prompt_tokens(chat.params)
