"""Reading a client's JSON body: content type, nesting depth, and every walker safe at the deepest accepted body."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from service.api.body import check_content_type, parse_json_object, too_deep
from service.cache import request_digest
from service.errors import InvalidRequest
from service.ratelimit import count_prompt_tokens
from service.settings import JSON_DEPTH_CEILING


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    """`depth` levels of alternating lists and objects around `leaf`, built as text (no recursion here)."""
    opening = b"".join(b"[" if level % 2 else b'{"k":' for level in range(depth))
    closing = b"".join(b"]" if level % 2 else b"}" for level in reversed(range(depth)))
    return opening + leaf + closing


def body_with(field: str, value: bytes) -> bytes:
    return b'{"messages":[{"role":"user","content":"hi"}],"' + field.encode() + b'":' + value + b"}"


@pytest.mark.parametrize("field", ["tools", "response_format", "metadata", "functions"])
def test_a_body_nested_past_the_limit_is_refused_naming_the_field_and_the_limit(field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_json_object(body_with(field, nested(1000)), max_depth=64)
    assert refused.value.status_code == 400
    assert refused.value.param == field
    assert refused.value.code == "json_too_deep"
    assert "limit of 64 levels" in refused.value.message


def test_depth_counts_the_body_as_level_one() -> None:
    assert parse_json_object(body_with("tools", nested(63)), max_depth=64)["tools"]
    with pytest.raises(InvalidRequest):
        parse_json_object(body_with("tools", nested(64)), max_depth=64)


def test_wide_but_shallow_bodies_pass_quickly() -> None:
    wide = b'{"messages":[' + b",".join([b'{"role":"user","content":"x"}'] * 20_000) + b"]}"
    assert len(parse_json_object(wide, max_depth=8)["messages"]) == 20_000


def test_the_depth_check_does_not_recurse() -> None:
    deep: Any = 1
    for _ in range(5000):  # deeper than any Python recursion limit; orjson.loads would refuse it first
        deep = [deep]
    assert too_deep({"x": deep}, 64) == "x"


def test_every_walker_over_client_json_handles_the_deepest_accepted_body() -> None:
    """The depth ceiling is what keeps the cache key, the token estimate and serialisation safe."""
    body = parse_json_object(body_with("tools", nested(JSON_DEPTH_CEILING - 1)), max_depth=JSON_DEPTH_CEILING)
    body["model"] = "gpt-4o-mini"
    assert count_prompt_tokens(body) > 0
    assert request_digest(body, "acme")
    assert orjson.loads(orjson.dumps(body)) == body  # what the stub, the cache and the logs write


@pytest.mark.parametrize("value", ["application/json", "application/json; charset=utf-8", "Application/JSON"])
def test_json_content_types_are_accepted(value: str) -> None:
    check_content_type(value)


@pytest.mark.parametrize("value", [None, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_other_content_types_get_openais_unsupported_content_type(value: str | None) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_content_type(value)
    assert refused.value.status_code == 400
    assert refused.value.code == "unsupported_content_type"
    assert "only accepts 'application/json'" in refused.value.message
