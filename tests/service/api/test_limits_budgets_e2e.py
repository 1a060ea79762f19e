"""Rate limits and spend budgets through the real service (2 workers sharing one real Redis)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx2
import openai
import pytest

from service.settings import hash_client_key
from service.stub.testing import StubServer
from tests.conftest import service_env
from tests.support.redis import RedisServer
from tests.support.service import ServiceProcess, run_service

KEYS = {"key-requests-0123456789": "requests-client", "key-tokens-0123456789": "tokens-client"}
HARD_DAILY_USD = 0.0005


@pytest.fixture(scope="module")
def limited_service(
    redis_server: RedisServer, stub_server: StubServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = service_env(
        stub_server,
        REDIS_URL=redis_server.url,
        CLIENT_API_KEYS=json.dumps({hash_client_key(k): c for k, c in KEYS.items()}),
        CLIENT_REQUESTS_PER_MINUTE="3",
        CLIENT_TOKENS_PER_MINUTE="2000",
    )
    with run_service(tmp_path_factory.mktemp("limits"), env) as process:
        yield process


@pytest.fixture(scope="module")
def budgeted_service(
    redis_server: RedisServer, stub_server: StubServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = service_env(
        stub_server,
        REDIS_URL=redis_server.url,
        BUDGET_CLIENT_DAILY_HARD_USD=str(HARD_DAILY_USD),
        BUDGET_SERVICE_DAILY_SOFT_USD="0.00001",
    )
    with run_service(tmp_path_factory.mktemp("budgets"), env) as process:
        yield process


def _ask(svc: ServiceProcess, key: str, max_tokens: int = 20) -> openai.APIResponse[object]:
    return svc.client(api_key=key).chat.completions.with_raw_response.create(  # type: ignore[return-value]
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}], max_tokens=max_tokens
    )


def test_requests_per_minute_over_the_limit_get_429_with_openai_headers(
    limited_service: ServiceProcess, redis_url: str, stub: StubServer
) -> None:
    key = "key-requests-0123456789"
    answered = [_ask(limited_service, key) for _ in range(3)]  # round-robin over both workers
    assert answered[-1].headers["x-ratelimit-limit-requests"] == "3"
    assert answered[-1].headers["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(openai.RateLimitError) as refused:
        _ask(limited_service, key)
    headers = refused.value.response.headers
    assert refused.value.code == "rate_limit_exceeded"
    assert "requests per minute" in refused.value.message
    assert 1 <= int(headers["retry-after"]) <= 120
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    assert stub.requests_to("/v1/chat/completions") == 3


def test_tokens_per_minute_count_the_estimate_before_the_call_and_reconcile_after(
    limited_service: ServiceProcess, redis_url: str, stub: StubServer
) -> None:
    key = "key-tokens-0123456789"
    stub.configure(latency_ms=500)
    client = limited_service.async_client(api_key=key)

    async def one() -> BaseException | None:
        try:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}], max_tokens=900
            )
        except openai.RateLimitError as exc:
            return exc
        return None

    async def main() -> list[BaseException | None]:
        return list(await asyncio.gather(*(one() for _ in range(3))))

    # In flight together, each counts prompt + 900 tokens: the third does not fit in 2000.
    refusals = [r for r in asyncio.run(main()) if r is not None]
    assert len(refusals) == 1
    refused = refusals[0]
    assert isinstance(refused, openai.RateLimitError)
    assert "tokens per minute" in refused.message
    assert refused.response.headers["x-ratelimit-limit-tokens"] == "2000"
    assert "x-ratelimit-reset-tokens" in refused.response.headers
    # Afterwards the unused estimate was given back (the stub used far fewer than 900 tokens each).
    stub.configure(latency_ms=0)
    with pytest.raises(openai.RateLimitError, match="Request too large"):
        _ask(limited_service, key, max_tokens=2500)  # refused requests do not use up the RPM either
    assert int(_ask(limited_service, key, max_tokens=900).headers["x-ratelimit-remaining-tokens"]) > 0


def test_hard_budget_holds_under_a_hundred_concurrent_requests(
    budgeted_service: ServiceProcess, redis_url: str, stub: StubServer
) -> None:
    stub.configure(latency_ms=100)
    client = budgeted_service.async_client(timeout=60)

    async def one() -> openai.RateLimitError | None:
        try:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "spend"}], max_tokens=100
            )
        except openai.RateLimitError as exc:
            return exc
        return None

    async def main() -> list[openai.RateLimitError | None]:
        return list(await asyncio.gather(*(one() for _ in range(100))))

    results = asyncio.run(main())
    refusals = [r for r in results if r is not None]
    answered = len(results) - len(refusals)
    assert 0 < answered < 100
    for refused in refusals:
        assert refused.code == "insufficient_quota"
        assert refused.body["type"] == "insufficient_quota"  # type: ignore[index]
        assert "daily spend budget of $0.00" in refused.message
        assert "resets at" in refused.message
        assert int(refused.response.headers["retry-after"]) > 0
    assert stub.requests_to("/v1/chat/completions") == answered  # refused before any upstream call
    auth = {"Authorization": f"Bearer {budgeted_service.api_key}"}
    spent = httpx2.get(budgeted_service.url + "/v1/usage", headers=auth).json()["day"]["spend_usd"]
    # Reservations cover each request's maximum cost, so even in flight the total cannot pass the limit.
    assert 0 < spent <= HARD_DAILY_USD


def test_soft_limit_warns_the_caller_logs_and_emits_the_metric(
    budgeted_service: ServiceProcess, redis_url: str, stub: StubServer
) -> None:
    response = _ask(budgeted_service, budgeted_service.api_key)
    assert response.headers["x-budget-warning"].startswith("service-day; limit=0.00")
    logs = budgeted_service.logs()
    assert "spend_soft_limit_reached" in logs
    assert '"SpendSoftLimitReached":1' in logs
