"""Alarm topic, alarms (load balancer, service, cache, the service's own metrics) and a dashboard."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

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


class Monitoring(pulumi.ComponentResource):
    """SNS topic (encrypted), CloudWatch alarms into it, and the stack's dashboard."""

    topic_arn: pulumi.Output[str]
    deployment_alarm_names: list[str]
    deployment_alarms: list[aws.cloudwatch.MetricAlarm]
    """Alarms ECS watches during a deployment; any of them firing rolls the deployment back."""
    alarm_names: list[str]
    dashboard_url: str

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openai-aws-template:index:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._name = name
        self._args = args

        topic = aws.sns.Topic(f"{name}-alarms", kms_master_key_id=args.kms_key_arn, opts=child)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        aws.sns.TopicPolicy(
            f"{name}-alarms-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account).apply(lambda ta: _topic_policy(ta[0], ta[1])),
            opts=child,
        )
        if args.alarm_email is not None:
            aws.sns.TopicSubscription(
                f"{name}-alarms-email", topic=topic.arn, protocol="email", endpoint=args.alarm_email, opts=child
            )
        self._topic = topic
        self.alarm_names = []
        self._alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}

        lb = {"LoadBalancer": args.alb_arn_suffix}
        tg = {"LoadBalancer": args.alb_arn_suffix, "TargetGroup": args.target_group_arn_suffix}
        svc = {"ClusterName": args.cluster_name, "ServiceName": args.service_name}
        app = {METRIC_DIMENSION: args.stack}

        five_xx = self._alarm(
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
        unhealthy = self._alarm(
            "unhealthy-hosts",
            "A task has failed load balancer health checks for 3 minutes",
            threshold=0,
            evaluation_periods=3,
            namespace="AWS/ApplicationELB",
            metric_name="UnHealthyHostCount",
            dimensions=tg,
            statistic="Maximum",
        )
        self._alarm(
            "target-p99-latency",
            # TargetResponseTime is time to first byte, so a stream counts only until its first chunk.
            "p99 time to first byte from the tasks above 20 s for 5 minutes",
            threshold=20,
            evaluation_periods=5,
            namespace="AWS/ApplicationELB",
            metric_name="TargetResponseTime",
            dimensions=tg,
            extended_statistic="p99",
        )
        self._alarm(
            "ecs-cpu-high", "Service CPU above 85% for 5 minutes", threshold=85, evaluation_periods=5,
            namespace="AWS/ECS", metric_name="CPUUtilization", dimensions=svc, statistic="Average",
        )  # fmt: skip
        self._alarm(
            "ecs-memory-high", "Service memory above 85% for 5 minutes", threshold=85, evaluation_periods=5,
            namespace="AWS/ECS", metric_name="MemoryUtilization", dimensions=svc, statistic="Average",
        )  # fmt: skip
        for i in range(args.cache_nodes):
            # Member clusters of a replication group are named <group id>-001, -002, ...
            node = {"CacheClusterId": pulumi.Output.concat(args.cache_replication_group_id, f"-{i + 1:03d}")}
            self._alarm(
                f"cache-{i + 1}-cpu", "Cache engine CPU above 80% for 5 minutes", threshold=80, evaluation_periods=5,
                namespace="AWS/ElastiCache", metric_name="EngineCPUUtilization", dimensions=node, statistic="Average",
            )  # fmt: skip
            self._alarm(
                f"cache-{i + 1}-memory", "Cache memory above 80% for 5 minutes", threshold=80, evaluation_periods=5,
                namespace="AWS/ElastiCache", metric_name="DatabaseMemoryUsagePercentage", dimensions=node,
                statistic="Maximum",
            )  # fmt: skip
            self._alarm(
                f"cache-{i + 1}-evictions",
                # Evictions drop rate-limit and spend counters, not just cached responses.
                "The cache evicted keys: it is too small for the working set", threshold=0, evaluation_periods=1,
                period=300, namespace="AWS/ElastiCache", metric_name="Evictions", dimensions=node, statistic="Sum",
            )  # fmt: skip
        self._alarm(
            "upstream-rate-limited",
            "OpenAI answered 429 more than 10 times in 5 minutes: raise the OpenAI tier or lower client limits",
            threshold=10, evaluation_periods=1, period=300, namespace=Metrics.NAMESPACE,
            metric_name=Metrics.UPSTREAM_RATE_LIMITED, dimensions=app, statistic="Sum",
        )  # fmt: skip
        self._alarm(
            "spend-soft-limit",
            "The service reached its spend soft limit",
            threshold=0, evaluation_periods=1, period=300, namespace=Metrics.NAMESPACE,
            metric_name=Metrics.SPEND_SOFT_LIMIT_REACHED, dimensions=app, statistic="Sum",
        )  # fmt: skip

        dashboard_name = f"{args.name_prefix}"
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=dashboard_name,
            dashboard_body=pulumi.Output.all(args.alb_arn_suffix, args.target_group_arn_suffix).apply(
                lambda s: _dashboard(args, s[0], s[1])
            ),
            opts=child,
        )

        self.topic_arn = topic.arn
        self.deployment_alarm_names = [five_xx, unhealthy]
        self.deployment_alarms = [self._alarms[five_xx], self._alarms[unhealthy]]
        self.dashboard_url = (
            f"https://{args.region}.console.aws.amazon.com/cloudwatch/home?region={args.region}"
            f"#dashboards/dashboard/{dashboard_name}"
        )
        self.register_outputs(
            {"topic_arn": self.topic_arn, "alarm_names": self.alarm_names, "dashboard_url": self.dashboard_url}
        )

    def _alarm(
        self,
        slug: str,
        description: str,
        *,
        threshold: float,
        evaluation_periods: int,
        period: int = 60,
        **metric: Any,
    ) -> str:
        alarm_name = f"{self._args.name_prefix}-{slug}"
        if "metric_queries" not in metric:
            metric["period"] = period
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
        self.alarm_names.append(alarm_name)
        return alarm_name


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
