"""What a refusal by the cost controls looks like to the client: OpenAI's own error shapes."""

from __future__ import annotations

from service.budget import BudgetExceeded
from service.errors import APIError, InsufficientQuota, RateLimited, ServiceUnavailable
from service.ratelimit import RateLimitExceeded, UpstreamSaturated, retry_after
from service.state import StateRefused

REFUSALS = (RateLimitExceeded, BudgetExceeded, UpstreamSaturated, StateRefused)


def as_api_error(exc: Exception) -> APIError:
    """One of `REFUSALS` as the error the client receives."""
    if isinstance(exc, RateLimitExceeded):
        return RateLimited(exc.message, headers=exc.headers)
    if isinstance(exc, BudgetExceeded):
        return InsufficientQuota(exc.args[0], headers=retry_after(exc.retry_after_seconds))
    if isinstance(exc, UpstreamSaturated):
        return ServiceUnavailable(
            "This service is at its OpenAI rate limit; retry after the time in Retry-After",
            code="upstream_capacity",
            headers=retry_after(exc.retry_after_seconds),
        )
    return ServiceUnavailable(f"{exc}; try again shortly", code="limits_unavailable")
