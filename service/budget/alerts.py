"""The soft-limit signal: a warning log line, and a CloudWatch metric (EMF) an alarm can watch."""

from __future__ import annotations

import structlog

from service import metrics
from service.budget.spend import Reservation
from service.contract import Metrics

log = structlog.get_logger(__name__)


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
        metrics.emit(
            Metrics.SPEND_SOFT_LIMIT_REACHED,
            environment,
            scope=reached.scope,
            period=reached.period,
            client_id=reservation.client_id,
        )
