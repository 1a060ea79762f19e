"""CloudWatch metrics as Embedded Metric Format (EMF) log lines: no API calls, no extra permissions.

CloudWatch Logs turns each record into metrics in `Metrics.NAMESPACE`; the alarms and the dashboard in
infra/components/monitoring.py watch these names. Hand-written rather than `aws-embedded-metrics`:
a record is one dict and one `orjson.dumps`, that library's logger adds an async flush, a sink
and environment detection (ECS metadata calls) to every request's hot path for the same bytes.
The structure follows the EMF specification (tests/service/test_metrics.py checks it).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

import orjson

from service.contract import (
    ENDPOINT_DIMENSION,
    METRIC_DIMENSION,
    MODEL_DIMENSION,
    REQUEST_DIMENSIONS,
    REQUEST_METRIC_UNITS,
    ROLLUP_DIMENSIONS,
    Metrics,
)

NO_MODEL = "none"  # the Model dimension of a request refused before a model was chosen (bad key, bad JSON)

# The access log's field for each per-request metric (service.middleware writes both from the same fields).
REQUEST_METRIC_FIELDS: Mapping[str, str] = {
    Metrics.REQUEST_LATENCY: "latency_ms",
    Metrics.TIME_TO_FIRST_TOKEN: "ttft_ms",
    Metrics.PROMPT_TOKENS: "prompt_tokens",
    Metrics.COMPLETION_TOKENS: "completion_tokens",
    Metrics.CACHED_TOKENS: "cached_tokens",
    Metrics.REASONING_TOKENS: "reasoning_tokens",
    Metrics.COST_USD: "cost_usd",
    Metrics.UPSTREAM_RETRIES: "upstream_retries",
}
# Request-log fields copied into the record as properties: searchable in Logs Insights, never dimensions.
REQUEST_PROPERTIES = ("request_id", "client_id", "upstream_request_id", "status", "cache", "stream")


def emf_line(metric: str, value: float, environment: str, **properties: str) -> str:
    """One EMF record of one event counter; `properties` are searchable fields, not dimensions."""
    record = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": Metrics.NAMESPACE,
                    "Dimensions": [list(ROLLUP_DIMENSIONS)],
                    "Metrics": [{"Name": metric, "Unit": "Count"}],
                }
            ],
        },
        METRIC_DIMENSION: environment,
        metric: value,
        **properties,
    }
    return orjson.dumps(record).decode()


def outcome_of(status: int) -> str:
    """The `Outcome` property: 2xx/4xx/5xx, or 499 (nginx's name) when the client left before the end."""
    return "499" if status == 499 else f"{status // 100}xx"


def request_record(environment: str, endpoint: str, fields: Mapping[str, Any], outcome: str) -> dict[str, Any]:
    """One request's EMF record, every value it has under REQUEST_DIMENSIONS and ROLLUP_DIMENSIONS."""
    values: dict[str, float] = {
        Metrics.REQUESTS: 1,
        Metrics.ERRORS_4XX: 1 if outcome == "4xx" else 0,
        Metrics.ERRORS_5XX: 1 if outcome == "5xx" else 0,
    }
    cache = fields.get("cache")
    if cache in ("HIT", "MISS"):  # BYPASS (not cacheable) counts as neither
        values[Metrics.CACHE_HITS] = 1 if cache == "HIT" else 0
        values[Metrics.CACHE_MISSES] = 1 if cache == "MISS" else 0
    for metric, name in REQUEST_METRIC_FIELDS.items():
        value = fields.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[metric] = value
    record: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": Metrics.NAMESPACE,
                    "Dimensions": [list(REQUEST_DIMENSIONS), list(ROLLUP_DIMENSIONS)],
                    "Metrics": [{"Name": name, "Unit": REQUEST_METRIC_UNITS[name]} for name in values],
                }
            ],
        },
        METRIC_DIMENSION: environment,
        MODEL_DIMENSION: str(fields.get("model") or NO_MODEL),
        ENDPOINT_DIMENSION: endpoint,
        "Outcome": outcome,
        **{name: fields[name] for name in REQUEST_PROPERTIES if fields.get(name) is not None},
        **values,
    }
    return record


def emit(metric: str, environment: str, value: float = 1, **properties: str) -> None:
    # Straight to stdout, one write per record: the log pipeline must not reshape EMF records.
    sys.stdout.write(emf_line(metric, value, environment, **properties) + "\n")


def emit_request(environment: str, endpoint: str, fields: Mapping[str, Any], outcome: str) -> None:
    sys.stdout.write(orjson.dumps(request_record(environment, endpoint, fields, outcome)).decode() + "\n")
