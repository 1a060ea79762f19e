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


class Metrics:
    """CloudWatch metrics the service emits (Embedded Metric Format log lines) and infra alarms on."""

    NAMESPACE: Final = "OpenAIService"
    UPSTREAM_RATE_LIMITED: Final = "UpstreamRateLimited"
    SPEND_SOFT_LIMIT_REACHED: Final = "SpendSoftLimitReached"


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

# Service metrics carry exactly this one dimension (EMF `"Dimensions": [["Environment"]]`, value = the
# ENVIRONMENT variable). CloudWatch alarms match dimensions exactly, so infra alarms on
# Metrics.NAMESPACE/<name> with {METRIC_DIMENSION: <stack>}; a metric emitted with another set never alarms.
METRIC_DIMENSION: Final = "Environment"
