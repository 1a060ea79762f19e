"""Redis going away and coming back; the failure policy; building the client from settings."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio.connection import SSLConnection

from service.state import (
    StateConfig,
    StateRefused,
    StateUnavailable,
    build_redis_client,
    build_shared_state,
)
from tests.support.redis import RedisServer


def test_store_degrades_while_redis_is_down_and_recovers_without_a_restart(
    redis_server: RedisServer, redis_url: str
) -> None:
    async def main() -> None:
        state = build_shared_state(StateConfig(redis_url=redis_url, probe_interval_seconds=0.2))
        await state.store.put("k", b"v", ttl_seconds=60)
        redis_server.stop()
        with pytest.raises(StateUnavailable):
            await state.store.get("k")
        assert (await state.readiness())["degraded"] is True

        started = time.monotonic()
        for _ in range(20):  # fails fast while degraded, no connect attempt per call
            with pytest.raises(StateUnavailable):
                await state.store.get("k")
        assert time.monotonic() - started < 0.5

        redis_server.start()
        await asyncio.sleep(0.25)
        assert await state.store.get("k") is None  # a fresh, empty server, same client object
        assert state.health.healthy
        assert (await state.readiness())["degraded"] is False
        await state.aclose()

    asyncio.run(main())


def test_fail_closed_refuses_and_fail_open_lets_through() -> None:
    closed = build_shared_state(StateConfig(redis_url=None, failure_policy="closed"))
    with pytest.raises(StateRefused, match="rate limits"):
        closed.on_unavailable("rate limits", StateUnavailable("down"))
    opened = build_shared_state(StateConfig(redis_url=None, failure_policy="open"))
    opened.on_unavailable("rate limits", StateUnavailable("down"))  # logs, does not raise


def test_rediss_url_uses_tls_and_the_auth_token_as_password() -> None:
    client = build_redis_client(
        "rediss://127.0.0.1:6390/0",  # never connected to: the client connects lazily
        auth_token="token-from-secrets-manager",
        socket_timeout_seconds=0.25,
        connect_timeout_seconds=0.5,
    )
    pool = client.connection_pool
    assert issubclass(pool.connection_class, SSLConnection)
    assert pool.connection_kwargs["password"] == "token-from-secrets-manager"


@pytest.mark.parametrize(
    ("url", "token", "message"),
    [
        ("http://cache:6379", None, "redis:// or rediss://"),
        ("rediss://:secret@cache:6379", "token", "keep only REDIS_AUTH_TOKEN"),
    ],
)
def test_bad_redis_configuration_names_the_fix(url: str, token: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_redis_client(url, auth_token=token, socket_timeout_seconds=1, connect_timeout_seconds=1)
