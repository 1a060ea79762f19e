"""The cache key: same output, same key; anything that changes the output, a different key."""

from __future__ import annotations

from typing import Any

import pytest

from service.cache import CacheMode, cache_mode, request_digest

BASE: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Name three colours."}],
    "temperature": 0,
    "max_tokens": 50,
}


def test_key_ignores_key_order_user_stream_options_and_number_spelling() -> None:
    reordered = {
        "max_completion_tokens": 50,
        "temperature": 0.0,
        "messages": [{"content": "Name three colours.", "role": "user"}],
        "model": "gpt-4o-mini",
        "user": "someone-else",
        "stream": True,
        "stream_options": {"include_usage": True},
        "n": 1,
        "stop": None,
    }
    assert request_digest(reordered, "acme") == request_digest(BASE, "acme")


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.2},
        {"stop": ["\n"]},
        {"max_tokens": 51},
        {"seed": 7},
        {"top_p": 0.5},
        {"model": "gpt-4.1-mini"},
        {"response_format": {"type": "json_object"}},
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
        {"messages": [{"role": "user", "content": "Name four colours."}]},
        {"some_future_parameter": True},
    ],
)
def test_anything_that_changes_the_output_changes_the_key(change: dict[str, Any]) -> None:
    assert request_digest(BASE | change, "acme") != request_digest(BASE, "acme")


def test_stop_as_a_string_or_a_list_is_the_same_request() -> None:
    assert request_digest(BASE | {"stop": "END"}, "c") == request_digest(BASE | {"stop": ["END"]}, "c")


def test_key_is_per_client_scope() -> None:
    assert request_digest(BASE, "acme") != request_digest(BASE, "globex")


@pytest.mark.parametrize(
    ("headers", "body", "mode"),
    [
        ({}, BASE, CacheMode.USE),
        ({}, BASE | {"temperature": 0.7}, CacheMode.BYPASS),
        ({}, {k: v for k, v in BASE.items() if k != "temperature"}, CacheMode.BYPASS),  # default is 1
        ({"x-cache-opt-in": "true"}, BASE | {"temperature": 0.7}, CacheMode.USE),
        ({"cache-control": "no-cache"}, BASE, CacheMode.REFRESH),
        ({"cache-control": "no-store"}, BASE, CacheMode.BYPASS),
        ({"cache-control": "max-age=0, No-Store"}, BASE, CacheMode.BYPASS),
    ],
)
def test_cache_mode_follows_temperature_opt_in_and_cache_control(
    headers: dict[str, str], body: dict[str, Any], mode: CacheMode
) -> None:
    assert cache_mode(headers, body) is mode


@pytest.mark.parametrize("huge", [1.8446744073709552e19, -9.3e18, 1e300])
def test_a_whole_float_too_large_for_an_integer_still_has_a_key(huge: float) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "seed": huge}
    assert request_digest(body, "shared") != request_digest({**body, "seed": 1}, "shared")


def test_the_same_parameters_on_two_endpoints_have_two_keys() -> None:
    body = {"model": "text-embedding-3-small", "input": "hello"}
    assert request_digest(body, "c", "/embeddings") != request_digest(body, "c", "/responses")


@pytest.mark.parametrize(
    ("endpoint", "body", "mode"),
    [
        ("/embeddings", {"input": "hi"}, CacheMode.BYPASS),  # cached per input instead
        ("/responses", {"input": "hi", "temperature": 0}, CacheMode.USE),
        ("/responses", {"input": "hi", "temperature": 0, "stream": True}, CacheMode.BYPASS),  # not replayed
        ("/responses", {"input": "hi", "temperature": 0, "previous_response_id": "resp_1"}, CacheMode.BYPASS),
        ("/responses", {"input": "hi", "temperature": 0, "conversation": "conv_1"}, CacheMode.BYPASS),
        ("/chat/completions", {"temperature": 0.7}, CacheMode.BYPASS),
    ],
)
def test_cache_mode_per_endpoint(endpoint: str, body: dict[str, Any], mode: CacheMode) -> None:
    assert cache_mode({}, body, endpoint) is mode
