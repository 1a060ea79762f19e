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
from typing import Any, TypeVar, cast

import httpx2
import openai
import structlog
from openai import AsyncOpenAI, AsyncStream, DefaultAioHttpClient

from service import metrics
from service.contract import Metrics, StreamingBudget
from service.errors import APIError, InvalidRequest, RateLimited, UpstreamError, UpstreamTimeout
from service.ratelimit.headers import retry_after
from service.request_context import add_to_current, annotate_current
from service.settings import Settings
from service.upstream.keys import OpenAIKeySource

log = structlog.get_logger(__name__)
T = TypeVar("T")
CHAT_COMPLETIONS = "/chat/completions"


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


class UpstreamRateLimited(RateLimited):
    """OpenAI's own 429, after the SDK's retries; `retry_after_seconds` is as precise as OpenAI said it."""

    def __init__(self, message: str, *, code: str, retry_after_seconds: float) -> None:
        super().__init__(message, code=code, headers=retry_after(retry_after_seconds))
        self.retry_after_seconds = retry_after_seconds


def _retry_after_seconds(headers: httpx2.Headers) -> float:
    """`retry-after-ms` first (sub-second, as the SDK reads it), then `retry-after` in seconds; else 1 s."""
    for name, per_second in (("retry-after-ms", 1000), ("retry-after", 1)):
        try:
            seconds = float(headers.get(name, "")) / per_second
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return 1.0


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
        return UpstreamRateLimited(
            "OpenAI's rate limit for this service was reached; retry after the time in Retry-After",
            code=_upstream_error_field(exc, "code") or "rate_limit_exceeded",
            retry_after_seconds=_retry_after_seconds(exc.response.headers),
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


def _note_attempts(request: httpx2.Request | None, response: httpx2.Response | None) -> None:
    """Put OpenAI's request id and the SDK's retries of this call on the current request's log line.

    The SDK numbers its attempts in the `x-stainless-retry-count` header of each one it sends.
    """
    if response is not None:
        request = response.request
        upstream_id = response.headers.get("x-request-id")
        if upstream_id:
            annotate_current(upstream_request_id=upstream_id)
    if request is not None:
        try:
            retries = int(request.headers.get("x-stainless-retry-count", "0"))
        except ValueError:
            retries = 0
        add_to_current("upstream_retries", retries)


def _attempts_of_error(exc: openai.OpenAIError) -> None:
    if isinstance(exc, openai.APIStatusError):
        _note_attempts(None, exc.response)
    elif isinstance(exc, openai.APIConnectionError):
        _note_attempts(exc.request, None)


class Upstream:
    """What routes use to reach OpenAI: the client, its key source, and the error policy."""

    def __init__(self, client: AsyncOpenAI, keys: OpenAIKeySource, settings: Settings) -> None:
        self.client = client
        self.keys = keys
        self._timeout = settings.max_stream_seconds
        self._environment = settings.environment
        # A stream's total time is enforced by the relay (service.streaming), which ends it with a
        # clear error event; the transport's read timeout must not fire first.
        self._stream_timeout = httpx2.Timeout(
            StreamingBudget(settings.max_stream_seconds).upstream_read_timeout_seconds,
            connect=settings.upstream_connect_timeout_seconds,
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
            _attempts_of_error(exc)
            if isinstance(exc, openai.RateLimitError):  # still 429 after the SDK's retries: alarm-worthy
                metrics.emit(Metrics.UPSTREAM_RATE_LIMITED, self._environment)
            raise map_upstream_error(exc, self._timeout) from None

    @asynccontextmanager
    async def chat_completion(self, params: dict[str, Any]) -> AsyncIterator[RawResponse]:
        """Send a chat completion and hand back the response unparsed: routes relay it as bytes.

        This is the SDK's documented raw-request path (`client.post(..., cast_to=httpx.Response)`):
        the SDK's auth, retries, backoff and error types, without its per-field request transforms
        and response models, which cost a large share of a worker's CPU on a proxy's hot path.
        `params` were validated by service.guardrails and go out as sent, so fields OpenAI adds
        later pass through unchanged.
        """
        stream = bool(params.get("stream", False))

        async def send() -> httpx2.Response:
            if not stream:
                return await self.client.post(CHAT_COMPLETIONS, cast_to=httpx2.Response, body=params)
            # With cast_to=httpx.Response the SDK hands back the response unread, before any SSE parsing.
            response = await self.client.post(
                CHAT_COMPLETIONS,
                cast_to=httpx2.Response,
                body=params,
                options={"timeout": self._stream_timeout},
                stream=True,
                stream_cls=AsyncStream[Any],
            )
            return cast(httpx2.Response, response)  # the overloads say AsyncStream; cast_to wins

        response = await self.call(send)
        _note_attempts(None, response)
        try:
            yield RawResponse(response)
        finally:
            await response.aclose()


class RawResponse:
    """An upstream response as the routes use it: status, headers, and the body as bytes."""

    def __init__(self, http_response: httpx2.Response) -> None:
        self.http_response = http_response

    @property
    def headers(self) -> httpx2.Headers:
        return self.http_response.headers

    async def read(self) -> bytes:
        return await self.http_response.aread()

    def iter_bytes(self) -> AsyncIterator[bytes]:
        return self.http_response.aiter_bytes()
