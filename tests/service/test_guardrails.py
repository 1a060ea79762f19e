"""`prepare_chat_request` in process: what it refuses, what it reserves for, and what it sends upstream."""

from __future__ import annotations

from typing import Any

import pytest

from service.errors import InvalidRequest
from service.guardrails import end_user_id, prepare_chat_request
from service.settings import Settings

MESSAGES = [{"role": "user", "content": "hi"}]


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_both_token_caps_are_checked_and_the_larger_one_is_reserved() -> None:
    chat = prepare_chat_request(
        {"messages": MESSAGES, "max_completion_tokens": 10, "max_tokens": 2000}, _settings(), "acme"
    )
    assert chat.max_output_tokens == 2000
    with pytest.raises(InvalidRequest) as refused:
        prepare_chat_request(
            {"messages": MESSAGES, "max_completion_tokens": 10, "max_tokens": 100_000}, _settings(), "a"
        )
    assert refused.value.param == "max_tokens"


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens", "n", "seed", "top_logprobs"])
@pytest.mark.parametrize("value", ["100", 100.0, True])
def test_integer_fields_are_type_checked_locally(field: str, value: object) -> None:
    with pytest.raises(InvalidRequest) as refused:
        prepare_chat_request({"messages": MESSAGES, field: value}, _settings(), "acme")
    assert refused.value.param == field


@pytest.mark.parametrize("field", ["temperature", "top_p", "presence_penalty", "frequency_penalty"])
@pytest.mark.parametrize("value", ["0.5", True])
def test_number_fields_are_type_checked_locally(field: str, value: object) -> None:
    with pytest.raises(InvalidRequest) as refused:
        prepare_chat_request({"messages": MESSAGES, field: value}, _settings(), "acme")
    assert refused.value.param == field


def test_safety_identifier_is_hashed_like_user_and_store_is_forced_off() -> None:
    body = {"messages": MESSAGES, "user": "alice", "safety_identifier": "alice@example.com", "store": True}
    params = prepare_chat_request(body, _settings(), "acme").params
    assert params["safety_identifier"] == end_user_id("acme", "alice@example.com")
    assert "alice" not in params["safety_identifier"]
    assert params["user"] == end_user_id("acme", "alice")
    assert params["store"] is False


def test_store_passes_through_when_the_setting_allows_it() -> None:
    params = prepare_chat_request({"messages": MESSAGES, "store": True}, _settings(upstream_store=True), "acme").params
    assert params["store"] is True
    assert "store" not in prepare_chat_request({"messages": MESSAGES}, _settings(upstream_store=True), "a").params
