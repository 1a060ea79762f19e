"""The Pulumi program: read the stack config, build the components, export what operators need."""

from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import config
from infra.components.autoscaling import Autoscaling, AutoscalingArgs
from infra.components.cache import Cache, CacheArgs
from infra.components.cost import CostBudget, CostBudgetArgs
from infra.components.firewall import Firewall, FirewallArgs
from infra.components.github_deploy import GithubDeploy, GithubDeployArgs
from infra.components.load_balancer import LoadBalancer, LoadBalancerArgs
from infra.components.monitoring import Monitoring, MonitoringArgs
from infra.components.network import Network, NetworkArgs, standard_zones
from infra.components.registry import Registry, RegistryArgs
from infra.components.secrets import Secrets, SecretsArgs
from infra.components.service import ApiService, ApiServiceArgs
from infra.outputs import CLIENT_API_KEYS_SECRET_ARN, FIRST_CLIENT_API_KEY
from infra.project import PROJECT

cfg = config.load()
prefix = f"{PROJECT}-{cfg.stack}"
cluster_name, service_name = prefix, "api"

# One explicit provider carries the region and the default tags; every component uses it.
provider = aws.Provider(
    "aws",
    region=cfg.region,
    default_tags=aws.ProviderDefaultTagsArgs(
        tags={"project": PROJECT, "environment": cfg.stack, "managed-by": "pulumi"}
    ),
)
opts = pulumi.ResourceOptions(providers=[provider])

network = Network(
    "net",
    NetworkArgs(
        cidr=cfg.vpc_cidr,
        zones=config.select_zones(cfg, standard_zones(pulumi.InvokeOptions(provider=provider))),
        nat_gateway_count=cfg.nat_gateway_count,
        region=cfg.region,
        vpc_endpoints=cfg.vpc_endpoints,
    ),
    opts,
)
firewall = Firewall("fw", FirewallArgs(vpc_id=network.vpc_id), opts)
secrets = Secrets(
    "secrets",
    SecretsArgs(
        openai_api_key=cfg.openai_api_key,
        openai_api_key_secret_arn=cfg.openai_api_key_secret_arn,
        protect=cfg.deletion_protection,
    ),
    opts,
)
cache = Cache(
    "cache",
    CacheArgs(
        subnet_ids=network.private_subnet_ids,
        security_group_id=firewall.cache_sg_id,
        kms_key_arn=secrets.key_arn,
        auth_token=secrets.redis_auth_token,
        engine=cfg.cache_engine,
        engine_version=cfg.cache_engine_version,
        node_type=cfg.cache_node_type,
        nodes=cfg.cache_nodes,
        snapshot_retention_days=cfg.cache_snapshot_retention_days,
        final_snapshot_name=f"{prefix}-cache-final" if cfg.deletion_protection else None,
    ),
    opts,
)
registry = Registry(
    "registry",
    RegistryArgs(
        kms_key_arn=secrets.key_arn,
        image=cfg.image,
        # Pulumi runs this program with infra/ as the working directory; the Dockerfile is one up.
        context=Path(__file__).resolve().parent.parent,
        protect=cfg.deletion_protection,
    ),
    opts,
)
web = LoadBalancer(
    "web",
    LoadBalancerArgs(
        vpc_id=network.vpc_id,
        public_subnet_ids=network.public_subnet_ids,
        security_group_id=firewall.alb_sg_id,
        budget=cfg.budget,
        region=cfg.region,
        deletion_protection=cfg.deletion_protection,
        access_log_retention_days=cfg.access_log_retention_days,
        domain_name=cfg.domain_name,
        hosted_zone_id=cfg.hosted_zone_id,
        certificate_arn=cfg.certificate_arn,
    ),
    opts,
)
monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        stack=cfg.stack,
        region=cfg.region,
        name_prefix=prefix,
        kms_key_arn=secrets.key_arn,
        alb_arn_suffix=web.alb_arn_suffix,
        target_group_arn_suffix=web.target_group_arn_suffix,
        cluster_name=cluster_name,
        service_name=service_name,
        cache_replication_group_id=cache.replication_group_id,
        cache_nodes=cfg.cache_nodes,
        budget=cfg.budget,
        ttft_p99_seconds=cfg.alarm_ttft_p99_seconds,
        five_xx_percent=cfg.alarm_5xx_percent,
        spend_usd_per_hour=cfg.alarm_spend_usd_per_hour,
        alarm_email=cfg.alarm_email,
    ),
    opts,
)
api = ApiService(
    "api",
    ApiServiceArgs(
        region=cfg.region,
        cluster_name=cluster_name,
        service_name=service_name,
        image=registry.image_ref,
        repository_arn=registry.repository_arn,
        cpu=cfg.cpu,
        memory=cfg.memory,
        desired_count=cfg.min_tasks,
        subnet_ids=network.task_subnet_ids,
        assign_public_ip=network.task_public_ip,
        security_group_id=firewall.service_sg_id,
        target_group_arn=web.target_group_arn,
        budget=cfg.budget,
        environment=cfg.service_environment,
        kms_key_arn=secrets.key_arn,
        openai_api_key_secret_arn=secrets.openai_api_key_secret_arn,
        client_api_keys_secret_arn=secrets.client_api_keys_secret_arn,
        redis_auth_token_secret_arn=secrets.redis_auth_token_secret_arn,
        redis_url=cache.url,
        deployment_alarm_names=monitoring.deployment_alarm_names,
        log_retention_days=cfg.log_retention_days,
        protect_logs=cfg.deletion_protection,
        health_check_grace_period_seconds=cfg.health_check_grace_period_seconds,
        spot_percent=cfg.spot_percent,
        on_demand_base=cfg.on_demand_base,
        container_insights=cfg.container_insights,
        # The target group must be attached to a listener before a service can register tasks in it.
        wait_for=[*web.listeners, *monitoring.deployment_alarms],
    ),
    opts,
)
Autoscaling(
    "scaling",
    AutoscalingArgs(
        cluster_name=api.cluster_name,
        service_name=api.service_name,
        min_tasks=cfg.min_tasks,
        max_tasks=cfg.max_tasks,
        cpu_target_percent=cfg.cpu_target_percent,
        requests_per_target=cfg.requests_per_target,
        alb_arn_suffix=web.alb_arn_suffix,
        target_group_arn_suffix=web.target_group_arn_suffix,
    ),
    pulumi.ResourceOptions(providers=[provider], depends_on=[api]),
)
CostBudget(
    "cost",
    CostBudgetArgs(
        stack=cfg.stack,
        monthly_limit_usd=cfg.monthly_budget_usd,
        topic_arn=monitoring.topic_arn,
        topic_policy=monitoring.topic_policy,
        alarm_email=cfg.alarm_email,
    ),
    opts,
)
deploy_role_arn: pulumi.Input[str | None] = None
if cfg.github_repository is not None:
    deploy_role_arn = GithubDeploy(
        "github",
        GithubDeployArgs(
            repository=cfg.github_repository,
            environment=cfg.stack,
            oidc_provider_arn=cfg.github_oidc_provider_arn,
            region=cfg.region,
            repository_arn=registry.repository_arn,
            cluster_name=cluster_name,
            service_name=service_name,
            task_family=api.task_family,
            pass_role_arns=[api.execution_role_arn, api.task_role_arn],
            state_bucket=cfg.state_bucket,
            state_kms_key_arn=cfg.state_kms_key_arn,
        ),
        opts,
    ).role_arn

pulumi.export("service_url", web.url)
pulumi.export("ecr_repository_url", registry.repository_url)
pulumi.export("cluster_name", api.cluster_name)
pulumi.export("service_name", api.service_name)
pulumi.export("log_group_name", api.log_group_name)
pulumi.export("dashboard_url", monitoring.dashboard_url)
pulumi.export("deploy_role_arn", deploy_role_arn)
pulumi.export(FIRST_CLIENT_API_KEY, secrets.first_client_api_key)
pulumi.export(CLIENT_API_KEYS_SECRET_ARN, secrets.client_api_keys_secret_arn)
