"""The one `AsyncOpenAI` client per worker process, and the mapping of its failures to our errors.

Retries are the SDK's own: up to `upstream_max_retries` on connection errors, 408/409/429 and 5xx,
with capped, jittered exponential backoff that honours `retry-after-ms` / `retry-after`. We add one
thing the SDK cannot know about: after a 401 we re-read the key (it may have been rotated in
Secrets Manager) and try once more.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx2
import openai
import structlog
from openai import NOT_GIVEN, AsyncOpenAI, DefaultAioHttpClient
from openai._response import AsyncAPIResponse

from service.errors import APIError, InvalidRequest, RateLimited, UpstreamError, UpstreamTimeout
from service.settings import Settings
from service.upstream.keys import OpenAIKeySource

log = structlog.get_logger(__name__)
T = TypeVar("T")


def build_client(settings: Settings, keys: OpenAIKeySource) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key=keys.current,
        organization=settings.openai_org_id,
        project=settings.openai_project_id,
        base_url=settings.openai_base_url,
        # Reads may legitimately be as slow as the longest stream we allow.
        timeout=httpx2.Timeout(settings.max_stream_seconds, connect=settings.upstream_connect_timeout_seconds),
        max_retries=settings.upstream_max_retries,
        # aiohttp's transport costs far less CPU per request than httpx's pool (see README, Benchmarks).
        http_client=DefaultAioHttpClient(),
    )


def _retry_after_seconds(headers: httpx2.Headers) -> str:
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return str(max(1, math.ceil(float(ms) / 1000)))
        except ValueError:
            pass
    value = headers.get("retry-after", "")
    return value if value.isdigit() else "1"


def _upstream_error_field(exc: openai.APIStatusError, field: str) -> str | None:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get(field), str):
            return str(inner[field])
    return None


def map_upstream_error(exc: openai.OpenAIError, timeout_seconds: float) -> APIError:
    """Translate an SDK exception (after the SDK's retries) into the error our client receives."""
    # Not connecting at all (refused, or no answer to the handshake) is a connection failure: 502.
    # The aiohttp transport reports a refused connection as ConnectTimeout, so this is by cause.
    if isinstance(exc, openai.APITimeoutError) and not isinstance(exc.__cause__, httpx2.ConnectTimeout):
        return UpstreamTimeout(f"OpenAI did not answer within {timeout_seconds:g}s; try again")
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamError("Could not reach OpenAI; try again shortly", code="upstream_unreachable")
    if isinstance(exc, openai.RateLimitError):
        return RateLimited(
            "OpenAI's rate limit for this service was reached; retry after the time in Retry-After",
            code=_upstream_error_field(exc, "code") or "rate_limit_exceeded",
            headers={"Retry-After": _retry_after_seconds(exc.response.headers)},
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        # Our key is wrong, not the client's request. Never echo OpenAI's message: it quotes the key.
        log.error("upstream_authentication_failed", upstream_status=exc.status_code)
        return UpstreamError("Upstream authentication failed", code="upstream_auth_failed")
    if isinstance(exc, openai.APIStatusError) and 400 <= exc.status_code < 500:
        return InvalidRequest(
            _upstream_error_field(exc, "message") or f"OpenAI rejected the request ({exc.status_code})",
            param=_upstream_error_field(exc, "param"),
            code=_upstream_error_field(exc, "code") or "upstream_rejected",
        )
    if isinstance(exc, openai.APIStatusError):
        log.warning("upstream_server_error", upstream_status=exc.status_code)
        return UpstreamError(f"OpenAI returned an error ({exc.status_code}); try again")
    log.warning("upstream_unexpected_error", error_type=type(exc).__name__)
    return UpstreamError("OpenAI call failed; try again")


class Upstream:
    """What routes use to reach OpenAI: the client, its key source, and the error policy."""

    def __init__(self, client: AsyncOpenAI, keys: OpenAIKeySource, settings: Settings) -> None:
        self.client = client
        self.keys = keys
        self._timeout = settings.max_stream_seconds
        # A stream's total time is enforced by the relay (service.streaming), which ends it with a
        # clear error event; the transport's read timeout must not fire first.
        self._stream_timeout = httpx2.Timeout(
            settings.max_stream_seconds + 5, connect=settings.upstream_connect_timeout_seconds
        )

    async def call(self, make_call: Callable[[], Awaitable[T]]) -> T:
        """Run one SDK call with the 401-refresh policy and our error mapping."""
        try:
            try:
                return await make_call()
            except (openai.AuthenticationError, openai.PermissionDeniedError):
                if not await self.keys.refresh():
                    raise
                log.info("retrying_with_refreshed_key")
                return await make_call()
        except openai.OpenAIError as exc:
            raise map_upstream_error(exc, self._timeout) from None

    @asynccontextmanager
    async def chat_completion(self, params: dict[str, Any]) -> AsyncIterator[AsyncAPIResponse[Any]]:
        """Open a chat completion without parsing it: the body is relayed as bytes.

        Every field other than `model`, `messages` and `stream` travels in `extra_body`, so fields
        OpenAI adds later pass through without a change here (and without per-field transforms).
        """
        rest = {k: v for k, v in params.items() if k not in ("model", "messages", "stream")}
        create = self.client.chat.completions.with_streaming_response.create

        stream = bool(params.get("stream", False))

        async def open_response() -> tuple[Any, AsyncAPIResponse[Any]]:
            manager = create(
                model=params["model"],
                messages=params["messages"],
                stream=stream,
                extra_body=rest,
                timeout=self._stream_timeout if stream else NOT_GIVEN,
            )
            return manager, await manager.__aenter__()

        manager, response = await self.call(open_response)
        try:
            yield response
        finally:
            await manager.__aexit__(None, None, None)
