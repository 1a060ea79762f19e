"""Target-tracking autoscaling of the service's task count on CPU and on requests per task."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.project import component_type


@dataclass
class AutoscalingArgs:
    """Inputs of `Autoscaling`."""

    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    min_tasks: int
    max_tasks: int
    cpu_target_percent: int
    requests_per_target: int
    """ALB requests per task per minute to aim for; streams are long, so this is low."""
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]


class Autoscaling(pulumi.ComponentResource):
    """Scalable target for the service plus two target-tracking policies; the busier metric wins."""

    def __init__(self, name: str, args: AutoscalingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(component_type("Autoscaling"), name, None, opts)
        if not 1 <= args.min_tasks <= args.max_tasks:
            raise ValueError(f"need 1 <= min_tasks ({args.min_tasks}) <= max_tasks ({args.max_tasks})")
        child = pulumi.ResourceOptions(parent=self)

        target = aws.appautoscaling.Target(
            f"{name}-target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", args.cluster_name, "/", args.service_name),
            min_capacity=args.min_tasks,
            max_capacity=args.max_tasks,
            opts=child,
        )
        aws.appautoscaling.Policy(
            f"{name}-cpu",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=args.cpu_target_percent,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ECSServiceAverageCPUUtilization"
                ),
                scale_out_cooldown=60,
                # Scale in slowly: a removed task drains its streams for the whole deregistration delay.
                scale_in_cooldown=300,
            ),
            opts=child,
        )
        aws.appautoscaling.Policy(
            f"{name}-requests",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=args.requests_per_target,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ALBRequestCountPerTarget",
                    resource_label=pulumi.Output.concat(args.alb_arn_suffix, "/", args.target_group_arn_suffix),
                ),
                scale_out_cooldown=60,
                scale_in_cooldown=300,
            ),
            opts=child,
        )

        self.resource_id = target.resource_id
        self.register_outputs({"resource_id": self.resource_id})
