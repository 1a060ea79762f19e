"""Alarms, dashboard and the cost budget."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from infra.config import KEYS
from infra.project import PROJECT
from service.contract import (
    METRIC_DIMENSION,
    REQUEST_DIMENSIONS,
    REQUEST_METRIC_UNITS,
    ROLLUP_DIMENSIONS,
    Metrics,
)
from service.metrics import REQUEST_METRIC_FIELDS, emf_line, request_record
from tests.infra.conftest import Programs, Run

Series = tuple[str, str, frozenset[tuple[str, str]]]
"""(namespace, metric name, dimensions): what a CloudWatch alarm must match exactly."""

# Every service-metric alarm and the metrics it reads (the 5xx rate is metric math over two of them).
SERVICE_ALARMS = {
    "ttft-p99": {Metrics.TIME_TO_FIRST_TOKEN},
    "service-5xx-rate": {Metrics.ERRORS_5XX},
    "spend-rate": {Metrics.COST_USD},
    "upstream-rate-limited": {Metrics.UPSTREAM_RATE_LIMITED},
    "spend-soft-limit": {Metrics.SPEND_SOFT_LIMIT_REACHED},
}


def _series_of(record: Mapping[str, Any]) -> set[Series]:
    """The metrics CloudWatch makes of one EMF record: each metric under each of its dimension sets."""
    found: set[Series] = set()
    for directive in record["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            dimensions = frozenset((name, record[name]) for name in dimension_set)
            found |= {(directive["Namespace"], m["Name"], dimensions) for m in directive["Metrics"]}
    return found


def _emitted(stack: str) -> set[Series]:
    """What the service emits in `stack`: a request with every per-request value, and each event counter."""
    fields: dict[str, Any] = dict.fromkeys(REQUEST_METRIC_FIELDS.values(), 1)
    fields |= {"model": "gpt-4o-mini", "cache": "HIT"}
    emitted = _series_of(request_record(stack, "/v1/chat/completions", fields, "5xx"))
    emitted |= _series_of(request_record(stack, "/v1/chat/completions", {**fields, "cache": "MISS"}, "2xx"))
    for event in (Metrics.UPSTREAM_RATE_LIMITED, Metrics.SPEND_SOFT_LIMIT_REACHED):
        emitted |= _series_of(json.loads(emf_line(event, 1, stack)))
    return emitted


def _alarm_series(alarm: Mapping[str, Any]) -> Iterator[Series]:
    """The series an alarm reads: its one metric, or each metric of its metric-math queries."""
    if alarm.get("metricName"):
        yield alarm["namespace"], alarm["metricName"], frozenset(alarm["dimensions"].items())
    for query in alarm.get("metricQueries") or []:
        if metric := query.get("metric"):
            yield metric["namespace"], metric["metricName"], frozenset(metric["dimensions"].items())


def _alarms(run: Run) -> dict[str, dict[str, Any]]:
    return {
        a["inputs"]["name"].removeprefix(f"{PROJECT}-{run.stack}-"): a["inputs"]
        for a in run.of("aws:cloudwatch/metricAlarm:MetricAlarm")
    }


def _default(key: str) -> float:
    return float(next(k.default for k in KEYS if k.name == key) or 0)


def test_alarms_cover_alb_service_cache_and_app_metrics_and_notify_the_topic(run: Run) -> None:
    alarms = _alarms(run)
    nodes = 2 if run.stack == "prod" else 1
    expected = {"alb-5xx-rate", "unhealthy-hosts", "ecs-cpu-high", "ecs-memory-high"}
    expected |= set(SERVICE_ALARMS)
    expected |= {f"cache-{n}-{m}" for n in range(1, nodes + 1) for m in ("cpu", "memory", "evictions")}
    assert set(alarms) == expected
    topic = run.one("aws:sns/topic:Topic")["state"]["arn"]
    assert all(a["alarmActions"] == [topic] for a in alarms.values())
    assert alarms["upstream-rate-limited"]["namespace"] == Metrics.NAMESPACE
    assert alarms["upstream-rate-limited"]["metricName"] == Metrics.UPSTREAM_RATE_LIMITED
    assert alarms["spend-soft-limit"]["metricName"] == Metrics.SPEND_SOFT_LIMIT_REACHED
    assert alarms["spend-soft-limit"]["dimensions"] == {METRIC_DIMENSION: run.stack}
    assert alarms["ttft-p99"]["extendedStatistic"] == "p99"
    # Errors5xx is 0 or 1 on every request, so its average is the 5xx share: one metric, no metric math.
    assert (alarms["service-5xx-rate"]["metricName"], alarms["service-5xx-rate"]["statistic"]) == (
        Metrics.ERRORS_5XX,
        "Average",
    )


def test_dashboard_and_budget_exist_per_stack(run: Run) -> None:
    dashboard = run.inputs("aws:cloudwatch/dashboard:Dashboard")
    assert json.loads(dashboard["dashboardBody"])["widgets"]
    assert run.outputs["dashboard_url"]["value"].endswith(dashboard["dashboardName"])
    budget = run.inputs("aws:budgets/budget:Budget")
    assert budget["timeUnit"] == "MONTHLY"
    assert budget["limitAmount"] == ("600" if run.stack == "prod" else "150")
    # This stack's tagged costs, and the costs no stack's tag claims (they would otherwise count nowhere).
    assert budget["costFilters"] == [
        {"name": "TagKeyValue", "values": [f"user:environment${run.stack}", "user:environment$"]}
    ]
    thresholds = sorted(n["threshold"] for n in budget["notifications"] if n["notificationType"] == "ACTUAL")
    assert thresholds == [50, 80, 100]


def test_alarm_email_subscribes_only_when_configured(programs: Programs) -> None:
    assert programs["staging"].of("aws:sns/topicSubscription:TopicSubscription") == []
    sub = programs["prod-full"].inputs("aws:sns/topicSubscription:TopicSubscription")
    assert (sub["protocol"], sub["endpoint"]) == ("email", "ops@example.com")


def test_the_budget_waits_for_the_topic_policy_that_lets_it_publish(run: Run) -> None:
    policy = run.one("aws:sns/topicPolicy:TopicPolicy")
    assert any(d.endswith(f"::{policy['name']}") for d in run.one("aws:budgets/budget:Budget")["dependencies"])


def test_every_service_metric_alarm_watches_a_series_the_service_emits(run: Run) -> None:
    emitted = _emitted(run.stack)
    # CloudWatch alarms match dimensions exactly: only the rollup set covers every model and endpoint.
    rollup = frozenset((name, run.stack) for name in ROLLUP_DIMENSIONS)
    assert rollup == {(METRIC_DIMENSION, run.stack)}
    events = (Metrics.UPSTREAM_RATE_LIMITED, Metrics.SPEND_SOFT_LIMIT_REACHED)
    contract = {(Metrics.NAMESPACE, metric, rollup) for metric in (*REQUEST_METRIC_UNITS, *events)}
    watched: dict[str, set[str]] = {}
    for slug, alarm in _alarms(run).items():
        for series in _alarm_series(alarm):
            namespace, metric, dimensions = series
            if namespace != Metrics.NAMESPACE:
                continue
            assert dimensions == rollup, (slug, metric, dict(dimensions))
            assert series in contract, f"{slug}: {metric} is not a metric of service/contract.py"
            assert series in emitted, f"{slug}: service.metrics never emits {metric} under {dict(rollup)}"
            watched.setdefault(slug, set()).add(metric)
    assert watched == SERVICE_ALARMS


def test_service_alarm_thresholds_come_from_the_stack_in_the_metrics_units(programs: Programs) -> None:
    assert REQUEST_METRIC_UNITS[Metrics.TIME_TO_FIRST_TOKEN] == "Milliseconds"
    staging_spend = 2.0  # Pulumi.staging.yaml
    for variant, ttft, five_xx, spend in (
        ("staging", _default("alarmTtftP99Seconds"), _default("alarm5xxPercent"), staging_spend),
        ("prod", _default("alarmTtftP99Seconds"), _default("alarm5xxPercent"), _default("alarmSpendUsdPerHour")),
        ("prod-full", 20.0, 2.0, 50.0),  # conftest.VARIANTS
    ):
        alarms = _alarms(programs[variant])
        assert (alarms["ttft-p99"]["threshold"], alarms["ttft-p99"]["extendedStatistic"]) == (ttft * 1000, "p99")
        # The average of a 0-or-1 metric is a fraction; the stack's key is a percentage.
        assert alarms["service-5xx-rate"]["threshold"] == five_xx / 100
        spend_rate = alarms["spend-rate"]
        assert (spend_rate["threshold"], spend_rate["statistic"], spend_rate["period"]) == (spend, "Sum", 3600)


def _dashboard_metrics(run: Run) -> tuple[list[list[Any]], list[str]]:
    """The dashboard's metric rows (namespace, name, dimension pairs..., options) and its expressions."""
    body = json.loads(run.inputs("aws:cloudwatch/dashboard:Dashboard")["dashboardBody"])
    rows, expressions = [], []
    for widget in body["widgets"]:
        for row in widget["properties"]["metrics"]:
            if isinstance(row[0], dict):
                expressions.append(row[0]["expression"])
            else:
                rows.append(row)
    return rows, expressions


def test_dashboard_service_metrics_are_series_the_service_emits(run: Run) -> None:
    emitted = _emitted(run.stack)
    rows, expressions = _dashboard_metrics(run)
    shown: dict[str, set[str]] = {}
    for row in rows:
        options = row[-1] if isinstance(row[-1], dict) else {}
        pairs = [x for x in row[2:] if not isinstance(x, dict)]
        dimensions = frozenset(zip(pairs[::2], pairs[1::2], strict=True))
        if row[0] == Metrics.NAMESPACE:
            assert (row[0], row[1], dimensions) in emitted, row
            shown.setdefault(row[1], set()).add(options.get("stat", ""))
    assert {"p50", "p99"} <= shown[Metrics.REQUEST_LATENCY]
    assert {"p50", "p99"} <= shown[Metrics.TIME_TO_FIRST_TOKEN]
    for metric in (Metrics.ERRORS_4XX, Metrics.ERRORS_5XX, Metrics.UPSTREAM_RATE_LIMITED, Metrics.COST_USD):
        assert metric in shown
    assert {Metrics.CACHE_HITS, Metrics.CACHE_MISSES} <= set(shown)
    assert any("100 * FILL(hits, 0)" in e for e in expressions)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_per_model_widgets_search_the_dimension_set_the_service_emits_per_request(
    programs: Programs, stack: str
) -> None:
    _, expressions = _dashboard_metrics(programs[stack])
    searched = {}
    for expression in expressions:
        found = re.fullmatch(
            r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\" (\w+)=\"([^\"]+)\"', '(\w+)', \d+\)", expression
        )
        if found:
            schema, metric, dimension, value, _stat = found.groups()
            namespace, *names = schema.split(",")
            searched[metric] = (namespace, frozenset(names), dimension, value)
    per_request = {m for _, m, dims in _emitted(stack) if frozenset(d for d, _ in dims) == set(REQUEST_DIMENSIONS)}
    expected = (Metrics.NAMESPACE, frozenset(REQUEST_DIMENSIONS), METRIC_DIMENSION, stack)
    tokens_and_cost = {
        Metrics.PROMPT_TOKENS, Metrics.COMPLETION_TOKENS, Metrics.CACHED_TOKENS, Metrics.REASONING_TOKENS,
        Metrics.COST_USD,
    }  # fmt: skip
    assert set(searched) == tokens_and_cost
    assert tokens_and_cost <= per_request
    assert all(found == expected for found in searched.values()), searched
