"""The response cache through the real service: gunicorn with 2 workers, a real Redis, the SDK as client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from service.stub.testing import StubServer
from tests.conftest import service_env
from tests.support.redis import RedisServer
from tests.support.service import ServiceProcess, run_service

CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def cached_service(
    redis_server: RedisServer, stub_server: StubServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = service_env(stub_server, REDIS_URL=redis_server.url, ADMIN_CLIENT_IDS="local-dev")
    with run_service(tmp_path_factory.mktemp("cache"), env) as process:
        yield process


@pytest.fixture
def svc(cached_service: ServiceProcess, redis_url: str, stub: StubServer) -> ServiceProcess:
    """The cached service with an empty Redis and a reset stub."""
    return cached_service


def _messages(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _create(svc: ServiceProcess, **params: Any) -> tuple[str, Any]:
    params.setdefault("model", "gpt-4o-mini")
    raw = svc.client().chat.completions.with_raw_response.create(**params)
    return raw.headers["x-cache"], raw.parse()


def test_second_identical_request_is_a_hit_and_variants_are_not(svc: ServiceProcess, stub: StubServer) -> None:
    request = {"messages": _messages("colours"), "temperature": 0, "max_tokens": 40}
    first_status, first = _create(svc, **request)
    second_status, second = _create(svc, **request)
    assert (first_status, second_status) == ("MISS", "HIT")
    assert second.model_dump() == first.model_dump()
    assert _create(svc, **request | {"temperature": 0.5})[0] == "BYPASS"  # not reusable
    assert _create(svc, **request | {"stop": ["\n"]})[0] == "MISS"
    assert _create(svc, **request | {"user": "someone"})[0] == "HIT"  # `user` does not change the answer
    assert stub.requests_to(CHAT) == 3


def test_key_order_in_the_json_body_does_not_matter(svc: ServiceProcess, stub: StubServer) -> None:
    headers = {"Authorization": f"Bearer {svc.api_key}", "Content-Type": "application/json"}
    body = {"model": "gpt-4o-mini", "temperature": 0, "messages": [{"role": "user", "content": "order"}]}
    reordered = {"messages": [{"content": "order", "role": "user"}], "temperature": 0.0, "model": "gpt-4o-mini"}
    first = httpx2.post(svc.url + CHAT, content=json.dumps(body), headers=headers)
    second = httpx2.post(svc.url + CHAT, content=json.dumps(reordered), headers=headers)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert stub.requests_to(CHAT) == 1


def test_cached_stream_replays_chunks_usage_and_done(svc: ServiceProcess, stub: StubServer) -> None:
    request = {"model": "gpt-4o-mini", "messages": _messages("stream me"), "temperature": 0}
    _, plain = _create(svc, **request)
    with svc.client().chat.completions.with_streaming_response.create(
        **request, stream=True, stream_options={"include_usage": True}
    ) as response:
        assert response.headers["x-cache"] == "HIT"
        chunks = list(response.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == plain.choices[0].message.content
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == plain.usage.total_tokens
    raw = httpx2.post(
        svc.url + CHAT,
        json=request | {"stream": True},
        headers={"Authorization": f"Bearer {svc.api_key}"},
    )
    assert raw.text.endswith("data: [DONE]\n\n")
    assert '"usage"' not in raw.text  # not asked for, not sent
    assert stub.requests_to(CHAT) == 1


def test_streamed_miss_is_cached_once_complete(svc: ServiceProcess, stub: StubServer) -> None:
    request = {"model": "gpt-4o-mini", "messages": _messages("first streamed"), "temperature": 0}
    with svc.client().chat.completions.with_streaming_response.create(**request, stream=True) as response:
        assert response.headers["x-cache"] == "MISS"
        streamed = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    for _ in range(50):  # the entry is written just after the last byte is sent
        status, plain = _create(svc, **request)
        if status == "HIT":
            break
        asyncio.run(asyncio.sleep(0.05))
    assert status == "HIT"
    assert plain.choices[0].message.content == streamed


def test_fifty_concurrent_identical_requests_make_one_upstream_call(svc: ServiceProcess, stub: StubServer) -> None:
    stub.configure(latency_ms=300)
    client = svc.async_client(timeout=60)

    async def one() -> str:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=_messages("single flight"), temperature=0
        )
        return raw.headers["x-cache"]

    async def main() -> list[str]:
        return list(await asyncio.gather(*(one() for _ in range(50))))

    statuses = asyncio.run(main())
    assert stub.requests_to(CHAT) == 1
    assert sorted(set(statuses)) == ["HIT", "MISS"]
    assert statuses.count("HIT") == 49


def test_cache_control_bypasses_or_refreshes(svc: ServiceProcess, stub: StubServer) -> None:
    request = {"messages": _messages("control"), "temperature": 0}
    _create(svc, **request)
    assert _create(svc, **request, extra_headers={"Cache-Control": "no-store"})[0] == "BYPASS"
    assert _create(svc, **request, extra_headers={"Cache-Control": "no-cache"})[0] == "MISS"
    assert _create(svc, **request | {"temperature": 0.9}, extra_headers={"X-Cache-Opt-In": "true"})[0] == "MISS"
    assert _create(svc, **request | {"temperature": 0.9}, extra_headers={"X-Cache-Opt-In": "true"})[0] == "HIT"
    assert stub.requests_to(CHAT) == 4


def test_namespace_bump_invalidates_every_entry(svc: ServiceProcess, stub: StubServer) -> None:
    for text in ("one", "two"):
        _create(svc, messages=_messages(text), temperature=0)
    bumped = httpx2.post(svc.url + "/v1/admin/cache/invalidate", headers={"Authorization": f"Bearer {svc.api_key}"})
    assert bumped.status_code == 200
    assert bumped.json()["version"] == 1
    assert [_create(svc, messages=_messages(t), temperature=0)[0] for t in ("one", "two")] == ["MISS", "MISS"]
    assert stub.requests_to(CHAT) == 4


def test_usage_endpoint_matches_the_stubs_token_counts(svc: ServiceProcess, stub: StubServer) -> None:
    answers = [_create(svc, messages=_messages(t), temperature=0, max_tokens=30) for t in ("a b c", "d e", "a b c")]
    assert [status for status, _ in answers] == ["MISS", "MISS", "HIT"]
    billed = [completion.usage for _, completion in answers[:2]]
    auth = {"Authorization": f"Bearer {svc.api_key}"}
    report = httpx2.get(svc.url + "/v1/usage", params={"client_id": "local-dev"}, headers=auth).json()
    for period in ("day", "month"):
        figures = report[period]
        assert figures["requests"] == 3
        assert figures["prompt_tokens"] == sum(u.prompt_tokens for u in billed)
        assert figures["completion_tokens"] == sum(u.completion_tokens for u in billed)
        assert figures["cache_hits"] == 1
        assert figures["saved_tokens"] == answers[2][1].usage.total_tokens
        assert 0 < figures["saved_usd"] < figures["spend_usd"]
    everyone = httpx2.get(svc.url + "/v1/usage", headers=auth).json()  # local-dev is an admin here
    assert [r["client_id"] for r in everyone["data"]] == ["local-dev"]
