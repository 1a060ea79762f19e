"""Values the service and the infrastructure must agree on, defined once.

`infra/` imports this module to build the container definition, the load balancer and the alarms;
`service/` imports it for its settings and its server configuration. Changing a value here changes
both sides together, and `tests/test_contract.py` fails if either side stops using it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

CONTAINER_PORT: Final = 8000
CONTAINER_UID: Final = 10001  # the image's non-root user and group; the task definition enforces it
HEALTH_PATH: Final = "/healthz"  # liveness: the process answers; no dependencies
READY_PATH: Final = "/readyz"  # readiness: key loaded, cache/limits backend reachable

# ECS gives a container at most this long between SIGTERM and SIGKILL.
ECS_MAX_STOP_TIMEOUT_SECONDS: Final = 120


class Env:
    """Environment variable names the service reads and the task definition sets."""

    ENVIRONMENT: Final = "ENVIRONMENT"
    PORT: Final = "PORT"
    LOG_LEVEL: Final = "LOG_LEVEL"
    WEB_CONCURRENCY: Final = "WEB_CONCURRENCY"
    GRACEFUL_TIMEOUT: Final = "GRACEFUL_TIMEOUT"
    MAX_STREAM_SECONDS: Final = "MAX_STREAM_SECONDS"
    SSE_HEARTBEAT_SECONDS: Final = "SSE_HEARTBEAT_SECONDS"
    OPENAI_API_KEY: Final = "OPENAI_API_KEY"
    OPENAI_API_KEY_SECRET_ARN: Final = "OPENAI_API_KEY_SECRET_ARN"
    OPENAI_BASE_URL: Final = "OPENAI_BASE_URL"
    OPENAI_ORG_ID: Final = "OPENAI_ORG_ID"
    OPENAI_PROJECT_ID: Final = "OPENAI_PROJECT_ID"
    CLIENT_API_KEYS: Final = "CLIENT_API_KEYS"
    REDIS_URL: Final = "REDIS_URL"
    REDIS_AUTH_TOKEN: Final = "REDIS_AUTH_TOKEN"
    AWS_REGION: Final = "AWS_REGION"
    # OpenTelemetry's own name: set it (e.g. to a collector sidecar) and the service exports traces.
    OTEL_EXPORTER_OTLP_ENDPOINT: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"


class Metrics:
    """CloudWatch metrics the service emits (Embedded Metric Format log lines) and infra alarms on."""

    NAMESPACE: Final = "OpenAIService"
    # Events, counted once each (dimension set: ROLLUP_DIMENSIONS).
    UPSTREAM_RATE_LIMITED: Final = "UpstreamRateLimited"
    SPEND_SOFT_LIMIT_REACHED: Final = "SpendSoftLimitReached"
    # One record per request, every metric below in it, under both REQUEST_DIMENSIONS and ROLLUP_DIMENSIONS
    # (unit in REQUEST_METRIC_UNITS). A metric a request has no value for (TTFT of a non-streamed request,
    # tokens of a refused one) is left out of its record, not sent as 0.
    REQUESTS: Final = "Requests"
    """1 per request; the `Outcome` property (2xx/4xx/5xx/499) says how it ended."""
    ERRORS_4XX: Final = "Errors4xx"
    ERRORS_5XX: Final = "Errors5xx"
    REQUEST_LATENCY: Final = "RequestLatency"
    TIME_TO_FIRST_TOKEN: Final = "TimeToFirstToken"
    PROMPT_TOKENS: Final = "PromptTokens"
    COMPLETION_TOKENS: Final = "CompletionTokens"
    CACHED_TOKENS: Final = "CachedTokens"
    REASONING_TOKENS: Final = "ReasoningTokens"
    COST_USD: Final = "CostUsd"
    CACHE_HITS: Final = "CacheHits"
    CACHE_MISSES: Final = "CacheMisses"
    UPSTREAM_RETRIES: Final = "UpstreamRetries"


REQUEST_METRIC_UNITS: Final = {
    Metrics.REQUESTS: "Count",
    Metrics.ERRORS_4XX: "Count",
    Metrics.ERRORS_5XX: "Count",
    Metrics.REQUEST_LATENCY: "Milliseconds",
    Metrics.TIME_TO_FIRST_TOKEN: "Milliseconds",
    Metrics.PROMPT_TOKENS: "Count",
    Metrics.COMPLETION_TOKENS: "Count",
    Metrics.CACHED_TOKENS: "Count",
    Metrics.REASONING_TOKENS: "Count",
    Metrics.COST_USD: "None",
    Metrics.CACHE_HITS: "Count",
    Metrics.CACHE_MISSES: "Count",
    Metrics.UPSTREAM_RETRIES: "Count",
}


@dataclass(frozen=True)
class StreamingBudget:
    """One number, the longest allowed stream, and every timeout that has to agree with it.

    The order that must hold (checked by `validate`):
      heartbeat < ALB idle timeout           (a quiet stream is not cut by the load balancer)
      max stream <= deregistration delay     (a draining task keeps its longest stream)
      max stream <= gunicorn graceful timeout < ECS stopTimeout <= 120 s
                                             (SIGTERM lets in-flight streams finish before SIGKILL)
    """

    max_stream_seconds: int = 90
    heartbeat_seconds: int = 15

    @property
    def alb_idle_timeout_seconds(self) -> int:
        # Also covers a non-streamed request that takes the whole budget (no bytes until the end).
        return self.max_stream_seconds + 10

    @property
    def deregistration_delay_seconds(self) -> int:
        return self.max_stream_seconds + 5

    @property
    def graceful_timeout_seconds(self) -> int:
        return self.max_stream_seconds + 5

    @property
    def stop_timeout_seconds(self) -> int:
        return self.graceful_timeout_seconds + 10

    @property
    def keepalive_seconds(self) -> int:
        # Idle connections outlive the ALB's idle timeout, so the ALB closes them first and never reuses one
        # gunicorn has just closed (a 502).
        return self.alb_idle_timeout_seconds + 5

    @property
    def cache_fill_lock_seconds(self) -> int:
        # Identical requests wait for the first one to fill the cache; its lock outlives the slowest call
        # (whose deadline is max stream: service.upstream.transport).
        return self.max_stream_seconds + 10

    def validate(self) -> None:
        """Raise ValueError naming the setting if the timeouts stop agreeing."""
        if self.heartbeat_seconds <= 0 or self.max_stream_seconds <= 0:
            raise ValueError("maxStreamSeconds and sseHeartbeatSeconds must be positive")
        if not self.heartbeat_seconds < self.alb_idle_timeout_seconds:
            raise ValueError(
                f"sseHeartbeatSeconds ({self.heartbeat_seconds}) must be below the ALB idle timeout "
                f"({self.alb_idle_timeout_seconds}); lower sseHeartbeatSeconds"
            )
        if not self.max_stream_seconds <= self.deregistration_delay_seconds:
            raise ValueError("maxStreamSeconds must not exceed the target group's deregistration delay")
        if not self.max_stream_seconds <= self.graceful_timeout_seconds < self.stop_timeout_seconds:
            raise ValueError("gunicorn's graceful timeout must cover maxStreamSeconds and stay below stopTimeout")
        if self.stop_timeout_seconds > ECS_MAX_STOP_TIMEOUT_SECONDS:
            longest = ECS_MAX_STOP_TIMEOUT_SECONDS - (self.stop_timeout_seconds - self.max_stream_seconds)
            raise ValueError(
                f"maxStreamSeconds ({self.max_stream_seconds}) needs an ECS stopTimeout of "
                f"{self.stop_timeout_seconds}s, above ECS's limit of {ECS_MAX_STOP_TIMEOUT_SECONDS}s; "
                f"set maxStreamSeconds to {longest} or less"
            )


DEFAULT_BUDGET: Final = StreamingBudget()

# Every service metric carries this dimension (value: the ENVIRONMENT variable). CloudWatch alarms match
# dimensions exactly, so infra alarms on Metrics.NAMESPACE/<name> with {METRIC_DIMENSION: <stack>}: the
# fleet-wide ROLLUP_DIMENSIONS set. Per-request metrics are also emitted per model and endpoint
# (REQUEST_DIMENSIONS) for the dashboard; the client id is a property, never a dimension (cardinality).
METRIC_DIMENSION: Final = "Environment"
MODEL_DIMENSION: Final = "Model"
ENDPOINT_DIMENSION: Final = "Endpoint"
ROLLUP_DIMENSIONS: Final = (METRIC_DIMENSION,)
REQUEST_DIMENSIONS: Final = (METRIC_DIMENSION, MODEL_DIMENSION, ENDPOINT_DIMENSION)
