"""The policy pack: clean on both stacks, and every rule fires on a resource that breaks it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from infra.policy import rules
from infra.policy.rules import RULES, ResourceRule, StackRule
from tests.infra.conftest import Programs, Run, resource_violations, stack_of, stack_violations

BY_NAME = {rule.name: rule for rule in RULES}


def _findings(run: Run) -> dict[str, list[str]]:
    """Every rule's messages over a run's resources (resource rules) and whole stack (stack rules)."""
    found: dict[str, list[str]] = {}
    for rule in RULES:
        if isinstance(rule, ResourceRule):
            messages = [m for r in run.resources for m in resource_violations(rule, r["type"], r["inputs"])]
        else:
            messages = stack_violations(rule, stack_of(run))
        if messages:
            found[rule.name] = messages
    return found


def _mandatory(found: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {name: m for name, m in found.items() if BY_NAME[name].level == EnforcementLevel.MANDATORY}


@pytest.mark.parametrize("variant", ["staging", "prod", "prod-full", "staging-reuse"])
def test_no_mandatory_violations(programs: Programs, variant: str) -> None:
    assert _mandatory(_findings(programs[variant])) == {}


def test_staging_trips_only_the_advisory_rules_it_is_expected_to(staging: Run) -> None:
    assert set(_findings(staging)) == {
        "alb-https-only",  # no certificate configured yet
        "alb-deletion-protection",
        "alb-waf",
        "elasticache-multi-az",  # one node
        "elasticache-backups",
        "secrets-rotation",  # OpenAI and client keys are rotated by people, not by a Lambda
        "log-retention-one-year",
        "vpc-flow-logs",
    }


def test_prod_trips_only_the_advisory_rules_it_is_expected_to(prod: Run, programs: Programs) -> None:
    expected = {"alb-https-only", "alb-waf", "secrets-rotation", "log-retention-one-year", "vpc-flow-logs"}
    assert set(_findings(prod)) == expected
    # With a certificate, the HTTP listener redirects and the advisory goes away.
    assert set(_findings(programs["prod-full"])) == expected - {"alb-https-only"}


def test_pack_has_at_least_25_rules_with_unique_names_and_checkov_ids() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) >= 25
    assert len(set(names)) == len(names)
    cited = {c.strip() for rule in RULES if rule.checkov for c in rule.checkov.split(",")}
    for checkov in ["CKV_AWS_2", "CKV_AWS_65", "CKV_AWS_91", "CKV_AWS_103", "CKV_AWS_131", "CKV_AWS_150",
                    "CKV_AWS_29", "CKV_AWS_30", "CKV_AWS_31", "CKV_AWS_149", "CKV_AWS_51", "CKV_AWS_163",
                    "CKV_AWS_66", "CKV_AWS_249", "CKV_AWS_333", "CKV_AWS_336"]:  # fmt: skip
        assert checkov in cited
    for ours in ["us-region-only", "streaming-timeouts-agree", "world-ingress-alb-only", "no-secret-outputs"]:
        assert ours in names


def test_rules_that_cost_money_or_cannot_apply_are_advisory() -> None:
    advisory = {rule.name for rule in RULES if rule.level == EnforcementLevel.ADVISORY}
    assert {"alb-waf", "log-retention-one-year", "secrets-rotation"} <= advisory
    assert "us-region-only" not in advisory


def test_policies_are_crossguard_objects_with_their_level() -> None:
    for rule, policy in zip(RULES, rules.policies(), strict=True):
        expected = ResourceValidationPolicy if isinstance(rule, ResourceRule) else StackValidationPolicy
        assert isinstance(policy, expected)
        assert policy.enforcement_level == rule.level
        assert policy.name == rule.name
        if rule.checkov:
            assert rule.checkov in policy.description


def test_policy_pack_project_file_runs_the_pack_with_python() -> None:
    pack = Path(rules.__file__).parent
    project = yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    main = (pack / "__main__.py").read_text()
    assert "PolicyPack(" in main
    assert "policies()" in main


# --- each rule fires on a resource that breaks it ----------------------------------------------------

TASK = "aws:ecs/taskDefinition:TaskDefinition"


def _task(**container: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "api",
        "user": "10001",
        "readonlyRootFilesystem": True,
        "logConfiguration": {"logDriver": "awslogs"},
        "environment": [],
    }
    return {
        "executionRoleArn": "arn:aws:iam::1:role/exec",
        "taskRoleArn": "arn:aws:iam::1:role/task",
        "containerDefinitions": json.dumps([{**base, **container}]),
    }


def _policy_doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _timed_stack(*, idle: int, dereg: int, stream: int, heartbeat: int, graceful: int, stop: int) -> list[Any]:
    env = [
        {"name": "MAX_STREAM_SECONDS", "value": str(stream)},
        {"name": "SSE_HEARTBEAT_SECONDS", "value": str(heartbeat)},
        {"name": "GRACEFUL_TIMEOUT", "value": str(graceful)},
    ]
    return [
        ("aws:lb/loadBalancer:LoadBalancer", "alb", {"idleTimeout": idle}),
        ("aws:lb/targetGroup:TargetGroup", "tg", {"deregistrationDelay": dereg}),
        (TASK, "task", _task(environment=env, stopTimeout=stop)),
    ]


def _oidc_role(condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "assumeRolePolicy": _policy_doc(
            {
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        )
    }


BUCKET = ("aws:s3/bucket:Bucket", "logs", {"bucket": "logs-1", "id": "logs-1"})

ResourceCase = tuple[str, Mapping[str, Any]]
StackCase = Sequence[tuple[str, str, Mapping[str, Any]]]

VIOLATIONS: dict[str, ResourceCase | StackCase] = {
    "us-region-only": ("pulumi:providers:aws", {"region": "eu-west-1"}),
    "provider-default-tags": ("pulumi:providers:aws", {"region": "us-east-1", "defaultTags": {"tags": {}}}),
    "streaming-timeouts-agree": _timed_stack(idle=100, dereg=95, stream=90, heartbeat=15, graceful=95, stop=95),
    "world-ingress-http-https-only": (
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"cidrIpv4": "0.0.0.0/0", "fromPort": 22, "toPort": 22, "ipProtocol": "tcp", "securityGroupId": "sg-1"},
    ),
    "world-ingress-alb-only": [
        ("aws:lb/loadBalancer:LoadBalancer", "alb", {"securityGroups": ["sg-alb"]}),
        (
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "task-open",
            {
                "cidrIpv4": "0.0.0.0/0",
                "fromPort": 443,
                "toPort": 443,
                "ipProtocol": "tcp",
                "securityGroupId": "sg-task",
            },
        ),
    ],
    "no-secret-outputs": [("pulumi:pulumi:Stack", "stack", {"redis_auth_token": "abc123", "url": "https://x"})],
    "ecs-secrets-not-in-environment": (TASK, _task(environment=[{"name": "OPENAI_API_KEY", "value": "sk-x"}])),
    "ecs-non-root-user": (TASK, _task(user="0")),
    "ecs-deployment-rollback": (
        "aws:ecs/service:Service",
        {"deploymentCircuitBreaker": {"enable": True, "rollback": False}},
    ),
    "ecs-container-logging": (TASK, _task(logConfiguration=None)),
    "elasticache-multi-az": (
        "aws:elasticache/replicationGroup:ReplicationGroup",
        {"automaticFailoverEnabled": False, "multiAzEnabled": False},
    ),
    "alb-https-only": (
        "aws:lb/listener:Listener",
        {"protocol": "HTTP", "port": 80, "defaultActions": [{"type": "forward", "targetGroupArn": "tg"}]},
    ),
    "alb-tls12": ("aws:lb/listener:Listener", {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"}),
    "alb-drop-invalid-headers": ("aws:lb/loadBalancer:LoadBalancer", {"loadBalancerType": "application"}),
    "alb-access-logs": ("aws:lb/loadBalancer:LoadBalancer", {"accessLogs": {"bucket": "b", "enabled": False}}),
    "alb-deletion-protection": ("aws:lb/loadBalancer:LoadBalancer", {"enableDeletionProtection": False}),
    "alb-waf": [("aws:lb/loadBalancer:LoadBalancer", "alb", {})],
    "ecs-container-insights": (
        "aws:ecs/cluster:Cluster",
        {"settings": [{"name": "containerInsights", "value": "disabled"}]},
    ),
    "ecs-no-public-ip": ("aws:ecs/service:Service", {"networkConfiguration": {"assignPublicIp": True}}),
    "ecs-read-only-root": (TASK, _task(readonlyRootFilesystem=False)),
    "ecs-not-privileged": (TASK, _task(privileged=True)),
    "ecs-separate-roles": (
        TASK,
        {**_task(), "taskRoleArn": "arn:aws:iam::1:role/exec"},
    ),
    "elasticache-at-rest-encryption": (
        "aws:elasticache/replicationGroup:ReplicationGroup",
        {"atRestEncryptionEnabled": False},
    ),
    "elasticache-in-transit-encryption": (
        "aws:elasticache/replicationGroup:ReplicationGroup",
        {"transitEncryptionEnabled": False},
    ),
    "elasticache-auth-token": (
        "aws:elasticache/replicationGroup:ReplicationGroup",
        {"transitEncryptionEnabled": True},
    ),
    "elasticache-cmk": ("aws:elasticache/replicationGroup:ReplicationGroup", {"atRestEncryptionEnabled": True}),
    "elasticache-backups": ("aws:elasticache/replicationGroup:ReplicationGroup", {"snapshotRetentionLimit": 0}),
    "secrets-cmk": ("aws:secretsmanager/secret:Secret", {"name": "openai"}),
    "secrets-rotation": [("aws:secretsmanager/secret:Secret", "s", {"id": "arn:s", "arn": "arn:s"})],
    "kms-key-rotation": ("aws:kms/key:Key", {"enableKeyRotation": False}),
    "ecr-immutable-tags": ("aws:ecr/repository:Repository", {"imageTagMutability": "MUTABLE"}),
    "ecr-scan-on-push": ("aws:ecr/repository:Repository", {"imageScanningConfiguration": {"scanOnPush": False}}),
    "ecr-cmk": ("aws:ecr/repository:Repository", {"encryptionConfigurations": [{"encryptionType": "AES256"}]}),
    "log-retention": ("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 0}),
    "log-retention-one-year": ("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30}),
    "log-group-cmk": ("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30}),
    "sns-encrypted": ("aws:sns/topic:Topic", {}),
    "subnet-no-public-ip": ("aws:ec2/subnet:Subnet", {"mapPublicIpOnLaunch": True}),
    "security-group-descriptions": (
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"fromPort": 443, "toPort": 443, "ipProtocol": "tcp"},
    ),
    "iam-no-wildcard-actions": (
        "aws:iam/rolePolicy:RolePolicy",
        {"policy": _policy_doc({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b"})},
    ),
    "iam-scoped-writes": (
        "aws:iam/policy:Policy",
        {"policy": _policy_doc({"Effect": "Allow", "Action": ["secretsmanager:PutSecretValue"], "Resource": "*"})},
    ),
    "github-oidc-trust-bound": (
        "aws:iam/role:Role",
        _oidc_role(
            {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"},
            }
        ),
    ),
    "s3-public-access-block": [BUCKET],
    "s3-encryption": [BUCKET],
    "s3-lifecycle": [BUCKET],
    "s3-versioning": [BUCKET],
    "vpc-flow-logs": [("aws:ec2/vpc:Vpc", "vpc", {"id": "vpc-1"})],
}


def test_every_rule_has_a_violating_case() -> None:
    assert set(VIOLATIONS) == set(BY_NAME)


def _violations(rule: ResourceRule | StackRule, case: ResourceCase | StackCase) -> list[str]:
    if isinstance(rule, ResourceRule):
        typ, props = case  # type: ignore[misc]
        return resource_violations(rule, str(typ), props)  # type: ignore[arg-type]
    return stack_violations(rule, case)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_rule_fires_on_a_violating_resource(name: str) -> None:
    rule = BY_NAME[name]
    assert _violations(rule, VIOLATIONS[name]), f"{name} did not fire"


TYPED_RULES = sorted(r.name for r in RULES if isinstance(r, ResourceRule) and r.types is not None)


@pytest.mark.parametrize("name", TYPED_RULES)
def test_rule_ignores_other_resource_types(name: str) -> None:
    rule = BY_NAME[name]
    _, props = VIOLATIONS[name]  # type: ignore[misc]
    assert resource_violations(rule, "aws:unrelated/thing:Thing", props) == []  # type: ignore[arg-type]


# A few rules whose boundaries matter more than a single bad case shows.


def test_region_rule_also_catches_a_per_resource_region_override() -> None:
    rule = BY_NAME["us-region-only"]
    assert isinstance(rule, ResourceRule)
    assert resource_violations(rule, "aws:s3/bucket:Bucket", {"region": "eu-central-1"})
    assert resource_violations(rule, "aws:s3/bucket:Bucket", {"region": "us-west-2"}) == []
    assert resource_violations(rule, "pulumi:providers:aws", {"region": "us-east-2"}) == []


@pytest.mark.parametrize(
    ("timings", "broken"),
    [
        ({"idle": 100, "dereg": 95, "stream": 90, "heartbeat": 15, "graceful": 95, "stop": 105}, False),
        ({"idle": 15, "dereg": 95, "stream": 90, "heartbeat": 15, "graceful": 95, "stop": 105}, True),
        ({"idle": 100, "dereg": 60, "stream": 90, "heartbeat": 15, "graceful": 95, "stop": 105}, True),
        ({"idle": 100, "dereg": 95, "stream": 90, "heartbeat": 15, "graceful": 80, "stop": 105}, True),
        ({"idle": 130, "dereg": 125, "stream": 120, "heartbeat": 15, "graceful": 125, "stop": 135}, True),
    ],
)
def test_timeout_rule_checks_each_link_of_the_order(timings: dict[str, int], broken: bool) -> None:
    rule = BY_NAME["streaming-timeouts-agree"]
    assert isinstance(rule, StackRule)
    assert bool(stack_violations(rule, _timed_stack(**timings))) is broken


def test_world_ingress_on_the_albs_own_group_is_allowed() -> None:
    rule = BY_NAME["world-ingress-alb-only"]
    assert isinstance(rule, StackRule)
    resources = [
        ("aws:lb/loadBalancer:LoadBalancer", "alb", {"securityGroups": ["sg-alb"]}),
        (
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "alb-https",
            {"cidrIpv4": "0.0.0.0/0", "fromPort": 443, "toPort": 443, "ipProtocol": "tcp", "securityGroupId": "sg-alb"},
        ),
    ]
    assert stack_violations(rule, resources) == []


def test_secret_outputs_rule_allows_arns_and_catches_credentials_in_urls() -> None:
    rule = BY_NAME["no-secret-outputs"]
    assert isinstance(rule, StackRule)
    fine = [("pulumi:pulumi:Stack", "s", {"openai_key_secret_arn": "arn:aws:secretsmanager:x", "token_name": "t"})]
    assert stack_violations(rule, fine) == []
    leaky = [("pulumi:pulumi:Stack", "s", {"cache": "rediss://default:hunter2@host:6379/0"})]
    assert stack_violations(rule, leaky)


def test_github_trust_with_exact_subject_passes() -> None:
    rule = BY_NAME["github-oidc-trust-bound"]
    assert isinstance(rule, ResourceRule)
    exact = {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/api:environment:prod",
        }
    }
    assert resource_violations(rule, "aws:iam/role:Role", _oidc_role(exact)) == []


def test_unscopable_actions_may_use_a_wildcard_resource_but_writes_may_not() -> None:
    rule = BY_NAME["iam-scoped-writes"]
    assert isinstance(rule, ResourceRule)
    login = {"policy": _policy_doc({"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"})}
    assert resource_violations(rule, "aws:iam/rolePolicy:RolePolicy", login) == []
    push = {"policy": _policy_doc({"Effect": "Allow", "Action": ["ecr:PutImage"], "Resource": "*"})}
    assert resource_violations(rule, "aws:iam/rolePolicy:RolePolicy", push)
