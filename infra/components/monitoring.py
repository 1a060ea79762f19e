"""Alarm topic, alarms (load balancer, service, cache, the service's own metrics) and a dashboard."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from infra.project import component_type
from service.contract import (
    ENDPOINT_DIMENSION,
    METRIC_DIMENSION,
    MODEL_DIMENSION,
    REQUEST_DIMENSIONS,
    REQUEST_METRIC_UNITS,
    Metrics,
    StreamingBudget,
)


@dataclass
class MonitoringArgs:
    """Inputs of `Monitoring`. Cluster and service names are fixed strings so alarms can exist first."""

    stack: str
    region: str
    name_prefix: str
    """Prefix of alarm and dashboard names (unique per stack in the account)."""
    kms_key_arn: pulumi.Input[str]
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    cluster_name: str
    service_name: str
    cache_replication_group_id: pulumi.Input[str]
    cache_nodes: int
    budget: StreamingBudget
    ttft_p99_seconds: float
    """Threshold of the `ttft-p99` alarm (`alarmTtftP99Seconds`)."""
    five_xx_percent: float
    """Threshold of the `service-5xx-rate` alarm (`alarm5xxPercent`)."""
    spend_usd_per_hour: float
    """Threshold of the `spend-rate` alarm (`alarmSpendUsdPerHour`)."""
    alarm_email: str | None = None


@dataclass(frozen=True)
class Threshold:
    """One alarm on one metric: above `threshold` for `periods` periods of `period` seconds."""

    slug: str
    """Alarm name suffix (`<prefix>-<slug>`); `{n}` is the cache node number in per-node alarms."""
    description: str
    threshold: float
    periods: int
    namespace: str
    metric: str
    statistic: str
    """`Sum`, `Average`, `Maximum`, or a percentile such as `p99`."""
    scope: str
    """Which dimensions: `target_group`, `service`, `app` (the service's own metrics) or `cache_node`."""
    period: int = 60


# The service's alarms. Thresholds are where an operator should look, not where users already suffer.
ALARMS: Final = (
    Threshold(
        "unhealthy-hosts", "A task has failed load balancer health checks for 3 minutes", 0, 3,
        "AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", "target_group",
    ),
    Threshold(
        "ecs-cpu-high", "Service CPU above 85% for 5 minutes", 85, 5,
        "AWS/ECS", "CPUUtilization", "Average", "service",
    ),
    Threshold(
        "ecs-memory-high", "Service memory above 85% for 5 minutes", 85, 5,
        "AWS/ECS", "MemoryUtilization", "Average", "service",
    ),
    Threshold(
        "upstream-rate-limited",
        "OpenAI answered 429 more than 10 times in 5 minutes: raise the OpenAI tier or lower client limits", 10, 1,
        Metrics.NAMESPACE, Metrics.UPSTREAM_RATE_LIMITED, "Sum", "app", period=300,
    ),
    Threshold(
        "spend-soft-limit", "The service reached a spend soft limit (BUDGET_*_SOFT_USD)", 0, 1,
        Metrics.NAMESPACE, Metrics.SPEND_SOFT_LIMIT_REACHED, "Sum", "app", period=300,
    ),
)  # fmt: skip

CACHE_NODE_ALARMS: Final = (
    Threshold(
        "cache-{n}-cpu", "Cache engine CPU above 80% for 5 minutes", 80, 5,
        "AWS/ElastiCache", "EngineCPUUtilization", "Average", "cache_node",
    ),
    Threshold(
        "cache-{n}-memory", "Cache memory above 80% for 5 minutes", 80, 5,
        "AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "Maximum", "cache_node",
    ),
    Threshold(
        # Evictions drop rate-limit and spend counters, not just cached responses.
        "cache-{n}-evictions", "The cache evicted keys: it is too small for the working set", 0, 1,
        "AWS/ElastiCache", "Evictions", "Sum", "cache_node", period=300,
    ),
)  # fmt: skip

# A metric's unit (service/contract.py) to its value for one second: CloudWatch compares thresholds in it.
_PER_SECOND: Final = {"Milliseconds": 1000, "Seconds": 1}

# The service's 5xx share in % for the dashboard, over its `errors` (Errors5xx) and `requests` (Requests) sums.
# The alarm needs no metric math: every request records Errors5xx as 0 or 1, so its Average is the share.
SERVICE_5XX_RATE: Final = "100 * FILL(errors, 0) / IF(requests > 0, requests, 1)"


def _ttft_threshold(args: MonitoringArgs) -> float:
    return args.ttft_p99_seconds * _PER_SECOND[REQUEST_METRIC_UNITS[Metrics.TIME_TO_FIRST_TOKEN]]


def service_alarms(args: MonitoringArgs) -> tuple[Threshold, ...]:
    """Alarms on the service's per-request metrics, with the stack's thresholds."""
    return (
        Threshold(
            "ttft-p99",
            f"p99 time to first token above {args.ttft_p99_seconds:g} s for 5 minutes (alarmTtftP99Seconds)",
            _ttft_threshold(args), 5,
            Metrics.NAMESPACE, Metrics.TIME_TO_FIRST_TOKEN, "p99", "app",
        ),
        Threshold(
            "service-5xx-rate",
            f"Over {args.five_xx_percent:g}% of the service's requests ended in 5xx for 5 minutes (alarm5xxPercent)",
            args.five_xx_percent / 100, 5,
            Metrics.NAMESPACE, Metrics.ERRORS_5XX, "Average", "app",
        ),
        Threshold(
            "spend-rate",
            f"The service spent more than ${args.spend_usd_per_hour:g} on OpenAI in an hour (alarmSpendUsdPerHour)",
            args.spend_usd_per_hour, 1,
            Metrics.NAMESPACE, Metrics.COST_USD, "Sum", "app", period=3600,
        ),
    )  # fmt: skip


# ECS watches these during a deployment; any of them firing rolls the deployment back.
DEPLOYMENT_ALARMS: Final = ("alb-5xx-rate", "unhealthy-hosts")


class Monitoring(pulumi.ComponentResource):
    """SNS topic (encrypted), CloudWatch alarms into it, and the stack's dashboard."""

    topic_arn: pulumi.Output[str]
    topic_policy: aws.sns.TopicPolicy
    deployment_alarm_names: list[str]
    deployment_alarms: list[aws.cloudwatch.MetricAlarm]
    """Alarms ECS watches during a deployment; any of them firing rolls the deployment back."""
    alarm_names: list[str]
    dashboard_url: str

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(component_type("Monitoring"), name, None, opts)
        self._name = name
        self._args = args
        self._alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}

        self._topic = self._alarm_topic()
        self._five_xx_rate_alarm()
        scopes: dict[str, dict[str, pulumi.Input[str]]] = {
            "target_group": {"LoadBalancer": args.alb_arn_suffix, "TargetGroup": args.target_group_arn_suffix},
            "service": {"ClusterName": args.cluster_name, "ServiceName": args.service_name},
            "app": {METRIC_DIMENSION: args.stack},
        }
        for alarm in (*ALARMS, *service_alarms(args)):
            self._alarm(alarm, scopes[alarm.scope])
        for n in range(1, args.cache_nodes + 1):
            # Member clusters of a replication group are named <group id>-001, -002, ...
            node = {"CacheClusterId": pulumi.Output.concat(args.cache_replication_group_id, f"-{n:03d}")}
            for alarm in CACHE_NODE_ALARMS:
                self._alarm(dataclasses.replace(alarm, slug=alarm.slug.format(n=n)), node)
        self.dashboard_url = self._dashboard()

        self.topic_arn = self._topic.arn
        self.alarm_names = list(self._alarms)
        self.deployment_alarm_names = [self._alarm_name(slug) for slug in DEPLOYMENT_ALARMS]
        self.deployment_alarms = [self._alarms[alarm] for alarm in self.deployment_alarm_names]
        self.register_outputs(
            {"topic_arn": self.topic_arn, "alarm_names": self.alarm_names, "dashboard_url": self.dashboard_url}
        )

    def _alarm_topic(self) -> aws.sns.Topic:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(f"{self._name}-alarms", kms_master_key_id=args.kms_key_arn, opts=child)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self.topic_policy = aws.sns.TopicPolicy(
            f"{self._name}-alarms-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account).apply(lambda ta: _topic_policy(ta[0], ta[1])),
            opts=child,
        )
        if args.alarm_email is not None:
            aws.sns.TopicSubscription(
                f"{self._name}-alarms-email", topic=topic.arn, protocol="email", endpoint=args.alarm_email, opts=child
            )
        return topic

    def _five_xx_rate_alarm(self) -> None:
        lb = {"LoadBalancer": self._args.alb_arn_suffix}
        self._create(
            "alb-5xx-rate",
            "More than 5% of requests answered 5xx (load balancer or tasks) for 3 minutes",
            threshold=5,
            evaluation_periods=3,
            metric_queries=[
                _query("errors", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", lb, "Sum"),
                _query("target_errors", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb, "Sum"),
                _query("requests", "AWS/ApplicationELB", "RequestCount", lb, "Sum"),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="rate",
                    expression="100 * (FILL(errors, 0) + FILL(target_errors, 0)) / IF(requests > 0, requests, 1)",
                    label="5xx %",
                    return_data=True,
                ),
            ],
        )

    def _alarm(self, alarm: Threshold, dimensions: Mapping[str, pulumi.Input[str]]) -> None:
        percentile = alarm.statistic.startswith("p")
        self._create(
            alarm.slug,
            alarm.description,
            threshold=alarm.threshold,
            evaluation_periods=alarm.periods,
            namespace=alarm.namespace,
            metric_name=alarm.metric,
            dimensions=dimensions,
            period=alarm.period,
            statistic=None if percentile else alarm.statistic,
            extended_statistic=alarm.statistic if percentile else None,
        )

    def _alarm_name(self, slug: str) -> str:
        return f"{self._args.name_prefix}-{slug}"

    def _create(self, slug: str, description: str, *, threshold: float, evaluation_periods: int, **metric: Any) -> None:
        alarm_name = self._alarm_name(slug)
        self._alarms[alarm_name] = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{slug}",
            name=alarm_name,
            alarm_description=description,
            comparison_operator="GreaterThanThreshold",
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            # No traffic is not an incident; a missing metric must not page anyone.
            treat_missing_data="notBreaching",
            alarm_actions=[self._topic.arn],
            ok_actions=[self._topic.arn],
            opts=pulumi.ResourceOptions(parent=self),
            **metric,
        )

    def _dashboard(self) -> str:
        args = self._args
        aws.cloudwatch.Dashboard(
            f"{self._name}-dashboard",
            dashboard_name=args.name_prefix,
            dashboard_body=pulumi.Output.all(args.alb_arn_suffix, args.target_group_arn_suffix).apply(
                lambda s: _dashboard(args, s[0], s[1])
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return (
            f"https://{args.region}.console.aws.amazon.com/cloudwatch/home?region={args.region}"
            f"#dashboards/dashboard/{args.name_prefix}"
        )


def _query(
    id_: str, namespace: str, metric: str, dimensions: Mapping[str, pulumi.Input[str]], stat: str
) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=id_,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace, metric_name=metric, dimensions=dimensions, period=60, stat=stat
        ),
    )


def _topic_policy(topic_arn: str, account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AlarmsAndBudgetsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def _search(metric: str, stack: str, stat: str, period: int) -> str:
    """Every per-model/endpoint series of `metric` in this stack, so a newly allowed model appears by itself."""
    schema = ",".join((Metrics.NAMESPACE, *REQUEST_DIMENSIONS))
    return f"SEARCH('{{{schema}}} MetricName=\"{metric}\" {METRIC_DIMENSION}=\"{stack}\"', '{stat}', {period})"


def _dashboard(args: MonitoringArgs, alb: str, tg: str) -> str:
    def widget(
        title: str, metrics: list[list[Any]], stat: str = "Sum", period: int = 60, alarm: float | None = None
    ) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "title": title, "region": args.region, "stat": stat, "period": period, "metrics": metrics
        }  # fmt: skip
        if alarm is not None:
            properties["annotations"] = {"horizontal": [{"label": "alarm", "value": alarm}]}
        return {"type": "metric", "width": 12, "height": 6, "properties": properties}

    by_model = f"${{PROP('Dim.{MODEL_DIMENSION}')}} ${{PROP('Dim.{ENDPOINT_DIMENSION}')}}"

    def per_model(title: str, metrics: list[str], stat: str = "Sum") -> dict[str, Any]:
        searches = [
            [{"expression": _search(metric, args.stack, stat, 300), "id": f"m{i}", "label": f"{metric} {by_model}"}]
            for i, metric in enumerate(metrics)
        ]
        return widget(title, searches, stat=stat, period=300)

    ecs = ["ClusterName", args.cluster_name, "ServiceName", args.service_name]
    app = [METRIC_DIMENSION, args.stack]
    ns = Metrics.NAMESPACE
    widgets = [
        widget(
            "Request latency (ms, p50 / p99)",
            [
                [ns, Metrics.REQUEST_LATENCY, *app, {"stat": "p50"}],
                [ns, Metrics.REQUEST_LATENCY, *app, {"stat": "p99"}],
            ],
            stat="p99",
        ),
        widget(
            "Time to first token (ms, p50 / p99)",
            [
                [ns, Metrics.TIME_TO_FIRST_TOKEN, *app, {"stat": "p50"}],
                [ns, Metrics.TIME_TO_FIRST_TOKEN, *app, {"stat": "p99"}],
            ],
            stat="p99",
            alarm=_ttft_threshold(args),
        ),
        widget(
            "Requests, 4xx and 5xx (service)",
            [
                [ns, Metrics.REQUESTS, *app],
                [ns, Metrics.ERRORS_4XX, *app],
                [ns, Metrics.ERRORS_5XX, *app],
            ],
        ),
        widget(
            "5xx share of requests (%, service)",
            [
                [ns, Metrics.ERRORS_5XX, *app, {"id": "errors", "visible": False}],
                [ns, Metrics.REQUESTS, *app, {"id": "requests", "visible": False}],
                [
                    {
                        "expression": SERVICE_5XX_RATE,
                        "id": "rate",
                        "label": "5xx %",
                    }
                ],
            ],
            alarm=args.five_xx_percent,
        ),
        per_model(
            "Tokens per model and endpoint (5 minutes)",
            [Metrics.PROMPT_TOKENS, Metrics.COMPLETION_TOKENS, Metrics.CACHED_TOKENS, Metrics.REASONING_TOKENS],
        ),
        per_model("Cost per model and endpoint (USD, 5 minutes)", [Metrics.COST_USD]),
        widget(
            "Spend per hour (USD)",
            [[ns, Metrics.COST_USD, *app]],
            period=3600,
            alarm=args.spend_usd_per_hour,
        ),
        widget(
            "Response cache hit rate (%)",
            [
                [ns, Metrics.CACHE_HITS, *app, {"id": "hits", "visible": False}],
                [ns, Metrics.CACHE_MISSES, *app, {"id": "misses", "visible": False}],
                [
                    {
                        "expression": "100 * FILL(hits, 0) / IF(FILL(hits, 0) + FILL(misses, 0) > 0, "
                        "FILL(hits, 0) + FILL(misses, 0), 1)",
                        "id": "rate",
                        "label": "hit rate %",
                    }
                ],
            ],
            period=300,
        ),
        widget(
            "Upstream 429s, retries and spend soft limit",
            [
                [ns, Metrics.UPSTREAM_RATE_LIMITED, *app],
                [ns, Metrics.UPSTREAM_RETRIES, *app],
                [ns, Metrics.SPEND_SOFT_LIMIT_REACHED, *app],
            ],
        ),
        widget(
            "Load balancer: requests and errors",
            [
                ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", alb],
                ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", alb],
                ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", alb],
                ["AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", "LoadBalancer", alb],
            ],
        ),
        widget(
            "Load balancer: time to first byte (p50, p99)",
            [
                ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", alb, "TargetGroup", tg, {"stat": "p50"}],
                ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", alb, "TargetGroup", tg, {"stat": "p99"}],
            ],
            stat="p99",
        ),
        widget(
            "Service CPU and memory (%)",
            [["AWS/ECS", "CPUUtilization", *ecs], ["AWS/ECS", "MemoryUtilization", *ecs]],
            stat="Average",
        ),
        widget(
            "Healthy / unhealthy tasks",
            [
                ["AWS/ApplicationELB", "HealthyHostCount", "LoadBalancer", alb, "TargetGroup", tg],
                ["AWS/ApplicationELB", "UnHealthyHostCount", "LoadBalancer", alb, "TargetGroup", tg],
            ],
            stat="Maximum",
        ),
        widget(
            f"Active streams budget: {args.budget.max_stream_seconds}s max; ALB connections",
            [["AWS/ApplicationELB", "ActiveConnectionCount", "LoadBalancer", alb]],
        ),
    ]
    return json.dumps({"widgets": widgets})
