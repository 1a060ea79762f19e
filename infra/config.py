"""The stack configuration: every key, its default, and the checks, in one place.

`__main__.py` calls `load()` once; nothing deeper reads `pulumi.Config`. `parse()` is pure (a getter
in, a `StackConfig` out) so tests can feed it bad values without a Pulumi engine. Keys live in the
project namespace (`<project>:<key>`, the name in Pulumi.yaml) except the region, which is the AWS provider's own
`aws:region`. `KEYS` is the documentation and drives `parse()`: each key names the `StackConfig`
field it fills and how its text is read; `docs/infrastructure.md` lists every entry and a test fails
if the two drift apart. Checks that span several keys follow in `parse()`.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import pulumi
from pydantic import ValidationError

from infra import capacity
from infra.project import PROJECT
from infra.regions import US_REGIONS
from service.contract import CONTAINER_PORT, Env, StreamingBudget
from service.settings import Settings, env_name, hash_client_key, settings_from_environment

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

# Service variables the program sets from other keys or resources; `serviceSettings` may not set them.
OWNED_ENV: Final[Mapping[str, str]] = {
    Env.ENVIRONMENT: "the stack name",
    Env.PORT: f"the container port ({CONTAINER_PORT}, service/contract.py)",
    Env.WEB_CONCURRENCY: "webConcurrency",
    Env.MAX_STREAM_SECONDS: "maxStreamSeconds",
    Env.SSE_HEARTBEAT_SECONDS: "sseHeartbeatSeconds",
    Env.GRACEFUL_TIMEOUT: "maxStreamSeconds",
    Env.OPENAI_API_KEY: "openaiApiKey (kept in Secrets Manager)",
    Env.OPENAI_API_KEY_SECRET_ARN: "openaiApiKey or openaiApiKeySecretArn",
    Env.CLIENT_API_KEYS: "the client-keys secret (python -m scripts.client_keys)",
    Env.REDIS_URL: "the stack's cache",
    Env.REDIS_AUTH_TOKEN: "the stack's cache",
    Env.AWS_REGION: "aws:region",
}

# Stand-ins for what only exists once resources do, so `Settings` can check the rest at preview time.
_DEPLOY_TIME_ENV: Final[Mapping[str, str]] = {
    Env.OPENAI_API_KEY_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:openai-api-key",
    Env.REDIS_URL: "rediss://cache.invalid:6379/0",
    Env.REDIS_AUTH_TOKEN: "stand-in",
    Env.CLIENT_API_KEYS: json.dumps({hash_client_key("stand-in"): "first-client"}),
}


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the key and the fix."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        qualified = key if ":" in key else f"{PROJECT}:{key}"
        super().__init__(f"{qualified}: {problem}. Fix: {fix}")
        self.key = qualified


# --- readers: the text of one key to a value, or a ConfigError naming it ----------------------------

Reader = Callable[[str, str | None], Any]


def text(key: str, raw: str | None) -> str | None:
    return raw


def integer(low: int, high: int) -> Reader:
    def read(key: str, raw: str | None) -> int:
        try:
            number = int(str(raw))
        except ValueError:
            raise ConfigError(key, f"{raw!r} is not a whole number", f"set a number from {low} to {high}") from None
        if not low <= number <= high:
            raise ConfigError(key, f"{number} is out of range", f"set a number from {low} to {high}")
        return number

    return read


def optional(read: Reader) -> Reader:
    """None when the key is unset (the program derives the value), else what `read` makes of it."""

    def read_optional(key: str, raw: str | None) -> Any:
        return None if raw is None else read(key, raw)

    return read_optional


def boolean(key: str, raw: str | None) -> bool:
    value = (raw or "false").lower()
    if value not in {"true", "false"}:
        raise ConfigError(key, f"{value!r} is not a boolean", "set true or false")
    return value == "true"


def choice(*options: str) -> Reader:
    def read(key: str, raw: str | None) -> str:
        if raw not in options:
            raise ConfigError(key, f"{raw!r} is not supported", f"set one of {', '.join(options)}")
        return raw

    return read


def matching(pattern: str, problem: str, fix: str) -> Reader:
    def read(key: str, raw: str | None) -> str | None:
        if raw is not None and not re.fullmatch(pattern, raw):
            raise ConfigError(key, f"{raw!r} is {problem}", fix)
        return raw

    return read


def one_of(allowed: frozenset[int], problem: str) -> Reader:
    """A whole number from a fixed set; `problem` says what is wrong, with `{n}` for the value."""

    def read(key: str, raw: str | None) -> int:
        number: int = integer(min(allowed), max(allowed))(key, raw)
        if number not in allowed:
            raise ConfigError(key, problem.format(n=number), f"set one of {sorted(allowed)}")
        return number

    return read


def settings_map(key: str, raw: str | None) -> dict[str, str]:
    """`serviceSettings`: a map of the service's environment variable names to values (YAML types)."""
    if raw is None:
        return {}
    try:
        values = json.loads(raw)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        raise ConfigError(key, "is not a map", "write it as a YAML map of VARIABLE: value (see the stack files)")
    known = sorted({env_name(f) for f in Settings.model_fields} - set(OWNED_ENV))
    environment: dict[str, str] = {}
    for name, value in values.items():
        if name in OWNED_ENV:
            raise ConfigError(key, f"{name} is set by the program", f"remove it; it follows {OWNED_ENV[name]}")
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}?" if close else "see the README's configuration table"
            raise ConfigError(key, f"{name} is not a setting of the service", hint)
        if isinstance(value, bool):
            environment[name] = "true" if value else "false"
        elif isinstance(value, (list, dict)):
            environment[name] = json.dumps(value)
        elif value is None:
            raise ConfigError(key, f"{name} has no value", f"give {name} a value or remove it")
        else:
            environment[name] = str(value)
    return environment


@dataclass(frozen=True)
class Key:
    """One configuration key: its name, default (None means unset), meaning, and how it is read."""

    name: str
    default: str | None
    description: str
    field: str
    """The `StackConfig` field it fills."""
    read: Reader = text


_DIGEST_REF = matching(
    r"\S+@sha256:[0-9a-f]{64}", "not a digest reference", "set <repository>@sha256:<digest>, or unset it"
)
_PRIVATE_16 = r"10\.\d{1,3}\.0\.0/16|172\.(1[6-9]|2\d|3[01])\.0\.0/16|192\.168\.0\.0/16"

KEYS: Final[tuple[Key, ...]] = (
    Key(
        "aws:region", None, "AWS region (required). Only us-east-1, us-east-2, us-west-1, us-west-2.", "region",
        matching("|".join(map(re.escape, sorted(US_REGIONS))), "not a US region; this template only deploys to "
                 + ", ".join(sorted(US_REGIONS)), "pulumi config set aws:region us-east-1"),
    ),
    Key("image", None, "Image digest reference (`repo@sha256:...`), set by CI. Unset: build ./Dockerfile.", "image",
        _DIGEST_REF),
    Key("azCount", "2", "Availability zones for subnets, NAT and cache (2 or 3).", "az_count", integer(2, 3)),
    Key("natGateways", "single",
        "`single` (one NAT for the VPC), `perAz` (one per zone, no shared fate) or `none` (tasks run in the public "
        "subnets with public IPs; their security group still admits only the load balancer).",
        "nat_gateways", choice("single", "perAz", "none")),
    Key("vpcCidr", "10.0.0.0/16", "VPC CIDR block (a /16; subnets are /20 slices of it).", "vpc_cidr",
        matching(_PRIVATE_16, "not a private /16", "set e.g. 10.0.0.0/16")),
    Key("vpcEndpoints", "false", "Create VPC endpoints (ECR api/dkr, S3, CloudWatch Logs, Secrets Manager).",
        "vpc_endpoints", boolean),
    Key("cpu", "512", "Fargate task CPU units (256, 512, 1024, ...).", "cpu",
        one_of(frozenset(FARGATE_SIZES), "{n} is not a Fargate CPU size")),
    Key("memory", "1024", "Fargate task memory in MiB; must be valid for `cpu`.", "memory", integer(512, 122880)),
    Key("minTasks", "1", "Autoscaling minimum task count (also the initial desired count).", "min_tasks",
        integer(1, 100)),
    Key("maxTasks", "2", "Autoscaling maximum task count.", "max_tasks", integer(1, 100)),
    Key("cpuTargetPercent", "60", "Target-tracking goal for average service CPU (%).", "cpu_target_percent",
        integer(10, 90)),
    Key("requestsPerTarget", None, "Target-tracking goal for ALB requests per task per minute. Unset: what a task "
        "of this `cpu` serves at `cpuTargetPercent`, at the measured requests per second per vCPU (infra/capacity.py).",
        "requests_per_target", optional(integer(1, 1_000_000))),
    Key("spotPercent", "100", "Share of tasks above `onDemandBase` placed on Fargate Spot (0-100).", "spot_percent",
        integer(0, 100)),
    Key("onDemandBase", "0", "Tasks always run on on-demand Fargate before Spot is used.", "on_demand_base",
        integer(0, 100)),
    Key("webConcurrency", "2", "Gunicorn workers per task (WEB_CONCURRENCY).", "web_concurrency", integer(1, 64)),
    Key("maxStreamSeconds", "90", "Longest allowed stream; drives every timeout that must agree.",
        "max_stream_seconds", integer(1, 3600)),
    Key("sseHeartbeatSeconds", "15", "Seconds between SSE heartbeats on a quiet stream.", "heartbeat_seconds",
        integer(1, 3600)),
    Key("healthCheckGracePeriodSeconds", "60", "Seconds ECS ignores ALB health checks after a task starts.",
        "health_check_grace_period_seconds", integer(0, 600)),
    Key("logRetentionDays", "30", "Retention of the service's CloudWatch log group.", "log_retention_days",
        one_of(LOG_RETENTION_DAYS, "CloudWatch Logs does not accept {n}")),
    Key("accessLogRetentionDays", "90", "Days ALB access logs are kept in S3.", "access_log_retention_days",
        integer(1, 3650)),
    Key("containerInsights", "enhanced",
        "ECS Container Insights: `enhanced` (task and container metrics too) or `enabled` (cluster, service and "
        "task family only; cheaper).", "container_insights", choice("enhanced", "enabled")),
    Key("deletionProtection", "false",
        "Protect stateful resources: ALB deletion protection; Pulumi `protect` on the KMS key, secrets, image "
        "repository, cache (with a final snapshot) and log groups; cache changes wait for its maintenance window.",
        "deletion_protection", boolean),
    Key("openaiApiKey", None, "OpenAI API key, stored in Secrets Manager (`pulumi config set --secret`).",
        "has_openai_api_key", lambda key, raw: raw is not None),
    Key("openaiApiKeySecretArn", None, "ARN of an existing Secrets Manager secret holding the key instead.",
        "openai_api_key_secret_arn",
        matching(r"arn:aws:secretsmanager:\S+", "not a Secrets Manager ARN", "set arn:aws:secretsmanager:...")),
    Key("serviceSettings", None,
        "Map of the service's settings (README configuration table) to values, e.g. `CLIENT_REQUESTS_PER_MINUTE: 60`; "
        "checked by the service's own `Settings` at preview.", "service_settings", settings_map),
    Key("cacheEngine", "valkey", "`valkey` or `redis` (Redis OSS).", "cache_engine", choice("valkey", "redis")),
    Key("cacheEngineVersion", None, "Engine version; unset: 8.0 for valkey, 7.1 for redis.", "cache_engine_version"),
    Key("cacheNodeType", "cache.t4g.micro", "ElastiCache node type.", "cache_node_type"),
    Key("cacheNodes", "1", "Cache nodes (1 = no replica; 2+ = automatic failover and Multi-AZ).", "cache_nodes",
        integer(1, 6)),
    Key("cacheSnapshotRetentionDays", "0", "Days of automatic cache snapshots (0 = none).",
        "cache_snapshot_retention_days", integer(0, 35)),
    Key("domainName", None, "Public hostname; with `hostedZoneId`, an ACM certificate and DNS record.",
        "domain_name"),
    Key("hostedZoneId", None, "Route 53 zone for `domainName` (certificate validation and alias).",
        "hosted_zone_id"),
    Key("certificateArn", None, "Existing ACM certificate for HTTPS instead of issuing one.", "certificate_arn",
        matching(r"arn:aws:acm:\S+", "not an ACM certificate ARN", "set arn:aws:acm:<region>:...")),
    Key("allowPlainHttp", "false",
        "Serve the API over plain HTTP, client keys in clear text, when no certificate is configured. "
        "Without it (or a certificate) `pulumi preview` fails.", "allow_plain_http", boolean),
    Key("alarmEmail", None, "E-mail subscribed to the alarm topic (confirm the subscription mail).", "alarm_email",
        matching(r"[^@\s]+@[^@\s]+", "not an e-mail address", "set name@example.com")),
    Key("alarmTtftP99Seconds", "10",
        "Alarm when the service's p99 time to first token (streamed requests) stays above this many seconds for "
        "5 minutes; at most `maxStreamSeconds`.", "alarm_ttft_p99_seconds", integer(1, 3600)),
    Key("alarm5xxPercent", "5",
        "Alarm when more than this share (%) of the service's requests end in 5xx for 5 minutes (its own "
        "`Errors5xx`/`Requests`; the load balancer's 5xx alarm is separate).", "alarm_5xx_percent", integer(1, 100)),
    Key("alarmSpendUsdPerHour", "10",
        "Alarm when the service's OpenAI spend (`CostUsd`) in one hour exceeds this many USD.",
        "alarm_spend_usd_per_hour", integer(1, 1_000_000)),
    Key("monthlyBudgetUsd", "100", "AWS Budgets monthly cost limit for this stack (USD).", "monthly_budget_usd",
        integer(1, 1_000_000)),
    Key("githubRepository", None, "`owner/repo` allowed to deploy this stack from GitHub Actions.",
        "github_repository", matching(r"[\w.-]+/[\w.-]+", "not owner/repo", "set e.g. acme/api")),
    Key("githubOidcProviderArn", None,
        "The account's GitHub OIDC provider. Unset: found by its URL, or created (and kept) if the account has none.",
        "github_oidc_provider_arn",
        matching(r"arn:aws:iam::\d{12}:oidc-provider/\S+", "not an IAM OIDC provider ARN", "set arn:aws:iam::...")),
    Key("stateBucket", None,
        "S3 bucket of a self-managed Pulumi backend; the deploy role may read and write its objects.",
        "state_bucket",
        matching(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "not an S3 bucket name", "set the bucket of PULUMI_BACKEND_URL")),
    Key("stateKmsKeyArn", None,
        "KMS key ARN of the `awskms://` secrets provider; the deploy role may encrypt and decrypt with it.",
        "state_kms_key_arn",
        matching(r"arn:aws:kms:[a-z0-9-]+:\d{12}:key/\S+", "not a KMS key ARN (an alias will not do)",
                 "set arn:aws:kms:<region>:<account>:key/<id> (aws kms describe-key --key-id alias/...)")),
)  # fmt: skip


@dataclass(frozen=True)
class StackConfig:
    """Everything the program needs from the stack, already validated."""

    stack: str
    region: str
    image: str | None
    az_count: int
    nat_gateways: Literal["single", "perAz", "none"]
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
    max_stream_seconds: int
    heartbeat_seconds: int
    health_check_grace_period_seconds: int
    log_retention_days: int
    access_log_retention_days: int
    container_insights: Literal["enhanced", "enabled"]
    deletion_protection: bool
    has_openai_api_key: bool
    openai_api_key_secret_arn: str | None
    service_settings: dict[str, str]
    cache_engine: Literal["valkey", "redis"]
    cache_engine_version: str
    cache_node_type: str
    cache_nodes: int
    cache_snapshot_retention_days: int
    domain_name: str | None
    hosted_zone_id: str | None
    certificate_arn: str | None
    allow_plain_http: bool
    alarm_email: str | None
    alarm_ttft_p99_seconds: int
    alarm_5xx_percent: int
    alarm_spend_usd_per_hour: int
    monthly_budget_usd: int
    github_repository: str | None
    github_oidc_provider_arn: str | None
    state_bucket: str | None
    state_kms_key_arn: str | None
    # Set by `load()` from the secret config value; never part of `parse()` so it stays an Output.
    openai_api_key: pulumi.Output[str] | None = None

    @property
    def budget(self) -> StreamingBudget:
        return StreamingBudget(max_stream_seconds=self.max_stream_seconds, heartbeat_seconds=self.heartbeat_seconds)

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None or (self.domain_name is not None and self.hosted_zone_id is not None)

    @property
    def nat_gateway_count(self) -> int:
        return {"none": 0, "single": 1, "perAz": self.az_count}[self.nat_gateways]

    @property
    def service_environment(self) -> dict[str, str]:
        """The task's plain environment, less what only exists once resources do (`_DEPLOY_TIME_ENV`)."""
        budget = self.budget
        return {
            **self.service_settings,
            Env.ENVIRONMENT: self.stack,
            Env.PORT: str(CONTAINER_PORT),
            Env.WEB_CONCURRENCY: str(self.web_concurrency),
            Env.MAX_STREAM_SECONDS: str(budget.max_stream_seconds),
            Env.SSE_HEARTBEAT_SECONDS: str(budget.heartbeat_seconds),
            Env.GRACEFUL_TIMEOUT: str(budget.graceful_timeout_seconds),
            Env.AWS_REGION: self.region,
        }


Getter = Callable[[str], str | None]


def parse(get: Getter, stack: str) -> StackConfig:
    """Build a validated `StackConfig` from raw string values (`get(key)` returns None when unset)."""
    values: dict[str, Any] = {"stack": stack}
    for key in KEYS:
        raw = get(key.name)
        raw = raw.strip() if raw is not None and raw.strip() else key.default
        values[key.field] = key.read(key.name, raw)
    if values["requests_per_target"] is None:
        values["requests_per_target"] = capacity.requests_per_target(values["cpu"], values["cpu_target_percent"])
    if values["cache_engine_version"] is None:
        values["cache_engine_version"] = "8.0" if values["cache_engine"] == "valkey" else "7.1"
    config = StackConfig(**values)
    for check in _CHECKS:
        check(config)
    return config


# --- checks that span several keys ---------------------------------------------------------------------


def _region_is_set(c: StackConfig) -> None:
    if c.region is None:
        raise ConfigError("aws:region", "no region is set", "pulumi config set aws:region us-east-1")


def _memory_fits_cpu(c: StackConfig) -> None:
    allowed = sorted(FARGATE_SIZES[c.cpu])
    if c.memory not in allowed:
        raise ConfigError(
            "memory",
            f"{c.memory} MiB is not valid with cpu={c.cpu}",
            f"set memory between {allowed[0]} and {allowed[-1]} MiB in steps Fargate accepts: {allowed}",
        )


def _task_bounds(c: StackConfig) -> None:
    if c.min_tasks > c.max_tasks:
        problem = f"minTasks ({c.min_tasks}) is above maxTasks ({c.max_tasks})"
        raise ConfigError("minTasks", problem, "lower minTasks or raise maxTasks")


def _timeouts_agree(c: StackConfig) -> None:
    try:
        c.budget.validate()
    except ValueError as exc:
        # The contract's messages name maxStreamSeconds / sseHeartbeatSeconds and the fix already.
        key = "sseHeartbeatSeconds" if "sseHeartbeatSeconds (" in str(exc) else "maxStreamSeconds"
        raise ConfigError(key, str(exc), f"change {key} so the timeouts keep their order") from None


def _ttft_alarm_can_fire(c: StackConfig) -> None:
    if c.alarm_ttft_p99_seconds > c.max_stream_seconds:
        raise ConfigError(
            "alarmTtftP99Seconds",
            f"{c.alarm_ttft_p99_seconds} s is above maxStreamSeconds ({c.max_stream_seconds}), so the alarm "
            "could never fire",
            f"set alarmTtftP99Seconds to {c.max_stream_seconds} or less",
        )


def _one_openai_key(c: StackConfig) -> None:
    if c.has_openai_api_key and c.openai_api_key_secret_arn is not None:
        raise ConfigError(
            "openaiApiKey", "both openaiApiKey and openaiApiKeySecretArn are set", "keep only one of them"
        )
    if not c.has_openai_api_key and c.openai_api_key_secret_arn is None:
        raise ConfigError(
            "openaiApiKey",
            "no OpenAI API key is configured",
            "make bootstrap STACK=<stack> (docs/deploying.md), or `pulumi config set --secret openaiApiKey` (it "
            "asks for the key, which then stays off the command line), or set openaiApiKeySecretArn",
        )


def _https_or_explicit_opt_out(c: StackConfig) -> None:
    if c.hosted_zone_id is not None and c.domain_name is None:
        raise ConfigError("hostedZoneId", "a hosted zone is set without domainName", "set domainName too")
    if c.https and c.allow_plain_http:
        raise ConfigError("allowPlainHttp", "a certificate is configured, so HTTP only redirects", "remove it")
    if not c.https and not c.allow_plain_http:
        raise ConfigError(
            "domainName",
            "no certificate is configured, so clients would send their keys over plain HTTP",
            "set domainName and hostedZoneId (a certificate is issued), or certificateArn; for a stack that "
            "takes no real traffic, set allowPlainHttp: true instead",
        )


def _service_accepts_its_environment(c: StackConfig) -> None:
    try:
        settings_from_environment({**c.service_environment, **_DEPLOY_TIME_ENV})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            name = env_name(field) if field in Settings.model_fields else field
            problems.append(f"{name}: {error['msg']}" if name else str(error["msg"]))
        raise ConfigError(
            "serviceSettings",
            "the service would refuse to start: " + "; ".join(problems),
            "correct these values (README configuration table)",
        ) from None


_CHECKS: Final = (
    _region_is_set,
    _memory_fits_cpu,
    _task_bounds,
    _timeouts_agree,
    _ttft_alarm_can_fire,
    _one_openai_key,
    _https_or_explicit_opt_out,
    _service_accepts_its_environment,
)


def select_zones(config: StackConfig, available: Sequence[str]) -> list[str]:
    """The first `azCount` of the region's zones that need no opt-in, or a ConfigError naming azCount."""
    if len(available) < config.az_count:
        raise ConfigError(
            "azCount",
            f"{config.region} offers this account {len(available)} standard availability zones "
            f"({', '.join(available) or 'none'}), fewer than azCount ({config.az_count})",
            f"set azCount to {len(available)} or less, or choose another region",
        )
    return list(available[: config.az_count])


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
