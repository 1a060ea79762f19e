"""The policy pack's rules as plain functions over a resource's type and properties.

Each rule is a `ResourceRule` (one resource at a time) or a `StackRule` (all resources, for
properties that span several: a bucket and its public-access block, the ALB and the task's
timeouts). `to_policy()` wraps a rule in the CrossGuard class `pulumi preview --policy-pack` runs;
tests feed the same pack to pulumi_policy's analyzer servicer. Properties are Pulumi's (camelCase)
names, as the analyzer hands them over: JSON arrays and objects arrive as read-only `Sequence` and
`Mapping` proxies (not `list`/`dict`), numbers as floats, secrets unwrapped to their plaintext, and
during a preview an unknown value raises `UnknownValueError` when read, which the analyzer reports as
an advisory "can't run policy during preview". Where a rule ports a checkov check, `checkov` names it.
Rules are advisory where they cost money or cannot apply to every stack (WAF, one-year log retention,
rotating a third-party API key, staging's single node).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from infra.outputs import SECRET_OUTPUTS
from infra.regions import US_REGIONS
from service.contract import ECS_MAX_STOP_TIMEOUT_SECONDS, Env

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

REQUIRED_TAGS = ("project", "environment", "managed-by")

PROVIDER = "pulumi:providers:aws"
STACK = "pulumi:pulumi:Stack"
ALB = frozenset({"aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"})
LISTENER = frozenset({"aws:lb/listener:Listener", "aws:alb/listener:Listener"})
TARGET_GROUP = frozenset({"aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"})
CLUSTER = "aws:ecs/cluster:Cluster"
ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 (a resource type, not a credential)
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"  # noqa: S105
KMS_KEY = "aws:kms/key:Key"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SNS_TOPIC = "aws:sns/topic:Topic"
SUBNET = "aws:ec2/subnet:Subnet"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
GROUPS = frozenset({SECURITY_GROUP, DEFAULT_SECURITY_GROUP})
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
BUCKET = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
BUCKET_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_SSE = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
BUCKET_LIFECYCLE = frozenset(
    {
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
    }
)
BUCKET_VERSIONING = frozenset(
    {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
)
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"

WORLD_IPV6 = "::/0"
WORLD = frozenset({"0.0.0.0/0", WORLD_IPV6})
# `ipAddressType` values under which a load balancer has IPv6 addresses; the default is "ipv4".
DUALSTACK = frozenset({"dualstack", "dualstack-without-public-ipv4"})
TLS12_POLICIES = re.compile(r"ELBSecurityPolicy-(TLS13-1-[23]-|TLS-1-2-|FS-1-2-)")
# Actions that accept no narrower resource than "*" in IAM. ecs:TagResource is not one: it takes the ARN
# of the resource it tags.
UNSCOPABLE_ACTIONS = frozenset(
    {"ecr:GetAuthorizationToken", "ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"}
)
READ_ONLY_PREFIXES = ("Describe", "Get", "List", "BatchGet")
# IAM's wildcards: `*` matches any run of characters, `?` any one, in actions and resource ARNs alike.
IAM_WILDCARD = re.compile(r"[*?]")
# Words (of a snake_case, SCREAMING_CASE or camelCase name) that name a credential. "token" is singular
# on purpose: in this service "tokens" count model usage (CLIENT_TOKENS_PER_MINUTE) and hold no secret.
SECRET_WORDS = frozenset(
    {"password", "passwords", "passwd", "secret", "secrets", "token", "credential", "credentials", "apikey", "apikeys"}
)
SECRET_WORD_PAIRS = frozenset({("api", "key"), ("api", "keys"), ("private", "key"), ("private", "keys")})
# A name ending in one of these refers to a secret (its ARN, its name) without holding it.
REFERENCE_WORDS = frozenset({"arn", "name", "id", "url"})
SECRET_VALUE = re.compile(
    r"(sk-[A-Za-z0-9_-]{16,}|-----BEGIN [A-Z ]*PRIVATE KEY|AKIA[0-9A-Z]{16}|://[^/\s:@]+:[^/\s@]+@)"
)
SECRET_ENV_NAMES = frozenset({Env.OPENAI_API_KEY, Env.CLIENT_API_KEYS, Env.REDIS_AUTH_TOKEN})
# Stack outputs that hold a credential on purpose, exported as Pulumi secrets (infra/outputs.py says why).
SECRET_OUTPUTS_ALLOWED = SECRET_OUTPUTS

Props = Mapping[str, Any]


@dataclass(frozen=True)
class StackResource:
    """The parts of a stack resource stack rules look at (pulumi_policy.PolicyResource has them)."""

    resource_type: str
    props: Props
    urn: str
    name: str


@dataclass(frozen=True)
class ResourceRule:
    name: str
    description: str
    types: frozenset[str] | None
    """Resource types the rule looks at; None: every resource."""
    check: Callable[[str, Props], Iterable[str]]
    checkov: str | None = None
    level: EnforcementLevel = MANDATORY

    def to_policy(self) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if self.types is None or args.resource_type in self.types:
                for message in self.check(args.resource_type, args.props):
                    report_violation(message, None)

        return ResourceValidationPolicy(
            name=self.name, description=_describe(self), validate=validate, enforcement_level=self.level
        )


@dataclass(frozen=True)
class StackRule:
    name: str
    description: str
    check: Callable[[Sequence[StackResource]], Iterable[tuple[str, str | None]]]
    """Yields (message, urn of the offending resource or None)."""
    checkov: str | None = None
    level: EnforcementLevel = MANDATORY

    def to_policy(self) -> StackValidationPolicy:
        def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
            resources = [StackResource(r.resource_type, r.props, r.urn, r.name) for r in args.resources]
            for message, urn in self.check(resources):
                report_violation(message, urn)

        return StackValidationPolicy(
            name=self.name, description=_describe(self), validate=validate, enforcement_level=self.level
        )


def _describe(rule: ResourceRule | StackRule) -> str:
    return f"{rule.description} ({rule.checkov})" if rule.checkov else rule.description


# --- helpers ---------------------------------------------------------------------------------------


def _is_list(value: Any) -> bool:
    """A JSON array as rules receive it: a list, or the analyzer's read-only `Sequence` proxy."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _get(props: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            if not _is_list(props) or len(props) <= step:
                return None
        elif not isinstance(props, Mapping):
            return None
        props = props[step] if isinstance(step, int) else props.get(step)
    return props


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _list(value: Any) -> list[Any]:
    """An array property as a list; a single value (IAM allows `"Action": "s3:GetObject"`) as a list of one."""
    if value is None:
        return []
    if _is_list(value):
        return list(value)
    return [value]


def _containers(props: Props) -> list[Mapping[str, Any]]:
    return [c for c in _list(_json(props.get("containerDefinitions"))) if isinstance(c, Mapping)]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _words(name: str) -> list[str]:
    """`openaiApiKey`, `OPENAI_API_KEY` and `openai.api-key` all as ["openai", "api", "key"]."""
    return re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower())


def _names_secret(name: str) -> bool:
    words = _words(name)
    return bool(SECRET_WORDS.intersection(words) or SECRET_WORD_PAIRS.intersection(itertools.pairwise(words)))


def _is_set(props: Any, *path: str | int) -> bool:
    """Whether a property has a value. One a preview does not know yet counts: it will have one."""
    try:
        return bool(_get(props, *path))
    except UnknownValueError:
        return True


def _one(condition: bool, message: str) -> Iterator[str]:
    if condition:
        yield message


def _statements(policy: Any) -> list[Mapping[str, Any]]:
    document = _json(policy)
    if not isinstance(document, Mapping):
        return []
    return [s for s in _list(document.get("Statement")) if isinstance(s, Mapping)]


def _policy_documents(typ: str, props: Props) -> list[Any]:
    """The permission policies a role, role policy or managed policy carries (not a role's trust policy)."""
    if typ == IAM_ROLE:
        return [p.get("policy") for p in _list(props.get("inlinePolicies")) if isinstance(p, Mapping)]
    return [props.get("policy")]


def _allow_statements(typ: str, props: Props) -> Iterator[Mapping[str, Any]]:
    for document in _policy_documents(typ, props):
        yield from (s for s in _statements(document) if s.get("Effect") == "Allow")


def _is_write(action: Any) -> bool:
    """Whether an action (pattern) may match more than reads: `s3:Get*` only reads, `*` does not.

    IAM matches action names case-insensitively, so `S3:getobject` is `s3:GetObject`.
    """
    action = str(action).lower()
    if action in {a.lower() for a in UNSCOPABLE_ACTIONS}:
        return False
    return not action.partition(":")[2].startswith(tuple(p.lower() for p in READ_ONLY_PREFIXES))


def _is_broad(resource: Any) -> bool:
    """`*`, or an ARN whose resource part is nothing but wildcards: `arn:aws:s3:::*`, `arn:aws:ecs:r:1:*`.

    A pattern under a resource type or name (`...:task-definition/api:*`) is scoped, not broad.
    """
    text = str(resource)
    parts = text.split(":", 5)
    rest = parts[5] if len(parts) == 6 and parts[0] == "arn" else text
    return bool(IAM_WILDCARD.search(rest)) and not re.sub(r"[*?/:]", "", rest)


# --- resource checks --------------------------------------------------------------------------------


def _us_region(typ: str, props: Props) -> Iterator[str]:
    region = props.get("region")
    if typ == PROVIDER and region not in US_REGIONS:
        yield f"the AWS provider's region is {region!r}; only {sorted(US_REGIONS)} are allowed"
    elif typ != PROVIDER and region is not None and region not in US_REGIONS:
        yield f"the resource overrides its region to {region!r}; only US regions are allowed"


def _default_tags(typ: str, props: Props) -> Iterator[str]:
    tags = _get(_json(props.get("defaultTags")), "tags") or {}
    missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
    yield from _one(bool(missing), f"the AWS provider's default tags lack {missing}")


def _alb_https(typ: str, props: Props) -> Iterator[str]:
    if props.get("protocol") != "HTTP":
        return
    actions = _list(props.get("defaultActions"))
    redirects = all(
        a.get("type") == "redirect" and _get(a, "redirect", "protocol") == "HTTPS"
        for a in actions
        if isinstance(a, Mapping)
    )
    yield from _one(not actions or not redirects, "an HTTP listener serves traffic instead of redirecting to HTTPS")


def _alb_tls(typ: str, props: Props) -> Iterator[str]:
    if props.get("protocol") == "HTTPS":
        policy = props.get("sslPolicy") or ""
        yield from _one(not TLS12_POLICIES.match(policy), f"HTTPS listener policy {policy!r} allows TLS < 1.2")


def _alb_drop_headers(typ: str, props: Props) -> Iterator[str]:
    if props.get("loadBalancerType", "application") == "application":
        yield from _one(props.get("dropInvalidHeaderFields") is not True, "ALB does not drop invalid header fields")


def _alb_access_logs(typ: str, props: Props) -> Iterator[str]:
    enabled = _get(props, "accessLogs", "enabled") is True and _is_set(props, "accessLogs", "bucket")
    yield from _one(not enabled, "ALB access logging is off")


def _alb_deletion_protection(typ: str, props: Props) -> Iterator[str]:
    yield from _one(props.get("enableDeletionProtection") is not True, "ALB deletion protection is off")


def _container_insights(typ: str, props: Props) -> Iterator[str]:
    enabled = any(
        s.get("name") == "containerInsights" and s.get("value") in ("enabled", "enhanced")
        for s in _list(props.get("settings"))
        if isinstance(s, Mapping)
    )
    yield from _one(not enabled, "ECS cluster without Container Insights")


def _ecs_read_only_root(typ: str, props: Props) -> Iterator[str]:
    for c in _containers(props):
        yield from _one(c.get("readonlyRootFilesystem") is not True, f"container {c.get('name')} has a writable root")


def _ecs_not_privileged(typ: str, props: Props) -> Iterator[str]:
    for c in _containers(props):
        yield from _one(c.get("privileged") is True, f"container {c.get('name')} runs privileged")


def _ecs_non_root(typ: str, props: Props) -> Iterator[str]:
    for c in _containers(props):
        user = str(c.get("user") or "")
        uid = user.split(":", maxsplit=1)[0]
        root = uid in ("", "0", "root")
        yield from _one(root, f"container {c.get('name')} does not set a non-root user")


def _ecs_separate_roles(typ: str, props: Props) -> Iterator[str]:
    execution, task = props.get("executionRoleArn"), props.get("taskRoleArn")
    yield from _one(execution is not None and execution == task, "task and execution roles are the same role")


def _ecs_secrets_not_in_environment(typ: str, props: Props) -> Iterator[str]:
    for c in _containers(props):
        for variable in _list(c.get("environment")):
            name = str(_get(variable, "name") or "")
            value = str(_get(variable, "value") or "")
            if name in SECRET_ENV_NAMES or (
                _names_secret(name) and not name.endswith("_ARN") and not value.startswith("arn:")
            ):
                yield f"container {c.get('name')} sets {name} as plain environment; inject it from a secret"
            elif SECRET_VALUE.search(value):
                yield f"container {c.get('name')} has a credential in the value of {name}"


def _ecs_circuit_breaker(typ: str, props: Props) -> Iterator[str]:
    breaker = props.get("deploymentCircuitBreaker") or {}
    yield from _one(
        not (breaker.get("enable") and breaker.get("rollback")), "ECS deployments do not roll back on failure"
    )


def _ecs_logging(typ: str, props: Props) -> Iterator[str]:
    for c in _containers(props):
        yield from _one(not _get(c, "logConfiguration", "logDriver"), f"container {c.get('name')} has no log driver")


def _cache_at_rest(typ: str, props: Props) -> Iterator[str]:
    yield from _one(props.get("atRestEncryptionEnabled") not in (True, "true"), "cache data at rest is unencrypted")


def _cache_in_transit(typ: str, props: Props) -> Iterator[str]:
    yield from _one(props.get("transitEncryptionEnabled") is not True, "cache accepts unencrypted connections")


def _cache_auth(typ: str, props: Props) -> Iterator[str]:
    has_auth = any(_is_set(props, key) for key in ("authToken", "authTokenWoVersion", "userGroupIds"))
    yield from _one(
        not (props.get("transitEncryptionEnabled") is True and has_auth), "cache has no AUTH token over TLS"
    )


def _cache_cmk(typ: str, props: Props) -> Iterator[str]:
    yield from _one(not _is_set(props, "kmsKeyId"), "cache is not encrypted with a customer-managed KMS key")


def _cache_backups(typ: str, props: Props) -> Iterator[str]:
    yield from _one(not _int(props.get("snapshotRetentionLimit")), "cache has no automatic snapshots")


def _cache_multi_az(typ: str, props: Props) -> Iterator[str]:
    yield from _one(
        not (props.get("automaticFailoverEnabled") is True and props.get("multiAzEnabled") is True),
        "cache has no replica in another zone with automatic failover",
    )


def _secret_cmk(typ: str, props: Props) -> Iterator[str]:
    yield from _one(not _is_set(props, "kmsKeyId"), "secret is encrypted with the AWS-managed key, not ours")


def _kms_rotation(typ: str, props: Props) -> Iterator[str]:
    symmetric = props.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT") in (None, "SYMMETRIC_DEFAULT")
    yield from _one(symmetric and props.get("enableKeyRotation") is not True, "KMS key rotation is off")


def _ecr_immutable(typ: str, props: Props) -> Iterator[str]:
    yield from _one(
        props.get("imageTagMutability") not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"), "ECR tags are mutable"
    )


def _ecr_scan(typ: str, props: Props) -> Iterator[str]:
    yield from _one(
        _get(props, "imageScanningConfiguration", "scanOnPush") is not True, "ECR does not scan images on push"
    )


def _ecr_cmk(typ: str, props: Props) -> Iterator[str]:
    configurations = _list(props.get("encryptionConfigurations"))
    kms = any(_get(e, "encryptionType") == "KMS" and _is_set(e, "kmsKey") for e in configurations)
    yield from _one(not kms, "ECR repository is not encrypted with our KMS key")


def _log_retention(typ: str, props: Props) -> Iterator[str]:
    yield from _one(not _int(props.get("retentionInDays")), "log group keeps logs forever (no retention)")


def _log_retention_year(typ: str, props: Props) -> Iterator[str]:
    days = _int(props.get("retentionInDays"))
    yield from _one(days is not None and 0 < days < 365, f"log group keeps logs {days} days, under a year")


def _log_cmk(typ: str, props: Props) -> Iterator[str]:
    yield from _one(not _is_set(props, "kmsKeyId"), "log group is not encrypted with our KMS key")


def _sns_encrypted(typ: str, props: Props) -> Iterator[str]:
    yield from _one(not _is_set(props, "kmsMasterKeyId"), "SNS topic is not encrypted")


def _subnet_no_public_ip(typ: str, props: Props) -> Iterator[str]:
    yield from _one(props.get("mapPublicIpOnLaunch") is True, "subnet gives instances public IPs by default")


class WorldIngress(NamedTuple):
    """One ingress rule that admits the whole internet."""

    low: int | None
    high: int | None
    protocol: str
    cidrs: frozenset[str]
    """Which of 0.0.0.0/0 and ::/0 it admits."""


def _world_ingress(typ: str, props: Props) -> list[WorldIngress]:
    """Every rule on this resource (a group's inline rules, or one rule resource) open to the internet."""
    found = []
    if typ == SECURITY_GROUP:
        for rule in _list(props.get("ingress")):
            cidrs = set(_list(_get(rule, "cidrBlocks"))) | set(_list(_get(rule, "ipv6CidrBlocks")))
            if cidrs & WORLD:
                ports = _int(_get(rule, "fromPort")), _int(_get(rule, "toPort")), str(_get(rule, "protocol"))
                found.append(WorldIngress(*ports, frozenset(cidrs & WORLD)))
    elif typ == SG_INGRESS:
        cidrs = {props.get("cidrIpv4"), props.get("cidrIpv6")} & WORLD
        if cidrs:
            ports = _int(props.get("fromPort")), _int(props.get("toPort")), str(props.get("ipProtocol"))
            found.append(WorldIngress(*ports, frozenset(cidrs)))
    elif typ == SG_RULE and props.get("type") == "ingress":
        cidrs = set(_list(props.get("cidrBlocks"))) | set(_list(props.get("ipv6CidrBlocks")))
        if cidrs & WORLD:
            ports = _int(props.get("fromPort")), _int(props.get("toPort")), str(props.get("protocol"))
            found.append(WorldIngress(*ports, frozenset(cidrs & WORLD)))
    return found


def _world_ingress_ports(typ: str, props: Props) -> Iterator[str]:
    for rule in _world_ingress(typ, props):
        if not (rule.protocol in ("tcp", "6") and rule.low == rule.high and rule.low in (80, 443)):
            yield (
                f"ingress from the internet on {rule.protocol} {rule.low}-{rule.high}; "
                "only TCP 80 and 443 may be public"
            )


def _sg_rule_description(typ: str, props: Props) -> Iterator[str]:
    if typ == SECURITY_GROUP:
        yield from _one(not props.get("description"), "security group has no description")
        for rule in _list(props.get("ingress")) + _list(props.get("egress")):
            yield from _one(not _get(rule, "description"), "security group rule has no description")
    else:
        yield from _one(not props.get("description"), "security group rule has no description")


def _iam_no_wildcard_action(typ: str, props: Props) -> Iterator[str]:
    for s in _allow_statements(typ, props):
        sid = s.get("Sid", "")
        if "NotAction" in s:
            yield f"IAM statement {sid!r} allows every action but {_list(s.get('NotAction'))} (NotAction)"
        wildcards = [str(a) for a in _list(s.get("Action")) if IAM_WILDCARD.search(str(a))]
        yield from _one(bool(wildcards), f"IAM statement {sid!r} allows wildcard actions {wildcards}")


def _iam_scoped_writes(typ: str, props: Props) -> Iterator[str]:
    for s in _allow_statements(typ, props):
        if "NotResource" in s:
            where = f"every resource but {_list(s.get('NotResource'))} (NotResource)"
        else:
            broad = [str(r) for r in _list(s.get("Resource")) if _is_broad(r)]
            if not broad:
                continue
            where = f"every resource ({broad})"
        if "NotAction" in s:
            writes = [f"every action but {_list(s.get('NotAction'))} (NotAction)"]
        else:
            writes = [str(a) for a in _list(s.get("Action")) if _is_write(a)]
        yield from _one(bool(writes), f"IAM statement {s.get('Sid', '')!r} allows {writes} on {where}")


def _github_oidc_trust(typ: str, props: Props) -> Iterator[str]:
    for s in _statements(props.get("assumeRolePolicy")):
        federated = str(_get(s, "Principal", "Federated") or "")
        if "token.actions.githubusercontent.com" not in federated:
            continue
        condition = s.get("Condition") or {}
        exact = _get(condition, "StringEquals") or {}
        sub = exact.get("token.actions.githubusercontent.com:sub")
        subs = _list(sub)
        bound = bool(subs) and all(isinstance(v, str) and v.startswith("repo:") and "*" not in v for v in subs)
        yield from _one(not bound, "GitHub OIDC trust is not bound to an exact repo:<owner>/<repo>:... subject")
        yield from _one(
            exact.get("token.actions.githubusercontent.com:aud") != "sts.amazonaws.com",
            "GitHub OIDC trust does not require the sts.amazonaws.com audience",
        )
        # Any workflow of the repository that reaches the environment would match `sub` alone.
        repositories = {v.split(":")[1] for v in subs if isinstance(v, str) and v.count(":") >= 2}
        refs = _list(exact.get("token.actions.githubusercontent.com:job_workflow_ref"))
        pinned = bool(refs) and all(
            isinstance(ref, str)
            and "*" not in ref
            and re.fullmatch(r"[\w.-]+/[\w.-]+/\.github/workflows/[\w.-]+\.ya?ml@refs/heads/[\w./-]+", ref)
            and ref.split("/.github/", 1)[0] in repositories
            for ref in refs
        )
        yield from _one(
            not pinned,
            "GitHub OIDC trust does not pin job_workflow_ref to a workflow file on a branch of the subject's repo",
        )


# --- stack checks -----------------------------------------------------------------------------------

Findings = Iterator[tuple[str, str | None]]


def _of(resources: Sequence[StackResource], types: str | frozenset[str]) -> list[StackResource]:
    wanted = {types} if isinstance(types, str) else types
    return [r for r in resources if r.resource_type in wanted]


def _bucket_companion(resources: Sequence[StackResource], types: str | frozenset[str], what: str) -> Findings:
    covered = {r.props.get("bucket") for r in _of(resources, types)}
    for bucket in _of(resources, BUCKET):
        keys = {bucket.props.get("bucket"), bucket.props.get("id")} - {None}
        if not keys & covered:
            yield f"bucket {bucket.name} has no {what}", bucket.urn


def _s3_public_access_block(resources: Sequence[StackResource]) -> Findings:
    for pab in _of(resources, BUCKET_PAB):
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        if not all(pab.props.get(f) is True for f in flags):
            yield f"public access block {pab.name} leaves public access open", pab.urn
    yield from _bucket_companion(resources, BUCKET_PAB, "public access block")


def _s3_encryption(resources: Sequence[StackResource]) -> Findings:
    yield from _bucket_companion(resources, BUCKET_SSE, "default encryption")


def _s3_lifecycle(resources: Sequence[StackResource]) -> Findings:
    yield from _bucket_companion(resources, BUCKET_LIFECYCLE, "lifecycle configuration")


def _s3_versioning(resources: Sequence[StackResource]) -> Findings:
    yield from _bucket_companion(resources, BUCKET_VERSIONING, "versioning")


def _alb_waf(resources: Sequence[StackResource]) -> Findings:
    if not _of(resources, WAF_ASSOCIATION):
        for alb in _of(resources, ALB):
            yield f"load balancer {alb.name} has no WAF web ACL", alb.urn


def _secrets_rotation(resources: Sequence[StackResource]) -> Findings:
    rotated = {r.props.get("secretId") for r in _of(resources, SECRET_ROTATION)}
    for secret in _of(resources, SECRET):
        if not ({secret.props.get("id"), secret.props.get("arn")} - {None}) & rotated:
            yield f"secret {secret.name} is not rotated automatically", secret.urn


def _vpc_flow_logs(resources: Sequence[StackResource]) -> Findings:
    logged = {r.props.get("vpcId") for r in _of(resources, FLOW_LOG)}
    for vpc in _of(resources, VPC):
        if vpc.props.get("id") is None or vpc.props.get("id") not in logged:
            yield f"VPC {vpc.name} has no flow logs", vpc.urn


def _world_ingress_alb_only(resources: Sequence[StackResource]) -> Findings:
    alb_groups = {g for alb in _of(resources, ALB) for g in _list(alb.props.get("securityGroups"))}
    for r in resources:
        if not _world_ingress(r.resource_type, r.props):
            continue
        if r.resource_type == SECURITY_GROUP:
            yield f"{r.name} opens inline ingress to the internet; use rules on the ALB's group", r.urn
        elif r.props.get("securityGroupId") not in alb_groups:
            yield f"{r.name} opens a group that is not a load balancer's to the internet", r.urn


def _world_ipv6_ingress_dualstack(resources: Sequence[StackResource]) -> Findings:
    address_types: dict[Any, set[Any]] = {}
    for alb in _of(resources, ALB):
        for group in _list(alb.props.get("securityGroups")):
            address_types.setdefault(group, set()).add(alb.props.get("ipAddressType") or "ipv4")
    for r in resources:
        if not any(WORLD_IPV6 in rule.cidrs for rule in _world_ingress(r.resource_type, r.props)):
            continue
        group = r.props.get("id") if r.resource_type == SECURITY_GROUP else r.props.get("securityGroupId")
        # A group no load balancer uses is world-ingress-alb-only's finding, not this one's.
        if group in address_types and not address_types[group] & DUALSTACK:
            yield (
                f"{r.name} admits {WORLD_IPV6}, but the load balancer using {group} has no IPv6 address "
                f"(ipAddressType {sorted(address_types[group])}); drop the rule or make the ALB dualstack",
                r.urn,
            )


def _foreign_ingress(rule: Mapping[str, Any], sources: tuple[str, ...], alb_groups: set[Any]) -> str | None:
    """What an ingress rule admits besides load balancers' groups (None: only them). `sources` names its
    source-group keys: `referencedSecurityGroupId`, `sourceSecurityGroupId` or an inline rule's `securityGroups`."""
    others = [
        f"{key} {value}"
        for key in ("cidrIpv4", "cidrIpv6", "cidrBlocks", "ipv6CidrBlocks", "prefixListId", "prefixListIds")
        for value in _list(rule.get(key))
        if value
    ]
    if rule.get("self") is True:
        others.append("the group's own members (self)")
    groups = [g for key in sources for g in _list(rule.get(key))]
    others += [f"group {g}" for g in groups if g not in alb_groups]
    if not groups and not others:
        others.append("a source this rule does not name")
    return ", ".join(others) or None


def _group_admits(group: Any, resources: Sequence[StackResource], alb_groups: set[Any]) -> Iterator[str]:
    """Everything `group` admits that is not a load balancer's group, as `<what> (<rule>)`."""
    owners = [g for g in _of(resources, GROUPS) if g.props.get("id") == group]
    if not owners:
        yield f"{group}, which this stack does not manage, so what it admits is unknown"
        return
    # (rule, the keys naming its source groups, where it is written)
    rules: list[tuple[Mapping[str, Any], tuple[str, ...], str]] = [
        (rule, ("securityGroups",), f"inline rule of {owner.name}")
        for owner in owners
        for rule in _list(owner.props.get("ingress"))
        if isinstance(rule, Mapping)
    ]
    rules += [
        (r.props, ("referencedSecurityGroupId",), r.name)
        for r in _of(resources, SG_INGRESS)
        if r.props.get("securityGroupId") == group
    ]
    rules += [
        (r.props, ("sourceSecurityGroupId",), r.name)
        for r in _of(resources, SG_RULE)
        if r.props.get("securityGroupId") == group and r.props.get("type") == "ingress"
    ]
    for rule, sources, where in rules:
        if problem := _foreign_ingress(rule, sources, alb_groups):
            yield f"{problem} ({where})"


def _ecs_public_ip_behind_alb_only(resources: Sequence[StackResource]) -> Findings:
    """CKV_AWS_333 forbids public IPs on tasks. Without NAT a task needs one to reach the internet; that is
    safe only while nothing but the load balancer can reach the task, so that is what this checks."""
    public = [s for s in _of(resources, ECS_SERVICE) if _get(s.props, "networkConfiguration", "assignPublicIp") is True]
    # Read only when needed: during a first preview the groups' ids are unknown and reading one skips the rule.
    alb_groups = {g for alb in _of(resources, ALB) for g in _list(alb.props.get("securityGroups"))} if public else set()
    for service in public:
        groups = _list(_get(service.props, "networkConfiguration", "securityGroups"))
        if not groups:
            yield f"{service.name} gives tasks public IPs in the VPC's default security group", service.urn
        for group in groups:
            for admitted in _group_admits(group, resources, alb_groups):
                yield (
                    f"{service.name} gives tasks public IPs, but their group {group} admits {admitted}; "
                    "a task with a public IP may admit only load balancers' security groups",
                    service.urn,
                )


def _timeouts_agree(resources: Sequence[StackResource]) -> Findings:
    idle = [_int(r.props.get("idleTimeout")) or 60 for r in _of(resources, ALB)]
    dereg = [_int(r.props.get("deregistrationDelay")) or 300 for r in _of(resources, TARGET_GROUP)]
    for task in _of(resources, TASK_DEFINITION):
        for c in _containers(task.props):
            env = {
                str(_get(v, "name")): _int(_get(v, "value"))
                for v in _list(c.get("environment"))
                if isinstance(v, Mapping)
            }
            stream, heartbeat = env.get(Env.MAX_STREAM_SECONDS), env.get(Env.SSE_HEARTBEAT_SECONDS)
            graceful, stop = env.get(Env.GRACEFUL_TIMEOUT), _int(c.get("stopTimeout"))
            if stream is None:
                continue
            where = f"task {task.name} container {c.get('name')}"
            if heartbeat is None or any(heartbeat >= i for i in idle):
                yield f"{where}: SSE heartbeat {heartbeat}s is not below the ALB idle timeout {idle}", task.urn
            if any(stream > d for d in dereg):
                yield f"{where}: max stream {stream}s exceeds the deregistration delay {dereg}", task.urn
            if graceful is None or stop is None or not stream <= graceful < stop <= ECS_MAX_STOP_TIMEOUT_SECONDS:
                yield (
                    f"{where}: need max stream ({stream}) <= graceful timeout ({graceful}) < stopTimeout "
                    f"({stop}) <= {ECS_MAX_STOP_TIMEOUT_SECONDS}",
                    task.urn,
                )


class _Unknown:
    """A value a preview cannot know yet (the analyzer's proxies raise on reading one)."""


UNKNOWN = _Unknown()


def _item(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except UnknownValueError:
        return UNKNOWN


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, leaf) for every leaf under `value`; a leaf unknown during preview is `UNKNOWN`.

    Iterating keys and indices touches no value, so one unknown output does not keep the rule from
    checking the others (and the unknown one's name) during a preview.
    """
    if isinstance(value, Mapping):
        for key in value:
            yield from _walk(_item(value, key), f"{path}.{key}" if path else str(key))
    elif _is_list(value):
        for i in range(len(value)):
            yield from _walk(_item(value, i), f"{path}[{i}]")
    else:
        yield path, value


def _no_secret_outputs(resources: Sequence[StackResource]) -> Findings:
    for stack in _of(resources, STACK):
        for output in stack.props:
            if output in SECRET_OUTPUTS_ALLOWED:
                continue
            for path, value in _walk(_item(stack.props, output), str(output)):
                leaf = _words(path)[-1:]
                named = _names_secret(path) and not REFERENCE_WORDS.intersection(leaf)
                if (named and value not in (None, "")) or (isinstance(value, str) and SECRET_VALUE.search(value)):
                    yield f"stack output {path} looks like a secret; export its ARN instead", stack.urn


# --- the pack ---------------------------------------------------------------------------------------

ANY_AWS: frozenset[str] | None = None

RULES: tuple[ResourceRule | StackRule, ...] = (
    # Ours
    ResourceRule("us-region-only", "Resources are created in US regions only", ANY_AWS, _us_region),
    ResourceRule(
        "provider-default-tags",
        "The AWS provider tags everything with project, environment and managed-by",
        frozenset({PROVIDER}),
        _default_tags,
    ),
    StackRule(
        "streaming-timeouts-agree",
        "SSE heartbeat < ALB idle timeout; max stream <= deregistration delay; "
        "max stream <= graceful timeout < ECS stopTimeout <= 120 s",
        _timeouts_agree,
    ),
    ResourceRule(
        "world-ingress-http-https-only",
        "Nothing is open to the internet except TCP 80 and 443",
        frozenset({SECURITY_GROUP, SG_INGRESS, SG_RULE}),
        _world_ingress_ports,
        "CKV_AWS_24, CKV_AWS_25, CKV_AWS_260",
    ),
    StackRule(
        "world-ingress-alb-only", "Only the load balancer's security group admits the internet", _world_ingress_alb_only
    ),
    # Advisory: ::/0 on an IPv4-only load balancer admits nothing today; it is a stale rule, and it would
    # open the group the day someone makes the load balancer dualstack without reviewing its ingress.
    StackRule(
        "world-ipv6-ingress-dualstack-only",
        "IPv6 ingress from the internet only on a load balancer that has IPv6 addresses (ipAddressType dualstack)",
        _world_ipv6_ingress_dualstack,
        level=ADVISORY,
    ),
    StackRule("no-secret-outputs", "No stack output holds a secret value", _no_secret_outputs),
    ResourceRule(
        "ecs-secrets-not-in-environment",
        "Secrets reach containers through `secrets` (by ARN), never as plain environment",
        frozenset({TASK_DEFINITION}),
        _ecs_secrets_not_in_environment,
    ),
    ResourceRule("ecs-non-root-user", "Containers run as a non-root user", frozenset({TASK_DEFINITION}), _ecs_non_root),
    ResourceRule(
        "ecs-deployment-rollback",
        "ECS deployments use the circuit breaker with rollback",
        frozenset({ECS_SERVICE}),
        _ecs_circuit_breaker,
    ),
    ResourceRule("ecs-container-logging", "Every container ships its logs", frozenset({TASK_DEFINITION}), _ecs_logging),
    ResourceRule(
        "elasticache-multi-az",
        "The cache has a replica in another zone with automatic failover",
        frozenset({REPLICATION_GROUP}),
        _cache_multi_az,
        level=ADVISORY,
    ),
    # Ports of checkov checks
    ResourceRule(
        "alb-https-only", "HTTP listeners redirect to HTTPS", LISTENER, _alb_https, "CKV_AWS_2", level=ADVISORY
    ),
    ResourceRule("alb-tls12", "HTTPS listeners require TLS 1.2 or newer", LISTENER, _alb_tls, "CKV_AWS_103"),
    ResourceRule("alb-drop-invalid-headers", "ALB drops invalid header fields", ALB, _alb_drop_headers, "CKV_AWS_131"),
    ResourceRule("alb-access-logs", "ALB access logging is enabled", ALB, _alb_access_logs, "CKV_AWS_91"),
    ResourceRule(
        "alb-deletion-protection",
        "ALB deletion protection is enabled",
        ALB,
        _alb_deletion_protection,
        "CKV_AWS_150",
        level=ADVISORY,
    ),
    StackRule("alb-waf", "Load balancers are protected by AWS WAF", _alb_waf, "CKV2_AWS_28", level=ADVISORY),
    ResourceRule(
        "ecs-container-insights",
        "ECS clusters enable Container Insights",
        frozenset({CLUSTER}),
        _container_insights,
        "CKV_AWS_65",
    ),
    # CKV_AWS_333 itself forbids any public IP; ours allows one only where the load balancer alone can reach it.
    StackRule(
        "ecs-no-public-ip",
        "ECS tasks get a public IP only in security groups that admit nothing but load balancers' groups",
        _ecs_public_ip_behind_alb_only,
        "CKV_AWS_333",
    ),
    ResourceRule(
        "ecs-read-only-root",
        "Containers have a read-only root filesystem",
        frozenset({TASK_DEFINITION}),
        _ecs_read_only_root,
        "CKV_AWS_336",
    ),
    ResourceRule(
        "ecs-not-privileged",
        "Containers are not privileged",
        frozenset({TASK_DEFINITION}),
        _ecs_not_privileged,
        "CKV_AWS_334",
    ),
    ResourceRule(
        "ecs-separate-roles",
        "Task and execution roles are different roles",
        frozenset({TASK_DEFINITION}),
        _ecs_separate_roles,
        "CKV_AWS_249",
    ),
    ResourceRule(
        "elasticache-at-rest-encryption",
        "Cache encrypts data at rest",
        frozenset({REPLICATION_GROUP}),
        _cache_at_rest,
        "CKV_AWS_29",
    ),
    ResourceRule(
        "elasticache-in-transit-encryption",
        "Cache requires TLS",
        frozenset({REPLICATION_GROUP}),
        _cache_in_transit,
        "CKV_AWS_30",
    ),
    ResourceRule(
        "elasticache-auth-token",
        "Cache requires an AUTH token over TLS",
        frozenset({REPLICATION_GROUP}),
        _cache_auth,
        "CKV_AWS_31",
    ),
    ResourceRule(
        "elasticache-cmk",
        "Cache is encrypted with a customer-managed key",
        frozenset({REPLICATION_GROUP}),
        _cache_cmk,
        "CKV_AWS_191",
    ),
    ResourceRule(
        "elasticache-backups",
        "Cache keeps automatic snapshots",
        frozenset({REPLICATION_GROUP}),
        _cache_backups,
        "CKV_AWS_134",
        level=ADVISORY,
    ),
    ResourceRule(
        "secrets-cmk",
        "Secrets are encrypted with a customer-managed key",
        frozenset({SECRET}),
        _secret_cmk,
        "CKV_AWS_149",
    ),
    StackRule(
        "secrets-rotation",
        "Secrets rotate automatically (a third-party API key cannot be rotated by AWS)",
        _secrets_rotation,
        "CKV2_AWS_57",
        level=ADVISORY,
    ),
    ResourceRule("kms-key-rotation", "KMS keys rotate", frozenset({KMS_KEY}), _kms_rotation, "CKV_AWS_7"),
    ResourceRule(
        "ecr-immutable-tags", "ECR tags are immutable", frozenset({ECR_REPOSITORY}), _ecr_immutable, "CKV_AWS_51"
    ),
    ResourceRule("ecr-scan-on-push", "ECR scans images on push", frozenset({ECR_REPOSITORY}), _ecr_scan, "CKV_AWS_163"),
    ResourceRule(
        "ecr-cmk",
        "ECR encrypts images with a customer-managed key",
        frozenset({ECR_REPOSITORY}),
        _ecr_cmk,
        "CKV_AWS_136",
    ),
    ResourceRule(
        "log-retention", "Log groups set a retention period", frozenset({LOG_GROUP}), _log_retention, "CKV_AWS_66"
    ),
    ResourceRule(
        "log-retention-one-year",
        "Log groups keep logs for at least a year",
        frozenset({LOG_GROUP}),
        _log_retention_year,
        "CKV_AWS_338",
        level=ADVISORY,
    ),
    ResourceRule(
        "log-group-cmk",
        "Log groups are encrypted with a customer-managed key",
        frozenset({LOG_GROUP}),
        _log_cmk,
        "CKV_AWS_158",
    ),
    ResourceRule("sns-encrypted", "SNS topics are encrypted", frozenset({SNS_TOPIC}), _sns_encrypted, "CKV_AWS_26"),
    ResourceRule(
        "subnet-no-public-ip",
        "Subnets do not assign public IPs on launch",
        frozenset({SUBNET}),
        _subnet_no_public_ip,
        "CKV_AWS_130",
    ),
    ResourceRule(
        "security-group-descriptions",
        "Security groups and their rules are described",
        frozenset({SECURITY_GROUP, SG_INGRESS, SG_EGRESS, SG_RULE}),
        _sg_rule_description,
        "CKV_AWS_23",
    ),
    ResourceRule(
        "iam-no-wildcard-actions",
        "IAM policies allow no wildcard actions",
        frozenset({IAM_ROLE, IAM_ROLE_POLICY, IAM_POLICY}),
        _iam_no_wildcard_action,
        "CKV_AWS_62, CKV_AWS_63",
    ),
    ResourceRule(
        "iam-scoped-writes",
        "IAM write actions name their resources (no Resource: * except where IAM requires it)",
        frozenset({IAM_ROLE, IAM_ROLE_POLICY, IAM_POLICY}),
        _iam_scoped_writes,
        "CKV_AWS_290, CKV_AWS_355",
    ),
    ResourceRule(
        "github-oidc-trust-bound",
        "GitHub OIDC trust requires the STS audience, an exact repository subject and the workflow (job_workflow_ref)",
        frozenset({IAM_ROLE}),
        _github_oidc_trust,
        "CKV_AWS_358",
    ),
    StackRule("s3-public-access-block", "Buckets block all public access", _s3_public_access_block, "CKV2_AWS_6"),
    StackRule("s3-encryption", "Buckets encrypt objects by default", _s3_encryption, "CKV_AWS_19"),
    StackRule("s3-lifecycle", "Buckets have a lifecycle configuration", _s3_lifecycle, "CKV2_AWS_61"),
    StackRule("s3-versioning", "Buckets are versioned", _s3_versioning, "CKV_AWS_21"),
    StackRule("vpc-flow-logs", "VPCs record flow logs", _vpc_flow_logs, "CKV2_AWS_11", level=ADVISORY),
)


def policies() -> list[Policy]:
    """The CrossGuard policies, in `RULES` order."""
    return [rule.to_policy() for rule in RULES]
