"""The two ways a worker reaches OpenAI, both built here once per process from the settings.

- The relay's transport (service.upstream.transport): for endpoints whose answers are passed through.
- One `AsyncOpenAI` client, for code that consumes answers (moderation, answers' embeddings, evals).
  Retries are the SDK's own: up to `upstream_max_retries` on connection errors, 408/409/429 and 5xx,
  with capped, jittered exponential backoff that honours `retry-after-ms` / `retry-after`. We add one
  thing the SDK cannot know about: after a 401 we re-read the key (it may have been rotated in
  Secrets Manager) and try once more.

Both map failures through service.upstream.errors, so a client sees the same error either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx2
import openai
import structlog
from openai import AsyncOpenAI, DefaultAioHttpClient

from service import metrics
from service.contract import Metrics
from service.errors import APIError, UpstreamError
from service.request_context import add_to_current, annotate_current
from service.settings import Settings
from service.upstream.errors import error_for_status, timed_out, unreachable
from service.upstream.keys import OpenAIKeySource
from service.upstream.transport import OPENAI_API_BASE, OpenAITransport, RetryPolicy, TransportConfig

log = structlog.get_logger(__name__)
T = TypeVar("T")


def build_transport(settings: Settings, keys: OpenAIKeySource) -> OpenAITransport:
    return OpenAITransport(
        TransportConfig(
            base_url=settings.openai_base_url or OPENAI_API_BASE,
            organization=settings.openai_org_id,
            project=settings.openai_project_id,
            connect_timeout_seconds=settings.upstream_connect_timeout_seconds,
            retry=RetryPolicy(max_retries=settings.upstream_max_retries),
            environment=settings.environment,
        ),
        keys,
    )


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


def map_upstream_error(exc: openai.OpenAIError, timeout_seconds: float) -> APIError:
    """An SDK exception (after the SDK's retries) as the error our client receives (service.upstream.errors)."""
    # Not connecting at all (refused, or no answer to the handshake) is a connection failure: 502.
    # The aiohttp transport reports a refused connection as ConnectTimeout, so this is by cause.
    if isinstance(exc, openai.APITimeoutError) and not isinstance(exc.__cause__, httpx2.ConnectTimeout):
        return timed_out(timeout_seconds)
    if isinstance(exc, openai.APIConnectionError):
        return unreachable()
    if isinstance(exc, openai.APIStatusError):
        return error_for_status(exc.status_code, exc.body, exc.response.headers)
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
