"""Per-client RPM/TPM and the fleet guard, on a real Redis shared by two independent clients."""

from __future__ import annotations

import asyncio
import time

import pytest

from service.ratelimit import (
    ClientLimits,
    ClientRateLimiter,
    RateLimitExceeded,
    UpstreamGuard,
    UpstreamSaturated,
    format_reset,
    parse_reset,
)
from service.state import SharedState, StateConfig, StateRefused, build_shared_state
from tests.support.redis import RedisServer


def _two_workers(url: str) -> tuple[SharedState, SharedState]:
    """Two states on one Redis, as two gunicorn workers would have."""
    return build_shared_state(StateConfig(redis_url=url)), build_shared_state(StateConfig(redis_url=url))


def test_requests_per_minute_are_shared_across_workers(redis_url: str) -> None:
    async def main() -> None:
        first, second = _two_workers(redis_url)
        limits = ClientLimits(requests_per_minute=3)
        a, b = ClientRateLimiter(first, limits), ClientRateLimiter(second, limits)
        admitted = [await a.admit("acme", 10), await b.admit("acme", 10), await a.admit("acme", 10)]
        assert admitted[-1].headers["x-ratelimit-remaining-requests"] == "0"
        with pytest.raises(RateLimitExceeded) as refused:
            await b.admit("acme", 10)
        headers = refused.value.headers
        assert refused.value.kind == "requests"
        assert headers["x-ratelimit-limit-requests"] == "3"
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert 1 <= int(headers["retry-after"]) <= 120
        assert parse_reset(headers["x-ratelimit-reset-requests"]) is not None
        await b.admit("other-client", 10)  # limits are per client

    asyncio.run(main())


def test_tokens_per_minute_refuse_and_refund_after_reconciliation(redis_url: str) -> None:
    async def main() -> None:
        state, _ = _two_workers(redis_url)
        limiter = ClientRateLimiter(state, ClientLimits(requests_per_minute=100, tokens_per_minute=1000))
        first = await limiter.admit("acme", 600)
        with pytest.raises(RateLimitExceeded) as refused:
            await limiter.admit("acme", 600)
        assert refused.value.kind == "tokens"
        assert refused.value.headers["x-ratelimit-limit-tokens"] == "1000"
        assert "x-ratelimit-remaining-requests" in refused.value.headers
        await limiter.reconcile(first, 100)  # it used 100, not 600
        second = await limiter.admit("acme", 600)
        assert int(second.headers["x-ratelimit-remaining-tokens"]) <= 300
        with pytest.raises(RateLimitExceeded, match="Request too large"):
            await limiter.admit("acme", 5000)

    asyncio.run(main())


def test_redis_down_fails_open_or_closed_as_configured(redis_server: RedisServer, redis_url: str) -> None:
    async def main() -> None:
        open_state = build_shared_state(StateConfig(redis_url=redis_url, failure_policy="open"))
        closed_state = build_shared_state(StateConfig(redis_url=redis_url, failure_policy="closed"))
        limits = ClientLimits(requests_per_minute=1)
        redis_server.stop()
        admission = await ClientRateLimiter(open_state, limits).admit("acme", 1)
        assert not admission.enforced
        with pytest.raises(StateRefused):
            await ClientRateLimiter(closed_state, limits).admit("acme", 1)

    asyncio.run(main())


def test_fleet_guard_waits_for_room_then_gives_up_at_its_bound(redis_url: str) -> None:
    async def main() -> None:
        first, second = _two_workers(redis_url)
        guard_a = UpstreamGuard(first, requests_per_minute=2, tokens_per_minute=None, max_wait_seconds=0.3)
        guard_b = UpstreamGuard(second, requests_per_minute=2, tokens_per_minute=None, max_wait_seconds=0.3)
        await guard_a.acquire(10)
        await guard_b.acquire(10)
        started = time.monotonic()
        with pytest.raises(UpstreamSaturated) as saturated:
            await guard_a.acquire(10)
        assert 0.2 <= time.monotonic() - started < 1.0
        assert saturated.value.retry_after_seconds > 0

    asyncio.run(main())


def test_upstream_headers_at_zero_pause_the_whole_fleet(redis_url: str) -> None:
    async def main() -> None:
        first, second = _two_workers(redis_url)
        guard_a = UpstreamGuard(first, requests_per_minute=None, tokens_per_minute=None, max_wait_seconds=2)
        guard_b = UpstreamGuard(second, requests_per_minute=None, tokens_per_minute=None, max_wait_seconds=2)
        await guard_a.observe({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "400ms"})
        started = time.monotonic()
        await guard_b.acquire(10)
        assert 0.3 <= time.monotonic() - started < 1.5

    asyncio.run(main())


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.02, "20ms"), (1.0, "1s"), (1.5, "1.5s"), (360.0, "6m0s"), (61.25, "1m1.25s")]
)
def test_reset_durations_round_trip_in_openais_format(seconds: float, text: str) -> None:
    assert format_reset(seconds) == text
    assert parse_reset(text) == pytest.approx(seconds)
