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
from service.contract import METRIC_DIMENSION, Metrics, StreamingBudget


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
        # TargetResponseTime is time to first byte, so a stream counts only until its first chunk.
        "target-p99-latency", "p99 time to first byte from the tasks above 20 s for 5 minutes", 20, 5,
        "AWS/ApplicationELB", "TargetResponseTime", "p99", "target_group",
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
        for alarm in ALARMS:
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
    id_: str, namespace: str, metric: str, dimensions: dict[str, pulumi.Input[str]], stat: str
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


def _dashboard(args: MonitoringArgs, alb: str, tg: str) -> str:
    def widget(title: str, metrics: list[list[Any]], stat: str = "Sum") -> dict[str, Any]:
        return {
            "type": "metric",
            "width": 12,
            "height": 6,
            "properties": {"title": title, "region": args.region, "stat": stat, "period": 60, "metrics": metrics},
        }

    ecs = ["ClusterName", args.cluster_name, "ServiceName", args.service_name]
    app = [METRIC_DIMENSION, args.stack]
    widgets = [
        widget(
            "Requests and errors",
            [
                ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", alb],
                ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", alb],
                ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", alb],
                ["AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", "LoadBalancer", alb],
            ],
        ),
        widget(
            "Time to first byte (p50, p99)",
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
            "Upstream 429s and spend soft limit",
            [
                [Metrics.NAMESPACE, Metrics.UPSTREAM_RATE_LIMITED, *app],
                [Metrics.NAMESPACE, Metrics.SPEND_SOFT_LIMIT_REACHED, *app],
            ],
        ),
        widget(
            f"Active streams budget: {args.budget.max_stream_seconds}s max; ALB connections",
            [["AWS/ApplicationELB", "ActiveConnectionCount", "LoadBalancer", alb]],
        ),
    ]
    return json.dumps({"widgets": widgets})
