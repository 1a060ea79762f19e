"""Per-client RPM/TPM limits and the fleet-wide guard for the organization's OpenAI limits."""

from service.ratelimit.client import Admission, ClientLimits, ClientRateLimiter, RateLimitExceeded
from service.ratelimit.headers import WindowReport, format_reset, parse_reset, retry_after
from service.ratelimit.tokens import (
    TokenEstimate,
    count_prompt_tokens,
    count_text_tokens,
    estimate_request,
    o200k_base,
)
from service.ratelimit.upstream import UpstreamGuard, UpstreamPermit, UpstreamSaturated

__all__ = [
    "Admission",
    "ClientLimits",
    "ClientRateLimiter",
    "RateLimitExceeded",
    "TokenEstimate",
    "UpstreamGuard",
    "UpstreamPermit",
    "UpstreamSaturated",
    "WindowReport",
    "count_prompt_tokens",
    "count_text_tokens",
    "estimate_request",
    "format_reset",
    "o200k_base",
    "parse_reset",
    "retry_after",
]
