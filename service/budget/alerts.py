"""The soft-limit signal: a warning log line, and a CloudWatch metric (EMF) an alarm can watch."""

from __future__ import annotations

import sys
import time

import orjson
import structlog

from service.budget.spend import Reservation
from service.contract import METRIC_DIMENSION, Metrics

log = structlog.get_logger(__name__)


def emf_line(metric: str, value: float, environment: str, **properties: str) -> str:
    """One Embedded Metric Format record; CloudWatch Logs turns it into a metric."""
    record = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": Metrics.NAMESPACE,
                    "Dimensions": [[METRIC_DIMENSION]],
                    "Metrics": [{"Name": metric, "Unit": "Count"}],
                }
            ],
        },
        METRIC_DIMENSION: environment,
        metric: value,
        **properties,
    }
    return orjson.dumps(record).decode()


def signal_soft_limits(reservation: Reservation, environment: str) -> None:
    for reached in reservation.soft_limits_reached:
        log.warning(
            "spend_soft_limit_reached",
            client_id=reservation.client_id,
            scope=reached.scope,
            period=reached.period,
            limit_usd=reached.limit_usd,
            committed_usd=round(reached.committed_usd, 6),
        )
        # Metric records go straight to stdout: the log pipeline must not reshape them.
        sys.stdout.write(
            emf_line(
                Metrics.SPEND_SOFT_LIMIT_REACHED,
                1,
                environment,
                scope=reached.scope,
                period=reached.period,
                client_id=reservation.client_id,
            )
            + "\n"
        )
