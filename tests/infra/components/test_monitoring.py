"""Alarms, dashboard and the cost budget."""

from __future__ import annotations

import json

from infra.project import PROJECT
from service.contract import (
    METRIC_DIMENSION,
    Metrics,
)
from tests.infra.conftest import Programs, Run


def test_alarms_cover_alb_service_cache_and_app_metrics_and_notify_the_topic(run: Run) -> None:
    alarms = {
        a["inputs"]["name"].removeprefix(f"{PROJECT}-{run.stack}-"): a["inputs"]
        for a in run.of("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    nodes = 2 if run.stack == "prod" else 1
    expected = {"alb-5xx-rate", "unhealthy-hosts", "target-p99-latency", "ecs-cpu-high", "ecs-memory-high"}
    expected |= {"upstream-rate-limited", "spend-soft-limit"}
    expected |= {f"cache-{n}-{m}" for n in range(1, nodes + 1) for m in ("cpu", "memory", "evictions")}
    assert set(alarms) == expected
    topic = run.one("aws:sns/topic:Topic")["state"]["arn"]
    assert all(a["alarmActions"] == [topic] for a in alarms.values())
    assert alarms["upstream-rate-limited"]["namespace"] == Metrics.NAMESPACE
    assert alarms["upstream-rate-limited"]["metricName"] == Metrics.UPSTREAM_RATE_LIMITED
    assert alarms["spend-soft-limit"]["metricName"] == Metrics.SPEND_SOFT_LIMIT_REACHED
    assert alarms["spend-soft-limit"]["dimensions"] == {METRIC_DIMENSION: run.stack}
    assert alarms["target-p99-latency"]["extendedStatistic"] == "p99"


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
