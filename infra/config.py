"""The stack configuration: every key, its default, and the checks, in one place.

`__main__.py` calls `load()` once; nothing deeper reads `pulumi.Config`. `parse()` is pure (a getter
in, a `StackConfig` out) so tests can feed it bad values without a Pulumi engine. Keys live in the
project namespace (`openai-aws-template:<key>`) except the region, which is the AWS provider's own
`aws:region`. `KEYS` is the documentation: `docs/infrastructure.md` lists every entry and a test
fails if the two drift apart.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

import pulumi

from service.contract import StreamingBudget

PROJECT: Final = "openai-aws-template"

US_REGIONS: Final = frozenset({"us-east-1", "us-east-2", "us-west-1", "us-west-2"})

# Valid Fargate task sizes: CPU units -> allowed memory (MiB).
FARGATE_SIZES: Final[Mapping[int, frozenset[int]]] = {
    256: frozenset({512, 1024, 2048}),
    512: frozenset(range(1024, 4097, 1024)),
    1024: frozenset(range(2048, 8193, 1024)),
    2048: frozenset(range(4096, 16385, 1024)),
    4096: frozenset(range(8192, 30721, 1024)),
    8192: frozenset(range(16384, 61441, 4096)),
    16384: frozenset(range(32768, 122881, 8192)),
}

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS: Final = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)


@dataclass(frozen=True)
class Key:
    """One configuration key: its name, its default (None means unset) and what it does."""

    name: str
    default: str | None
    description: str


KEYS: Final[tuple[Key, ...]] = (
    Key("aws:region", None, "AWS region (required). Only us-east-1, us-east-2, us-west-1, us-west-2."),
    Key("image", None, "Image digest reference (`repo@sha256:...`), set by CI. Unset: build ./Dockerfile."),
    Key("azCount", "2", "Availability zones for subnets, NAT and cache (2 or 3)."),
    Key("natGateways", "single", "`single` (one NAT for the VPC) or `perAz` (one per zone, no shared fate)."),
    Key("vpcCidr", "10.0.0.0/16", "VPC CIDR block (a /16; subnets are /20 slices of it)."),
    Key("vpcEndpoints", "false", "Create VPC endpoints (ECR api/dkr, S3, CloudWatch Logs, Secrets Manager)."),
    Key("cpu", "512", "Fargate task CPU units (256, 512, 1024, ...)."),
    Key("memory", "1024", "Fargate task memory in MiB; must be valid for `cpu`."),
    Key("minTasks", "1", "Autoscaling minimum task count (also the initial desired count)."),
    Key("maxTasks", "2", "Autoscaling maximum task count."),
    Key("cpuTargetPercent", "60", "Target-tracking goal for average service CPU (%)."),
    Key("requestsPerTarget", "300", "Target-tracking goal for ALB requests per task per minute."),
    Key("spotPercent", "100", "Share of tasks above `onDemandBase` placed on Fargate Spot (0-100)."),
    Key("onDemandBase", "0", "Tasks always run on on-demand Fargate before Spot is used."),
    Key("webConcurrency", "2", "Gunicorn workers per task (WEB_CONCURRENCY)."),
    Key("logLevel", "info", "Service log level (LOG_LEVEL): debug, info, warning or error."),
    Key("maxStreamSeconds", "90", "Longest allowed stream; drives every timeout that must agree."),
    Key("sseHeartbeatSeconds", "15", "Seconds between SSE heartbeats on a quiet stream."),
    Key("healthCheckGracePeriodSeconds", "60", "Seconds ECS ignores ALB health checks after a task starts."),
    Key("logRetentionDays", "30", "Retention of the service's CloudWatch log group."),
    Key("accessLogRetentionDays", "90", "Days ALB access logs are kept in S3."),
    Key("deletionProtection", "false", "ALB deletion protection."),
    Key("openaiApiKey", None, "OpenAI API key, stored in Secrets Manager (`pulumi config set --secret`)."),
    Key("openaiApiKeySecretArn", None, "ARN of an existing Secrets Manager secret holding the key instead."),
    Key("openaiOrgId", None, "OpenAI organization id (OPENAI_ORG_ID)."),
    Key("openaiProjectId", None, "OpenAI project id (OPENAI_PROJECT_ID)."),
    Key("cacheEngine", "valkey", "`valkey` or `redis` (Redis OSS)."),
    Key("cacheEngineVersion", None, "Engine version; unset: 8.0 for valkey, 7.1 for redis."),
    Key("cacheNodeType", "cache.t4g.micro", "ElastiCache node type."),
    Key("cacheNodes", "1", "Cache nodes (1 = no replica; 2+ = automatic failover and Multi-AZ)."),
    Key("cacheSnapshotRetentionDays", "0", "Days of automatic cache snapshots (0 = none)."),
    Key("domainName", None, "Public hostname; with `hostedZoneId`, an ACM certificate and DNS record."),
    Key("hostedZoneId", None, "Route 53 zone for `domainName` (certificate validation and alias)."),
    Key("certificateArn", None, "Existing ACM certificate for HTTPS instead of issuing one."),
    Key("alarmEmail", None, "E-mail subscribed to the alarm topic (confirm the subscription mail)."),
    Key("monthlyBudgetUsd", "100", "AWS Budgets monthly cost limit for this stack (USD)."),
    Key("githubRepository", None, "`owner/repo` allowed to deploy this stack from GitHub Actions."),
    Key("githubOidcProviderArn", None, "Reuse the account's GitHub OIDC provider; unset: create it."),
)

_DEFAULTS: Final = {k.name: k.default for k in KEYS}


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the key and the fix."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        qualified = key if ":" in key else f"{PROJECT}:{key}"
        super().__init__(f"{qualified}: {problem}. Fix: {fix}")
        self.key = qualified


@dataclass(frozen=True)
class StackConfig:
    """Everything the program needs from the stack, already validated."""

    stack: str
    region: str
    image: str | None
    az_count: int
    nat_gateways: Literal["single", "perAz"]
    vpc_cidr: str
    vpc_endpoints: bool
    cpu: int
    memory: int
    min_tasks: int
    max_tasks: int
    cpu_target_percent: int
    requests_per_target: int
    spot_percent: int
    on_demand_base: int
    web_concurrency: int
    log_level: str
    budget: StreamingBudget
    health_check_grace_period_seconds: int
    log_retention_days: int
    access_log_retention_days: int
    deletion_protection: bool
    openai_api_key_secret_arn: str | None
    openai_org_id: str | None
    openai_project_id: str | None
    cache_engine: Literal["valkey", "redis"]
    cache_engine_version: str
    cache_node_type: str
    cache_nodes: int
    cache_snapshot_retention_days: int
    domain_name: str | None
    hosted_zone_id: str | None
    certificate_arn: str | None
    alarm_email: str | None
    monthly_budget_usd: int
    github_repository: str | None
    github_oidc_provider_arn: str | None
    # Set by `load()` from the secret config value; never part of `parse()` so it stays an Output.
    openai_api_key: pulumi.Output[str] | None = None

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None or (self.domain_name is not None and self.hosted_zone_id is not None)

    @property
    def nat_gateway_count(self) -> int:
        return self.az_count if self.nat_gateways == "perAz" else 1


Getter = Callable[[str], str | None]


def _int(get: Getter, key: str, low: int, high: int) -> int:
    raw = get(key)
    value = raw if raw is not None else _DEFAULTS[key]
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(key, f"{value!r} is not a whole number", f"set a number from {low} to {high}") from None
    if not low <= number <= high:
        raise ConfigError(key, f"{number} is out of range", f"set a number from {low} to {high}")
    return number


def _bool(get: Getter, key: str) -> bool:
    value = (get(key) or _DEFAULTS[key] or "false").lower()
    if value not in {"true", "false"}:
        raise ConfigError(key, f"{value!r} is not a boolean", "set true or false")
    return value == "true"


def _str(get: Getter, key: str) -> str | None:
    value = get(key)
    if value is None or value.strip() == "":
        return _DEFAULTS[key]
    return value.strip()


def _choice(get: Getter, key: str, choices: tuple[str, ...]) -> str:
    value = _str(get, key)
    if value not in choices:
        raise ConfigError(key, f"{value!r} is not supported", f"set one of {', '.join(choices)}")
    return value


def parse(get: Getter, stack: str) -> StackConfig:
    """Build a validated `StackConfig` from raw string values (`get(key)` returns None when unset)."""
    region = _str(get, "aws:region")
    if region is None:
        raise ConfigError("aws:region", "no region is set", "pulumi config set aws:region us-east-1")
    if region not in US_REGIONS:
        raise ConfigError(
            "aws:region",
            f"{region} is not a US region; this template only deploys to {', '.join(sorted(US_REGIONS))}",
            "pulumi config set aws:region us-east-1",
        )

    image = _str(get, "image")
    if image is not None and "@sha256:" not in image:
        raise ConfigError(
            "image", f"{image!r} is not a digest reference", "set <repository>@sha256:<digest>, or unset it"
        )

    cpu = _int(get, "cpu", 256, 16384)
    memory = _int(get, "memory", 512, 122880)
    if cpu not in FARGATE_SIZES:
        raise ConfigError("cpu", f"{cpu} is not a Fargate CPU size", f"set one of {sorted(FARGATE_SIZES)}")
    if memory not in FARGATE_SIZES[cpu]:
        allowed = sorted(FARGATE_SIZES[cpu])
        raise ConfigError(
            "memory",
            f"{memory} MiB is not valid with cpu={cpu}",
            f"set memory between {allowed[0]} and {allowed[-1]} MiB in steps Fargate accepts: {allowed}",
        )

    min_tasks = _int(get, "minTasks", 1, 100)
    max_tasks = _int(get, "maxTasks", 1, 100)
    if min_tasks > max_tasks:
        raise ConfigError(
            "minTasks", f"minTasks ({min_tasks}) is above maxTasks ({max_tasks})", "lower minTasks or raise maxTasks"
        )

    budget = StreamingBudget(
        max_stream_seconds=_int(get, "maxStreamSeconds", 1, 3600),
        heartbeat_seconds=_int(get, "sseHeartbeatSeconds", 1, 3600),
    )
    try:
        budget.validate()
    except ValueError as exc:
        # The contract's messages name maxStreamSeconds / sseHeartbeatSeconds and the fix already.
        key = "sseHeartbeatSeconds" if "sseHeartbeatSeconds (" in str(exc) else "maxStreamSeconds"
        raise ConfigError(key, str(exc), f"change {key} so the timeouts keep their order") from None

    log_retention_days = _int(get, "logRetentionDays", 1, 3653)
    if log_retention_days not in LOG_RETENTION_DAYS:
        raise ConfigError(
            "logRetentionDays",
            f"CloudWatch Logs does not accept {log_retention_days}",
            f"set one of {sorted(LOG_RETENTION_DAYS)}",
        )

    openai_key_arn = _str(get, "openaiApiKeySecretArn")
    if openai_key_arn is not None and not openai_key_arn.startswith("arn:aws:secretsmanager:"):
        raise ConfigError("openaiApiKeySecretArn", "not a Secrets Manager ARN", "set arn:aws:secretsmanager:...")
    has_key = get("openaiApiKey") not in (None, "")
    if has_key and openai_key_arn is not None:
        raise ConfigError(
            "openaiApiKey", "both openaiApiKey and openaiApiKeySecretArn are set", "keep only one of them"
        )
    if not has_key and openai_key_arn is None:
        raise ConfigError(
            "openaiApiKey",
            "no OpenAI API key is configured",
            "pulumi config set --secret openaiApiKey sk-..., or set openaiApiKeySecretArn",
        )

    engine = _choice(get, "cacheEngine", ("valkey", "redis"))
    engine_version = _str(get, "cacheEngineVersion") or ("8.0" if engine == "valkey" else "7.1")

    domain_name = _str(get, "domainName")
    hosted_zone_id = _str(get, "hostedZoneId")
    certificate_arn = _str(get, "certificateArn")
    if hosted_zone_id is not None and domain_name is None:
        raise ConfigError("hostedZoneId", "a hosted zone is set without domainName", "set domainName too")
    if certificate_arn is not None and not certificate_arn.startswith("arn:aws:acm:"):
        raise ConfigError("certificateArn", "not an ACM certificate ARN", "set arn:aws:acm:<region>:...")

    alarm_email = _str(get, "alarmEmail")
    if alarm_email is not None and "@" not in alarm_email:
        raise ConfigError("alarmEmail", f"{alarm_email!r} is not an e-mail address", "set name@example.com")

    github_repository = _str(get, "githubRepository")
    if github_repository is not None and not re.fullmatch(r"[\w.-]+/[\w.-]+", github_repository):
        raise ConfigError("githubRepository", f"{github_repository!r} is not owner/repo", "set e.g. acme/api")
    github_oidc = _str(get, "githubOidcProviderArn")
    if github_oidc is not None and ":oidc-provider/" not in github_oidc:
        raise ConfigError("githubOidcProviderArn", "not an IAM OIDC provider ARN", "set arn:aws:iam::...")

    vpc_cidr = _str(get, "vpcCidr") or "10.0.0.0/16"
    if not re.fullmatch(r"10\.\d{1,3}\.0\.0/16|172\.(1[6-9]|2\d|3[01])\.0\.0/16|192\.168\.0\.0/16", vpc_cidr):
        raise ConfigError("vpcCidr", f"{vpc_cidr} is not a private /16", "set e.g. 10.0.0.0/16")

    return StackConfig(
        stack=stack,
        region=region,
        image=image,
        az_count=_int(get, "azCount", 2, 3),
        nat_gateways="perAz" if _choice(get, "natGateways", ("single", "perAz")) == "perAz" else "single",
        vpc_cidr=vpc_cidr,
        vpc_endpoints=_bool(get, "vpcEndpoints"),
        cpu=cpu,
        memory=memory,
        min_tasks=min_tasks,
        max_tasks=max_tasks,
        cpu_target_percent=_int(get, "cpuTargetPercent", 10, 90),
        requests_per_target=_int(get, "requestsPerTarget", 1, 100000),
        spot_percent=_int(get, "spotPercent", 0, 100),
        on_demand_base=_int(get, "onDemandBase", 0, 100),
        web_concurrency=_int(get, "webConcurrency", 1, 64),
        log_level=_choice(get, "logLevel", ("debug", "info", "warning", "error")),
        budget=budget,
        health_check_grace_period_seconds=_int(get, "healthCheckGracePeriodSeconds", 0, 600),
        log_retention_days=log_retention_days,
        access_log_retention_days=_int(get, "accessLogRetentionDays", 1, 3650),
        deletion_protection=_bool(get, "deletionProtection"),
        openai_api_key_secret_arn=openai_key_arn,
        openai_org_id=_str(get, "openaiOrgId"),
        openai_project_id=_str(get, "openaiProjectId"),
        cache_engine="redis" if engine == "redis" else "valkey",
        cache_engine_version=engine_version,
        cache_node_type=_str(get, "cacheNodeType") or "cache.t4g.micro",
        cache_nodes=_int(get, "cacheNodes", 1, 6),
        cache_snapshot_retention_days=_int(get, "cacheSnapshotRetentionDays", 0, 35),
        domain_name=domain_name,
        hosted_zone_id=hosted_zone_id,
        certificate_arn=certificate_arn,
        alarm_email=alarm_email,
        monthly_budget_usd=_int(get, "monthlyBudgetUsd", 1, 1_000_000),
        github_repository=github_repository,
        github_oidc_provider_arn=github_oidc,
    )


def load() -> StackConfig:
    """Read and validate the current stack's configuration (call once, from `__main__.py`)."""
    project = pulumi.Config()
    aws = pulumi.Config("aws")

    def get(key: str) -> str | None:
        if key == "aws:region":
            return aws.get("region")
        if key == "openaiApiKey":
            # Only presence matters here; the value stays a secret Output (below).
            return "set" if project.get_secret(key) is not None else None
        return project.get(key)

    config = parse(get, pulumi.get_stack())
    key = project.get_secret("openaiApiKey")
    return dataclasses.replace(config, openai_api_key=key)
