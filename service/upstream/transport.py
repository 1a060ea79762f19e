"""The relay's connection to OpenAI: one aiohttp session per worker, bytes in and bytes out.

Endpoints whose answers are relayed, not consumed (chat completions, responses, embeddings), call
OpenAI here instead of through the SDK: the SDK's request building and response models cost a large
share of a worker's CPU on a proxy's hot path (README, Benchmarks). What the SDK gave them is kept:

- retries on connection errors, 408, 409, 429 and 5xx (and whatever `x-should-retry` says), at most
  `max_retries`, with exponential backoff and full jitter, or the wait OpenAI asks for in
  `retry-after-ms` / `retry-after` when it is between 0 and 60 s (the SDK's rule);
- the organisation and project headers;
- after a 401 or 403, the key re-read (it may have been rotated in Secrets Manager) and one more try;
- the error mapping of service.upstream.errors, and no key in any log.

And one thing the SDK's per-attempt timeouts could not give: **one deadline per request**. Connecting,
every attempt, every backoff and reading the whole body share it, so a hung upstream gets its 504 when
the request's time budget runs out, not after each retry has waited out its own read timeout.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import structlog

from service import metrics
from service.contract import Metrics
from service.errors import APIError
from service.request_context import add_to_current, annotate_current
from service.upstream.errors import error_for_status, retry_after_hint, timed_out, unreachable
from service.upstream.keys import OpenAIKeySource

log = structlog.get_logger(__name__)

OPENAI_API_BASE = "https://api.openai.com/v1"  # the SDK's default, when OPENAI_BASE_URL is unset
_MAX_ERROR_BODY_BYTES = 64 * 1024  # an error body larger than this is not OpenAI's JSON error


@dataclass(frozen=True)
class RetryPolicy:
    """The SDK's retry policy (openai/_constants.py), with full jitter instead of its 25%."""

    max_retries: int
    initial_delay_seconds: float = 0.5
    max_delay_seconds: float = 8.0
    max_retry_after_seconds: float = 60.0  # a longer Retry-After is not waited for: backoff instead

    def should_retry(self, status: int, headers: Mapping[str, str]) -> bool:
        hint = headers.get("x-should-retry")
        if hint in ("true", "false"):
            return hint == "true"
        return status in (408, 409, 429) or status >= 500

    def delay(self, retries_done: int, headers: Mapping[str, str]) -> float:
        hinted = retry_after_hint(headers)
        if hinted is not None and 0 < hinted <= self.max_retry_after_seconds:
            return hinted
        ceiling = min(self.max_delay_seconds, self.initial_delay_seconds * 2**retries_done)
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret


@dataclass(frozen=True)
class TransportConfig:
    base_url: str
    organization: str | None
    project: str | None
    connect_timeout_seconds: float
    retry: RetryPolicy
    environment: str  # the dimension of the upstream-rate-limited metric


@dataclass(frozen=True)
class Deadline:
    """When a request's time is up (event-loop clock), and the budget it was given, for messages."""

    at: float
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(asyncio.get_running_loop().time() + seconds, seconds)


class UpstreamResponse:
    """A 2xx answer from OpenAI, unread: the caller reads its body or its stream before the deadline."""

    def __init__(self, response: aiohttp.ClientResponse, deadline: Deadline) -> None:
        self._response = response
        self.deadline = deadline
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        """The whole body, or a 504 when the request's deadline passes first."""
        try:
            async with asyncio.timeout_at(self.deadline.at):
                return await self._response.read()
        except TimeoutError:
            raise timed_out(self.deadline.seconds) from None
        except aiohttp.ClientError:
            raise unreachable() from None
        finally:
            self._response.release()

    async def read_chunk(self) -> bytes:
        """The next bytes of a stream as they arrive; b"" at its end. Safe to cancel: nothing is lost."""
        return await self._response.content.readany()

    def release(self) -> None:
        self._response.release()


class OpenAITransport:
    """One per worker process, built in the lifespan; `send` is safe to call concurrently."""

    def __init__(self, config: TransportConfig, keys: OpenAIKeySource) -> None:
        self._config = config
        self._keys = keys
        self._base_url = config.base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:  # created inside the worker's event loop, on first use
            self._session = aiohttp.ClientSession(
                # No pool cap: concurrency is bounded by the requests this worker accepts, and a capped pool
                # would queue streams behind each other for as long as the longest one lasts.
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=60),
                # Only connecting has its own clock; everything else runs against the request's deadline. Not
                # trust_env (HTTPS_PROXY, ~/.netrc): aiohttp then reads them on every request, which took the
                # bench's c=50 from 96% to 72% of direct. Egress goes through the VPC's NAT, not a proxy.
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._config.connect_timeout_seconds),
            )
        return self._session

    async def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {await self._keys.current()}", "Content-Type": "application/json"}
        if self._config.organization:
            headers["OpenAI-Organization"] = self._config.organization
        if self._config.project:
            headers["OpenAI-Project"] = self._config.project
        return headers

    async def send(self, path: str, params: Mapping[str, Any], deadline: Deadline) -> UpstreamResponse:
        """POST `params` to `path`; the first 2xx response, unread, or the `APIError` for the last failure."""
        session = self._open()
        url = self._base_url + path
        body = orjson.dumps(params)
        policy = self._config.retry
        loop = asyncio.get_running_loop()
        retries = 0
        refreshed = False
        while True:
            failure: _Failure
            try:
                async with asyncio.timeout_at(deadline.at):
                    response = await session.post(url, data=body, headers=await self._headers())
                    if response.status < 300:
                        _note(response, retries)
                        return UpstreamResponse(response, deadline)
                    failure = _Failure(response.status, await _error_body(response), response.headers)
            except aiohttp.ClientError:  # refused, reset, or no answer to the handshake in time: a 502
                failure = _Failure(None, None, {})
            except TimeoutError:  # the request's deadline
                _note(None, retries)
                raise timed_out(deadline.seconds) from None
            if failure.status in (401, 403) and not refreshed:
                refreshed = True
                if await self._keys.refresh():
                    log.info("retrying_with_refreshed_key")
                    continue
            retryable = failure.status is None or policy.should_retry(failure.status, failure.headers)
            delay = policy.delay(retries, failure.headers) if retryable and retries < policy.max_retries else None
            if delay is None or loop.time() + delay >= deadline.at:
                _note(None, retries)
                raise self._final(failure)
            await asyncio.sleep(delay)
            retries += 1

    def _final(self, failure: _Failure) -> APIError:
        if failure.status is None:
            return unreachable()
        if failure.status == 429:  # still refused after our retries: alarm-worthy
            metrics.emit(Metrics.UPSTREAM_RATE_LIMITED, self._config.environment)
        return error_for_status(failure.status, failure.body, failure.headers)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


@dataclass(frozen=True)
class _Failure:
    status: int | None  # None: no HTTP answer at all
    body: Any
    headers: Mapping[str, str]


def _note(response: aiohttp.ClientResponse | None, retries: int) -> None:
    """OpenAI's request id and our retries of this call, on the current request's log line."""
    if response is not None and (upstream_id := response.headers.get("x-request-id")):
        annotate_current(upstream_request_id=upstream_id)
    add_to_current("upstream_retries", retries)


async def _error_body(response: aiohttp.ClientResponse) -> Any:
    """OpenAI's JSON error body, or None; the response is released either way."""
    try:
        raw = b""
        while len(raw) < _MAX_ERROR_BODY_BYTES and (chunk := await response.content.readany()):
            raw += chunk
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, aiohttp.ClientError):
        return None
    finally:
        response.release()
