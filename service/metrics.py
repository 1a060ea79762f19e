"""CloudWatch metrics as Embedded Metric Format (EMF) log lines: no API calls, no extra permissions.

CloudWatch Logs turns each record into a metric in `Metrics.NAMESPACE` with the `METRIC_DIMENSION`
(the stack's environment); the alarms in infra/components/monitoring.py watch these names.
"""

from __future__ import annotations

import sys
import time

import orjson

from service.contract import METRIC_DIMENSION, Metrics


def emf_line(metric: str, value: float, environment: str, **properties: str) -> str:
    """One EMF record; `properties` are searchable fields, not dimensions."""
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


def emit(metric: str, environment: str, value: float = 1, **properties: str) -> None:
    # Straight to stdout, one write per record: the log pipeline must not reshape EMF records.
    sys.stdout.write(emf_line(metric, value, environment, **properties) + "\n")
