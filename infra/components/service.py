"""ECS cluster and the Fargate service that runs the API: roles, task definition, deployment safety."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from service.contract import CONTAINER_PORT, CONTAINER_UID, HEALTH_PATH, Env, StreamingBudget

CONTAINER_NAME = "api"
# The image's non-root user (uid:gid); the task definition enforces it even if the image changes.
CONTAINER_USER = f"{CONTAINER_UID}:{CONTAINER_UID}"


@dataclass
class ApiServiceArgs:
    """Inputs of `ApiService`."""

    stack: str
    region: str
    cluster_name: str
    service_name: str
    image: pulumi.Input[str]
    """Digest-pinned image reference."""
    repository_arn: pulumi.Input[str]
    """The ECR repository the execution role may pull from."""
    cpu: int
    memory: int
    desired_count: int
    """Initial task count only; autoscaling owns it afterwards."""
    subnet_ids: list[pulumi.Output[str]]
    security_group_id: pulumi.Input[str]
    target_group_arn: pulumi.Input[str]
    budget: StreamingBudget
    kms_key_arn: pulumi.Input[str]
    openai_api_key_secret_arn: pulumi.Input[str]
    client_api_keys_secret_arn: pulumi.Input[str]
    redis_auth_token_secret_arn: pulumi.Input[str]
    redis_url: pulumi.Input[str]
    deployment_alarm_names: list[str]
    wait_for: Sequence[pulumi.Resource] = ()
    """Resources the ECS service must wait for: the listeners that attach the target group to the ALB,
    and the deployment alarms. (A component's own depends_on does not reach its children.)"""
    log_retention_days: int = 30
    health_check_grace_period_seconds: int = 60
    spot_percent: int = 0
    """Share of tasks above `on_demand_base` on Fargate Spot (0-100)."""
    on_demand_base: int = 0
    web_concurrency: int = 2
    log_level: str = "info"
    extra_environment: dict[str, str] = field(default_factory=dict)
    """Optional plain settings (OpenAI org/project ids)."""


class ApiService(pulumi.ComponentResource):
    """ECS cluster with Container Insights and a private Fargate service behind the target group."""

    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]
    task_family: str
    service: aws.ecs.Service

    def __init__(self, name: str, args: ApiServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openai-aws-template:index:ApiService", name, None, opts)
        if not 0 <= args.spot_percent <= 100:
            raise ValueError("spot_percent must be between 0 and 100")
        child = pulumi.ResourceOptions(parent=self)

        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enhanced")],
            opts=child,
        )
        capacity = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            cluster_name=cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/ecs/{args.cluster_name}/{args.service_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )

        execution_role = aws.iam.Role(
            f"{name}-execution",
            description="ECS agent: pull the image, write logs, inject the task's secrets",
            assume_role_policy=_ecs_tasks_trust(),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-execution-policy",
            role=execution_role.id,
            policy=pulumi.Output.json_dumps(
                _policy(
                    {
                        # GetAuthorizationToken has no resource-level permissions.
                        "Sid": "EcrLogin",
                        "Action": ["ecr:GetAuthorizationToken"],
                        "Resource": "*",
                    },
                    {
                        "Sid": "PullOurImage",
                        "Action": [
                            "ecr:BatchCheckLayerAvailability",
                            "ecr:GetDownloadUrlForLayer",
                            "ecr:BatchGetImage",
                        ],
                        "Resource": args.repository_arn,
                    },
                    {
                        "Sid": "WriteOurLogs",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": pulumi.Output.concat(log_group.arn, ":*"),
                    },
                    {
                        "Sid": "InjectedSecrets",
                        "Action": ["secretsmanager:GetSecretValue"],
                        "Resource": [args.client_api_keys_secret_arn, args.redis_auth_token_secret_arn],
                    },
                    {"Sid": "DecryptSecrets", "Action": ["kms:Decrypt"], "Resource": args.kms_key_arn},
                )
            ),
            opts=child,
        )

        task_role = aws.iam.Role(
            f"{name}-task",
            description="The API process: read the OpenAI key (re-read after rotation); nothing else",
            assume_role_policy=_ecs_tasks_trust(),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-task-policy",
            role=task_role.id,
            policy=pulumi.Output.json_dumps(
                _policy(
                    {
                        "Sid": "ReadOpenAIKey",
                        "Action": ["secretsmanager:GetSecretValue"],
                        "Resource": args.openai_api_key_secret_arn,
                    },
                    {"Sid": "DecryptOpenAIKey", "Action": ["kms:Decrypt"], "Resource": args.kms_key_arn},
                )
            ),
            opts=child,
        )

        container = pulumi.Output.all(
            image=args.image,
            log_group=log_group.name,
            openai_arn=args.openai_api_key_secret_arn,
            clients_arn=args.client_api_keys_secret_arn,
            token_arn=args.redis_auth_token_secret_arn,
            redis_url=args.redis_url,
        ).apply(lambda v: json.dumps([_container_definition(args, v)]))

        task_family = f"{args.cluster_name}-{args.service_name}"
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=task_family,
            cpu=str(args.cpu),
            memory=str(args.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture="X86_64"
            ),
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            container_definitions=container,
            # Task-local scratch space for /tmp; the root filesystem itself is read-only.
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name="tmp")],
            opts=child,
        )

        strategies = []
        if args.on_demand_base > 0 or args.spot_percent < 100:
            strategies.append(
                aws.ecs.ServiceCapacityProviderStrategyArgs(
                    capacity_provider="FARGATE", base=args.on_demand_base, weight=100 - args.spot_percent
                )
            )
        if args.spot_percent > 0:
            strategies.append(
                aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider="FARGATE_SPOT", weight=args.spot_percent)
            )

        service = aws.ecs.Service(
            f"{name}-service",
            name=args.service_name,
            cluster=cluster.arn,
            task_definition=task_definition.arn,
            desired_count=args.desired_count,
            capacity_provider_strategies=strategies,
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.subnet_ids, security_groups=[args.security_group_id], assign_public_ip=False
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=args.target_group_arn, container_name=CONTAINER_NAME, container_port=CONTAINER_PORT
                )
            ],
            health_check_grace_period_seconds=args.health_check_grace_period_seconds,
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            alarms=aws.ecs.ServiceAlarmsArgs(alarm_names=args.deployment_alarm_names, enable=True, rollback=True),
            availability_zone_rebalancing="ENABLED",
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            enable_execute_command=False,
            # Autoscaling owns the task count; a deploy must not reset it to the initial value. The
            # strategy names FARGATE_SPOT, which the cluster accepts only once it is associated.
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=["desiredCount"], depends_on=[capacity, *args.wait_for]
            ),
        )

        self.service = service
        self.task_family = task_family
        self.cluster_name = cluster.name
        self.service_name = service.name
        self.log_group_name = log_group.name
        self.execution_role_arn = execution_role.arn
        self.task_role_arn = task_role.arn
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "service_name": self.service_name,
                "log_group_name": self.log_group_name,
                "execution_role_arn": self.execution_role_arn,
                "task_role_arn": self.task_role_arn,
            }
        )


def _container_definition(args: ApiServiceArgs, v: dict[str, Any]) -> dict[str, Any]:
    budget = args.budget
    environment = {
        Env.ENVIRONMENT: args.stack,
        Env.PORT: str(CONTAINER_PORT),
        Env.LOG_LEVEL: args.log_level,
        Env.WEB_CONCURRENCY: str(args.web_concurrency),
        Env.MAX_STREAM_SECONDS: str(budget.max_stream_seconds),
        Env.SSE_HEARTBEAT_SECONDS: str(budget.heartbeat_seconds),
        Env.GRACEFUL_TIMEOUT: str(budget.graceful_timeout_seconds),
        # An ARN, not the key: the service fetches the key itself so it can re-fetch after rotation.
        Env.OPENAI_API_KEY_SECRET_ARN: v["openai_arn"],
        Env.REDIS_URL: v["redis_url"],
        Env.AWS_REGION: args.region,
        **args.extra_environment,
    }
    probe = (
        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{CONTAINER_PORT}{HEALTH_PATH}', timeout=3)"
    )
    return {
        "name": CONTAINER_NAME,
        "image": v["image"],
        "essential": True,
        "portMappings": [{"containerPort": CONTAINER_PORT, "protocol": "tcp"}],
        "environment": [{"name": k, "value": val} for k, val in sorted(environment.items())],
        # Injected by the ECS agent (execution role) at start; never in the task definition itself.
        "secrets": [
            {"name": Env.CLIENT_API_KEYS, "valueFrom": v["clients_arn"]},
            {"name": Env.REDIS_AUTH_TOKEN, "valueFrom": v["token_arn"]},
        ],
        "user": CONTAINER_USER,
        "readonlyRootFilesystem": True,
        "privileged": False,
        # A path inside the container (task-local volume), not a temp file on this machine.
        "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}],  # noqa: S108
        "linuxParameters": {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}},
        # SIGTERM -> gunicorn drains streams for GRACEFUL_TIMEOUT -> SIGKILL only after this.
        "stopTimeout": budget.stop_timeout_seconds,
        "healthCheck": {
            "command": ["CMD", "python", "-c", probe],
            "interval": 15,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 30,
        },
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": v["log_group"],
                "awslogs-region": args.region,
                "awslogs-stream-prefix": CONTAINER_NAME,
                # A slow log pipe must not block request handling.
                "mode": "non-blocking",
                "max-buffer-size": "25m",
            },
        },
    }


def _ecs_tasks_trust() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **s} for s in statements]}
