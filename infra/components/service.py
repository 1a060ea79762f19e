"""ECS cluster and the Fargate service that runs the API: roles, task definition, deployment safety."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from infra.project import component_type
from service.contract import CONTAINER_PORT, CONTAINER_UID, HEALTH_PATH, Env, StreamingBudget

CONTAINER_NAME = "api"
# The image's non-root user (uid:gid); the task definition enforces it even if the image changes.
CONTAINER_USER = f"{CONTAINER_UID}:{CONTAINER_UID}"


@dataclass
class ApiServiceArgs:
    """Inputs of `ApiService`."""

    region: str
    """The stack's region, for the log driver and the `kms:ViaService` conditions."""
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
    """The tasks' only group: it admits the load balancer and nothing else, public IP or not."""
    target_group_arn: pulumi.Input[str]
    budget: StreamingBudget
    """The container's stopTimeout follows it (SIGTERM, drain, then SIGKILL)."""
    environment: dict[str, str]
    """The service's plain environment (`StackConfig.service_environment`)."""
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
    protect_logs: bool = False
    """Pulumi `protect` on the log group (prod): no `up` or `destroy` deletes the service's logs."""
    health_check_grace_period_seconds: int = 60
    spot_percent: int = 0
    """Share of tasks above `on_demand_base` on Fargate Spot (0-100)."""
    on_demand_base: int = 0
    assign_public_ip: bool = False
    """Give each task a public IP: its only way out when the subnets have no NAT (`Network.task_public_ip`)."""
    container_insights: Literal["enhanced", "enabled"] = "enhanced"
    """`enhanced` (task and container metrics) or `enabled` (cluster, service and task family only)."""


class ApiService(pulumi.ComponentResource):
    """ECS cluster with Container Insights and a Fargate service behind the target group."""

    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]
    task_family: str
    service: aws.ecs.Service

    def __init__(self, name: str, args: ApiServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(component_type("ApiService"), name, None, opts)
        if not 0 <= args.spot_percent <= 100:
            raise ValueError("spot_percent must be between 0 and 100")
        if args.container_insights not in ("enhanced", "enabled"):
            raise ValueError("container_insights must be 'enhanced' or 'enabled'")
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        cluster, capacity = self._cluster()
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/ecs/{args.cluster_name}/{args.service_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect_logs),
        )
        execution_role = self._execution_role(log_group)
        task_role = self._task_role()
        self.task_family = f"{args.cluster_name}-{args.service_name}"
        task_definition = self._task_definition(log_group, execution_role, task_role)
        self.service = self._service(cluster, capacity, task_definition)

        self.cluster_name = cluster.name
        self.service_name = self.service.name
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

    def _cluster(self) -> tuple[aws.ecs.Cluster, aws.ecs.ClusterCapacityProviders]:
        cluster = aws.ecs.Cluster(
            f"{self._name}-cluster",
            name=self._args.cluster_name,
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value=self._args.container_insights)],
            opts=self._child,
        )
        capacity = aws.ecs.ClusterCapacityProviders(
            f"{self._name}-capacity",
            cluster_name=cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            opts=self._child,
        )
        return cluster, capacity

    def _decrypt_via_secrets_manager(self, sid: str) -> dict[str, Any]:
        # The key also encrypts logs, the cache and images; the roles may use it only to read secrets.
        return {
            "Sid": sid,
            "Action": ["kms:Decrypt"],
            "Resource": self._args.kms_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{self._args.region}.amazonaws.com"}},
        }

    def _role(self, slug: str, description: str, *statements: dict[str, Any]) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{self._name}-{slug}", description=description, assume_role_policy=_ecs_tasks_trust(), opts=self._child
        )
        aws.iam.RolePolicy(
            f"{self._name}-{slug}-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(_policy(*statements)),
            opts=self._child,
        )
        return role

    def _execution_role(self, log_group: aws.cloudwatch.LogGroup) -> aws.iam.Role:
        args = self._args
        return self._role(
            "execution",
            "ECS agent: pull the image, write logs, inject the task's secrets",
            # GetAuthorizationToken has no resource-level permissions.
            {"Sid": "EcrLogin", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
            {
                "Sid": "PullOurImage",
                "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
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
            self._decrypt_via_secrets_manager("DecryptSecrets"),
        )

    def _task_role(self) -> aws.iam.Role:
        return self._role(
            "task",
            "The API process: read the OpenAI key (re-read after rotation); nothing else",
            {
                "Sid": "ReadOpenAIKey",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": self._args.openai_api_key_secret_arn,
            },
            self._decrypt_via_secrets_manager("DecryptOpenAIKey"),
        )

    def _task_definition(
        self, log_group: aws.cloudwatch.LogGroup, execution_role: aws.iam.Role, task_role: aws.iam.Role
    ) -> aws.ecs.TaskDefinition:
        args = self._args
        container = pulumi.Output.all(
            image=args.image,
            log_group=log_group.name,
            openai_arn=args.openai_api_key_secret_arn,
            clients_arn=args.client_api_keys_secret_arn,
            token_arn=args.redis_auth_token_secret_arn,
            redis_url=args.redis_url,
        ).apply(lambda v: json.dumps([_container_definition(args, v)]))
        return aws.ecs.TaskDefinition(
            f"{self._name}-task",
            family=self.task_family,
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
            opts=self._child,
        )

    def _capacity_strategies(self) -> list[aws.ecs.ServiceCapacityProviderStrategyArgs]:
        args = self._args
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
        return strategies

    def _service(
        self,
        cluster: aws.ecs.Cluster,
        capacity: aws.ecs.ClusterCapacityProviders,
        task_definition: aws.ecs.TaskDefinition,
    ) -> aws.ecs.Service:
        args = self._args
        return aws.ecs.Service(
            f"{self._name}-service",
            name=args.service_name,
            cluster=cluster.arn,
            task_definition=task_definition.arn,
            desired_count=args.desired_count,
            capacity_provider_strategies=self._capacity_strategies(),
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.subnet_ids,
                security_groups=[args.security_group_id],
                assign_public_ip=args.assign_public_ip,
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
            # `pulumi up` returns only once the new tasks pass their health checks, so a rollout that
            # cannot start (no client keys, a bad setting, an image that crashes) fails the update.
            wait_for_steady_state=True,
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


def _container_definition(args: ApiServiceArgs, v: dict[str, Any]) -> dict[str, Any]:
    environment = {
        **args.environment,
        # An ARN, not the key: the service fetches the key itself so it can re-fetch after rotation.
        Env.OPENAI_API_KEY_SECRET_ARN: v["openai_arn"],
        Env.REDIS_URL: v["redis_url"],
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
        "stopTimeout": args.budget.stop_timeout_seconds,
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
