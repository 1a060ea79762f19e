"""What an upstream failure becomes for our client: one mapping for the relay and the SDK alike.

The relay (service.upstream.transport) sees statuses and bodies; the SDK's consumers (moderation,
answers' embeddings, evals) see the SDK's exceptions, which `service.upstream.client` reduces to the
same status, body and headers before calling `error_for_status`. So a 429 says the same thing, and a
401 hides the same message, whichever path met it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import structlog

from service.errors import APIError, InvalidRequest, RateLimited, UpstreamError, UpstreamTimeout
from service.ratelimit.headers import retry_after

log = structlog.get_logger(__name__)


class UpstreamRateLimited(RateLimited):
    """OpenAI's own 429, after our retries; `retry_after_seconds` is as precise as OpenAI said it."""

    def __init__(self, message: str, *, code: str, retry_after_seconds: float) -> None:
        super().__init__(message, code=code, headers=retry_after(retry_after_seconds))
        self.retry_after_seconds = retry_after_seconds


class UpstreamRejected(InvalidRequest):
    """OpenAI refused the request itself (4xx): its status, message, param and code, passed on."""

    def __init__(self, status: int, message: str, *, param: str | None, code: str) -> None:
        super().__init__(message, param=param, code=code)
        self.status_code = status


def retry_after_hint(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` first (sub-second, as the SDK reads it), then `retry-after` in seconds."""
    for name, per_second in (("retry-after-ms", 1000), ("retry-after", 1)):
        try:
            seconds = float(headers.get(name, "")) / per_second
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def _error_field(body: Any, name: str) -> str | None:
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get(name), str):
            return str(inner[name])
    return None


def timed_out(seconds: float) -> UpstreamTimeout:
    return UpstreamTimeout(f"OpenAI did not answer within {seconds:g}s; try again")


def unreachable() -> UpstreamError:
    return UpstreamError("Could not reach OpenAI; try again shortly", code="upstream_unreachable")


def error_for_status(status: int, body: Any, headers: Mapping[str, str]) -> APIError:
    """An upstream error response (after retries) as the error our client receives."""
    if status == 429:
        hint = retry_after_hint(headers)
        return UpstreamRateLimited(
            "OpenAI's rate limit for this service was reached; retry after the time in Retry-After",
            code=_error_field(body, "code") or "rate_limit_exceeded",
            retry_after_seconds=1.0 if hint is None else hint,
        )
    if status in (401, 403):
        # Our key is wrong, not the client's request. Never echo OpenAI's message: it quotes the key.
        log.error("upstream_authentication_failed", upstream_status=status)
        return UpstreamError("Upstream authentication failed", code="upstream_auth_failed")
    if 400 <= status < 500:
        return UpstreamRejected(
            status,
            _error_field(body, "message") or f"OpenAI rejected the request ({status})",
            param=_error_field(body, "param"),
            code=_error_field(body, "code") or "upstream_rejected",
        )
    log.warning("upstream_server_error", upstream_status=status)
    return UpstreamError(f"OpenAI returned an error ({status}); try again")
