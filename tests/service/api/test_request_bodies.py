"""Request bodies through the real service: content type, nesting depth, and deep or wide JSON in every field."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.stub.testing import StubServer
from tests.support.service import ServiceProcess

OK_MESSAGES = [{"role": "user", "content": "hi"}]


def _post(service: ServiceProcess, content: bytes) -> httpx2.Response:
    return httpx2.post(
        f"{service.base_url}/chat/completions",
        content=content,
        headers={"Authorization": f"Bearer {service.api_key}", "Content-Type": "application/json"},
        timeout=30,
    )


def _assert_nothing_went_upstream(stub: StubServer) -> None:
    """No completion and no question embedded (a service starting up embeds its index probe: not ours)."""
    assert stub.requests_to("/v1/chat/completions") == 0
    embedded = [r["body"] for r in stub.stats()["recent"] if r["path"] == "/v1/embeddings"]
    assert not any("free trial" in json.dumps(body) or body.get("input") == "hi" for body in embedded)


_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)


def _nested(depth: int, leaf: bytes = b"1") -> bytes:
    """JSON text nested `depth` levels deep, alternating lists and objects (built as text: no recursion)."""
    return (
        b"".join(b"[" if i % 2 else b'{"k":' for i in range(depth))
        + leaf
        + b"".join(b"]" if i % 2 else b"}" for i in reversed(range(depth)))
    )


_CHAT_HEAD = b'{"messages":[{"role":"user","content":"hi"}],'


@pytest.mark.parametrize(
    ("path", "template", "param"),
    [
        ("/chat/completions", _CHAT_HEAD + b'"tools":@}', "tools"),
        ("/chat/completions", _CHAT_HEAD + b'"functions":@}', "functions"),
        ("/chat/completions", _CHAT_HEAD + b'"response_format":@}', "response_format"),
        (
            "/chat/completions",
            b'{"messages":[{"role":"user","content":[{"type":"text","text":"hi","x":@}]}]}',
            "messages",
        ),
        ("/answers", b'{"question":"How long is the free trial?","extra":@}', "extra"),
    ],
)
def test_json_nested_a_thousand_deep_is_a_400_naming_the_limit(
    service: ServiceProcess, stub: StubServer, path: str, template: bytes, param: str
) -> None:
    response = httpx2.post(
        service.base_url + path,
        content=template.replace(b"@", _nested(1000)),
        headers={"Authorization": f"Bearer {service.api_key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, "json_too_deep")
    assert "limit of 64 levels" in error["message"]
    assert "x-request-id" in response.headers
    _assert_nothing_went_upstream(stub)


def test_json_nested_to_the_ceiling_is_served_through_every_step(make_service: Any, stub: StubServer) -> None:
    """The deepest body the settings can allow goes through the cache key, token estimate and the SDK."""
    body = b'{"messages":[{"role":"user","content":"hi"}],"temperature":0,"tools":@}'.replace(b"@", _nested(127))
    with make_service(MAX_JSON_DEPTH="128") as svc:
        response = _post(svc, content=body)
    assert response.status_code == 200, response.text
    assert stub.requests_to("/v1/chat/completions") == 1


@pytest.mark.parametrize("path", ["/chat/completions", "/answers"])
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_declared_json_gets_openais_400(
    service: ServiceProcess, stub: StubServer, path: str, content_type: str | None
) -> None:
    headers = {"Authorization": f"Bearer {service.api_key}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = b'{"messages":[{"role":"user","content":"hi"}],"question":"hi"}'
    response = httpx2.post(service.base_url + path, content=body, headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "unsupported_content_type", None)
    assert "only accepts 'application/json'" in error["message"]
    _assert_nothing_went_upstream(stub)


def test_json_with_a_charset_is_json(service: ServiceProcess, stub: StubServer) -> None:
    response = httpx2.post(
        f"{service.base_url}/chat/completions",
        content=json.dumps({"messages": OK_MESSAGES}).encode(),
        headers={"Authorization": f"Bearer {service.api_key}", "Content-Type": "application/json; charset=utf-8"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


_DEPTHS = st.sampled_from([0, 1, 63, 64, 65, 127, 128, 254, 255, 256, 500, 999, 1000, 1023, 1024, 1025, 1100])


@st.composite
def _structures(draw: st.DrawFn) -> bytes:
    """JSON text that is deep (to past orjson's own limit), wide, or both: built as text, never recursing."""
    depth = draw(_DEPTHS | st.integers(min_value=0, max_value=1100))
    width = draw(st.sampled_from([0, 1, 2000]) | st.integers(min_value=0, max_value=2000))
    leaf = json.dumps(draw(_leaves)).encode()
    if draw(st.booleans()):
        leaf = b"[" + b",".join([leaf] * width) + b"]"
    else:
        leaf = b"{" + b",".join(b'"k%d":%s' % (i, leaf) for i in range(width)) + b"}"
    return _nested(depth, leaf)


# Every place in a chat request where a client can put an object or a list ("@" marks it).
_CHAT_POSITIONS = [
    b"@",
    b'{"messages":@}',
    b'{"messages":[@]}',
    b'{"messages":[{"role":"user","content":@}]}',
    b'{"messages":[{"role":"user","content":[{"type":"text","text":"hi","extra":@}]}]}',
    b'{"messages":[{"role":"user","content":"hi","name":@}]}',
    b'{"messages":[{"role":"assistant","content":"x","tool_calls":@},{"role":"user","content":"y"}]}',
    *(
        b'{"messages":[{"role":"user","content":"hi"}],"%s":@}' % field.encode()
        for field in (
            "model", "stream", "stream_options", "n", "max_tokens", "max_completion_tokens", "stop", "temperature",
            "top_p", "user", "safety_identifier", "store", "seed", "best_of", "tools", "tool_choice", "functions",
            "function_call", "response_format", "metadata", "logit_bias", "prediction", "audio", "modalities",
            "web_search_options", "some_future_field",
        )
    ),
]  # fmt: skip


@pytest.mark.parametrize("position", _CHAT_POSITIONS, ids=lambda position: position.decode()[-40:])
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(structure=_structures())
@example(structure=_nested(1000))  # every field meets the depth that broke each walker, on every run
@example(structure=_nested(1100))  # past orjson's own parsing limit
@example(structure=_nested(1, b"[" + b",".join([b'{"a":[1,{"b":null}]}'] * 2000) + b"]"))  # wide
def test_no_deep_or_wide_structure_in_any_field_yields_a_server_error(
    service: ServiceProcess, position: bytes, structure: bytes
) -> None:
    response = _post(service, content=position.replace(b"@", structure))
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
