"""Rules whose boundaries matter more than one bad case shows, each fed through the analyzer servicer."""

from __future__ import annotations

from typing import Any

import pytest

from infra.policy.rules import SECRET_OUTPUTS_ALLOWED
from tests.infra.policy.analyzer import UNKNOWN, Resource, secret
from tests.infra.policy.cases import (
    EXACT_GITHUB_SUBJECT,
    STACK,
    TASK,
    alb,
    allow,
    findings,
    group_ingress,
    messages,
    oidc_role,
    policy_doc,
    public_tasks,
    res,
    task,
    timed_stack,
    world_ingress,
)

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"

# --- region and timing ----------------------------------------------------------------------------------


def test_region_rule_also_catches_a_per_resource_region_override() -> None:
    assert findings("us-region-only", res("aws:s3/bucket:Bucket", {"region": "eu-central-1"}))
    assert findings("us-region-only", res("aws:s3/bucket:Bucket", {"region": "us-west-2"})) == []
    assert findings("us-region-only", res("pulumi:providers:aws", {"region": "us-east-2"})) == []


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
    assert bool(findings("streaming-timeouts-agree", timed_stack(**timings))) is broken


# --- ingress ------------------------------------------------------------------------------------------------


def test_world_ingress_on_the_albs_own_group_is_allowed() -> None:
    assert findings("world-ingress-alb-only", [alb("sg-alb"), world_ingress(443, "sg-alb")]) == []


def test_inline_world_ingress_on_a_group_is_reported_even_on_443() -> None:
    group = res(
        "aws:ec2/securityGroup:SecurityGroup",
        {"id": "sg-alb", "ingress": [{"cidrBlocks": ["0.0.0.0/0"], "fromPort": 443, "toPort": 443, "protocol": "tcp"}]},
        "alb-sg",
    )
    assert findings("world-ingress-alb-only", [alb("sg-alb"), group])


def test_ipv6_world_ingress_needs_a_dualstack_load_balancer() -> None:
    rule = "world-ipv6-ingress-dualstack-only"
    ipv6 = world_ingress(443, "sg-alb", ipv6=True)
    # No ipAddressType: AWS's default, ipv4.
    assert messages(rule, [alb("sg-alb"), ipv6]) == [
        "ingress admits ::/0, but the load balancer using sg-alb has no IPv6 address (ipAddressType ['ipv4']); "
        "drop the rule or make the ALB dualstack"
    ]
    assert findings(rule, [alb("sg-alb", ipAddressType="dualstack-without-public-ipv4"), ipv6]) == []
    # IPv4 world ingress is the ALB's job; a group no load balancer uses is world-ingress-alb-only's finding.
    assert findings(rule, [alb("sg-alb"), world_ingress(443, "sg-alb")]) == []
    assert findings(rule, [alb("sg-alb"), world_ingress(443, "sg-other", ipv6=True)]) == []


def test_ipv6_rule_is_advisory_because_it_opens_nothing_today() -> None:
    found = findings("world-ipv6-ingress-dualstack-only", [alb("sg-alb"), world_ingress(443, "sg-alb", ipv6=True)])
    assert [f.level for f in found] == ["advisory"]


# --- public IPs on tasks (no NAT) -------------------------------------------------------------------------


def test_a_task_with_a_public_ip_names_what_else_its_group_admits() -> None:
    stack = public_tasks(
        group_ingress("sg-task", "from-alb", referencedSecurityGroupId="sg-alb"),
        group_ingress("sg-task", "from-vpc", cidrIpv4="10.0.0.0/16"),
    )
    assert messages("ecs-no-public-ip", stack) == [
        "service gives tasks public IPs, but their group sg-task admits cidrIpv4 10.0.0.0/16 (from-vpc); "
        "a task with a public IP may admit only load balancers' security groups"
    ]


def test_without_a_public_ip_the_rule_does_not_look_at_the_group() -> None:
    open_group = group_ingress("sg-task", "from-vpc", cidrIpv4="10.0.0.0/16")
    assert findings("ecs-no-public-ip", public_tasks(open_group, public_ip=False)) == []


def test_a_task_group_with_no_ingress_at_all_may_have_a_public_ip() -> None:
    assert findings("ecs-no-public-ip", public_tasks()) == []


@pytest.mark.parametrize(
    ("extra", "admitted"),
    [
        # Another group than the load balancer's.
        (group_ingress("sg-task", "from-other", referencedSecurityGroupId="sg-other"), "group sg-other"),
        # The world, on the container port.
        (world_ingress(8000, "sg-task", name="from-world"), "cidrIpv4 0.0.0.0/0"),
        (world_ingress(8000, "sg-task", name="from-world-v6", ipv6=True), "cidrIpv6 ::/0"),
        # A managed prefix list (CloudFront's, say) is a range of addresses, not the load balancer.
        (group_ingress("sg-task", "from-list", prefixListId="pl-3b927c52"), "prefixListId pl-3b927c52"),
        # The older rule resource, by source group and by CIDR.
        (
            res(SG_RULE, {"type": "ingress", "securityGroupId": "sg-task", "sourceSecurityGroupId": "sg-other"}, "r"),
            "group sg-other",
        ),
        (
            res(SG_RULE, {"type": "ingress", "securityGroupId": "sg-task", "cidrBlocks": ["0.0.0.0/0"]}, "r"),
            "0.0.0.0/0",
        ),
        (res(SG_RULE, {"type": "ingress", "securityGroupId": "sg-task", "self": True}, "r"), "(self)"),
    ],
)
def test_a_public_task_group_admitting_anything_but_the_alb_is_reported(extra: Resource, admitted: str) -> None:
    found = messages("ecs-no-public-ip", public_tasks(extra))
    assert len(found) == 1
    assert admitted in found[0]


def test_egress_and_rules_on_other_groups_do_not_count() -> None:
    egress = res(SG_RULE, {"type": "egress", "securityGroupId": "sg-task", "cidrBlocks": ["0.0.0.0/0"]}, "out")
    elsewhere = world_ingress(443, "sg-alb", name="alb-https")
    from_alb = res(SG_RULE, {"type": "ingress", "securityGroupId": "sg-task", "sourceSecurityGroupId": "sg-alb"}, "r")
    assert findings("ecs-no-public-ip", public_tasks(egress, elsewhere, from_alb)) == []


def test_inline_rules_count_too() -> None:
    def stack(*ingress: dict[str, Any]) -> list[Resource]:
        inline = res(SECURITY_GROUP, {"id": "sg-task", "description": "tasks", "ingress": list(ingress)}, "task-sg")
        return [r for r in public_tasks() if r.name != "task-sg"] + [inline]

    from_alb = {"securityGroups": ["sg-alb"], "fromPort": 8000, "toPort": 8000, "protocol": "tcp"}
    assert findings("ecs-no-public-ip", stack(from_alb)) == []
    assert findings("ecs-no-public-ip", stack({**from_alb, "self": True}))
    assert findings("ecs-no-public-ip", stack(from_alb, {"cidrBlocks": ["10.0.0.0/8"], "fromPort": 22, "toPort": 22}))
    assert findings("ecs-no-public-ip", stack({"securityGroups": ["sg-alb", "sg-other"]}))


def test_sharing_the_load_balancers_group_is_reported_because_that_group_admits_the_internet() -> None:
    stack = [*public_tasks(world_ingress(443, "sg-alb", name="alb-https")), alb("sg-alb")]
    service = res(
        "aws:ecs/service:Service",
        {"networkConfiguration": {"assignPublicIp": True, "securityGroups": ["sg-alb"]}},
        "service",
    )
    found = messages("ecs-no-public-ip", [service if r.name == "service" else r for r in stack])
    assert found
    assert "cidrIpv4 0.0.0.0/0 (alb-https)" in found[0]


def test_a_group_the_stack_does_not_manage_or_no_group_at_all_cannot_be_vouched_for() -> None:
    def service(groups: list[str]) -> Resource:
        network = {"assignPublicIp": True, "securityGroups": groups}
        return res("aws:ecs/service:Service", {"networkConfiguration": network}, "service")

    [foreign] = messages("ecs-no-public-ip", [alb("sg-alb"), service(["sg-elsewhere"])])
    assert "sg-elsewhere, which this stack does not manage" in foreign
    [default] = messages("ecs-no-public-ip", [alb("sg-alb"), service([])])
    assert "default security group" in default


def test_public_ip_rule_waits_for_the_groups_to_be_known() -> None:
    network = {"assignPublicIp": True, "securityGroups": [UNKNOWN]}
    stack = [*public_tasks(), res("aws:ecs/service:Service", {"networkConfiguration": network}, "service-2")]
    [skipped] = findings("ecs-no-public-ip", stack)
    assert skipped.skipped_in_preview


# --- stack outputs --------------------------------------------------------------------------------------------


def test_secret_outputs_rule_allows_arns_and_catches_credentials_in_urls() -> None:
    fine = res(STACK, {"openai_key_secret_arn": "arn:aws:secretsmanager:x", "token_name": "t"})
    assert findings("no-secret-outputs", fine) == []
    assert findings("no-secret-outputs", res(STACK, {"cache": "rediss://default:hunter2@host:6379/0"}))


def test_secret_outputs_rule_looks_inside_lists_and_objects() -> None:
    nested = res(STACK, {"endpoints": [{"url": "https://x"}, {"url": "rediss://default:hunter2@host:6379/0"}]})
    assert messages("no-secret-outputs", nested) == [
        "stack output endpoints[1].url looks like a secret; export its ARN instead"
    ]
    keys = res(STACK, {"client_api_keys": ["svc-1", "svc-2"]})
    assert len(findings("no-secret-outputs", keys)) == 2


def test_the_allowed_secret_output_passes_while_the_rule_cannot_see_it_is_secret() -> None:
    # The analyzer strips the secret marker: a Pulumi secret and a plaintext value look the same to the rule.
    assert "first_client_api_key" in SECRET_OUTPUTS_ALLOWED
    for value in (secret("svc-abc"), "svc-abc"):
        assert findings("no-secret-outputs", res(STACK, {"first_client_api_key": value})) == []
    assert findings("no-secret-outputs", res(STACK, {"second_client_api_key": secret("svc-abc")}))


def test_secret_outputs_rule_runs_during_preview_on_what_it_can_know() -> None:
    # An unknown output named like a secret is reported by name; other outputs are still checked.
    found = findings("no-secret-outputs", res(STACK, {"redis_auth_token": UNKNOWN, "service_url": UNKNOWN}))
    assert [f.message.partition("\n")[2] for f in found] == [
        "stack output redis_auth_token looks like a secret; export its ARN instead"
    ]
    assert not any(f.skipped_in_preview for f in found)


@pytest.mark.parametrize(
    ("name", "secret_like"),
    [
        ("OPENAI_API_KEY", True),
        ("GITHUB_TOKEN", True),
        ("DB_PASSWORD", True),
        ("clientApiKeys", True),
        ("CLIENT_TOKENS_PER_MINUTE", False),  # model tokens, not a credential
        ("MAX_STREAM_SECONDS", False),
        ("SECRETS_ARN_LIST", True),
    ],
)
def test_environment_names_that_hold_a_secret(name: str, secret_like: bool) -> None:
    case = res(TASK, task(environment=[{"name": name, "value": "plain"}]))
    assert bool(findings("ecs-secrets-not-in-environment", case)) is secret_like


# --- IAM ------------------------------------------------------------------------------------------------------

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TASK_DEFINITIONS = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:*"


def _policy(*statements: dict[str, Any], typ: str = ROLE_POLICY) -> Resource:
    return res(typ, {"policy": policy_doc(*statements)})


@pytest.mark.parametrize("action", ["*", "s3:*", "s3:Get*", "ecs:*Service", "iam:Pass?ole", "S3:*"])
def test_wildcard_actions_are_reported_whole_or_partial(action: str) -> None:
    assert findings("iam-no-wildcard-actions", _policy(allow(action, "arn:aws:s3:::b")))


def test_allow_with_not_action_is_a_wildcard_and_deny_is_not_checked() -> None:
    not_action = {"Sid": "S", "Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"}
    assert findings("iam-no-wildcard-actions", _policy(not_action))
    assert findings("iam-scoped-writes", _policy({**not_action, "Resource": "*"}))
    deny = {"Sid": "S", "Effect": "Deny", "Action": "*", "Resource": "*"}
    assert findings("iam-no-wildcard-actions", _policy(deny)) == []
    assert findings("iam-scoped-writes", _policy(deny)) == []


@pytest.mark.parametrize(
    ("resource", "broad"),
    [
        ("*", True),
        ("arn:aws:s3:::*", True),
        ("arn:aws:s3:::*/*", True),
        ("arn:aws:ecs:us-east-1:123456789012:*", True),
        ("arn:aws:ecs:*:*:*", True),
        (TASK_DEFINITIONS, False),
        ("arn:aws:s3:::our-bucket/*", False),
        ("arn:aws:ecs:us-east-1:123456789012:service/cluster/api", False),
    ],
)
def test_writes_on_every_resource_are_reported_but_scoped_patterns_are_not(resource: str, broad: bool) -> None:
    assert bool(findings("iam-scoped-writes", _policy(allow("ecs:UpdateService", resource)))) is broad


def test_not_resource_counts_as_every_resource() -> None:
    statement = {"Sid": "S", "Effect": "Allow", "Action": "s3:PutObject", "NotResource": "arn:aws:s3:::secret/*"}
    assert findings("iam-scoped-writes", _policy(statement))


@pytest.mark.parametrize(
    ("actions", "reported"),
    [
        (["ecr:GetAuthorizationToken", "ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"], False),
        (["ECR:getauthorizationtoken"], False),  # IAM matches actions case-blind
        (["ec2:DescribeAvailabilityZones", "s3:Get*", "ecs:List*"], False),
        (["ecs:TagResource"], True),  # takes the ARN of what it tags: scope it
        (["ecr:PutImage"], True),
        (["S3:PUTOBJECT"], True),
        (["ecs:*Service"], True),
    ],
)
def test_only_reads_and_unscopable_actions_may_use_every_resource(actions: list[str], reported: bool) -> None:
    assert bool(findings("iam-scoped-writes", _policy(allow(actions, "*")))) is reported


def test_scoped_tagging_of_our_task_definitions_passes() -> None:
    statement = allow(["ecs:TagResource", "ecs:DeregisterTaskDefinition"], TASK_DEFINITIONS)
    assert findings("iam-scoped-writes", _policy(statement)) == []
    assert findings("iam-no-wildcard-actions", _policy(statement)) == []


@pytest.mark.parametrize("typ", ["aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"])
def test_policy_resources_are_checked(typ: str) -> None:
    assert findings("iam-no-wildcard-actions", _policy(allow("*", "*"), typ=typ))
    assert findings("iam-scoped-writes", _policy(allow("*", "*"), typ=typ))


def test_inline_role_policies_are_checked_and_the_trust_policy_is_not() -> None:
    role = res(
        "aws:iam/role:Role",
        {
            **oidc_role(EXACT_GITHUB_SUBJECT),
            "inlinePolicies": [
                {"name": "ok", "policy": policy_doc(allow("s3:GetObject", "arn:aws:s3:::b/*"))},
                {"name": "bad", "policy": policy_doc(allow("s3:*", "*"))},
            ],
        },
    )
    assert len(findings("iam-no-wildcard-actions", role)) == 1
    assert len(findings("iam-scoped-writes", role)) == 1
    assert findings("iam-scoped-writes", res("aws:iam/role:Role", oidc_role(EXACT_GITHUB_SUBJECT))) == []


def test_single_statement_and_single_action_forms_are_read() -> None:
    document = '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}}'
    assert findings("iam-no-wildcard-actions", res(ROLE_POLICY, {"policy": document}))


def test_github_trust_with_exact_subject_passes() -> None:
    assert findings("github-oidc-trust-bound", res("aws:iam/role:Role", oidc_role(EXACT_GITHUB_SUBJECT))) == []


_WORKFLOW_REF = "token.actions.githubusercontent.com:job_workflow_ref"


@pytest.mark.parametrize(
    "workflow_ref",
    [
        None,  # any workflow that reaches the environment
        "acme/api/.github/workflows/*@refs/heads/main",
        "acme/api/.github/workflows/deploy.yml@*",
        "acme/api/.github/workflows/deploy.yml@refs/pull/1/merge",
        "evil/api/.github/workflows/deploy.yml@refs/heads/main",  # another repository's reusable workflow
    ],
)
def test_github_trust_must_pin_the_workflow_of_the_subjects_repository(workflow_ref: str | None) -> None:
    exact = {k: v for k, v in EXACT_GITHUB_SUBJECT["StringEquals"].items() if k != _WORKFLOW_REF}
    if workflow_ref is not None:
        exact[_WORKFLOW_REF] = workflow_ref
    found = messages("github-oidc-trust-bound", res("aws:iam/role:Role", oidc_role({"StringEquals": exact})))
    assert [m for m in found if "job_workflow_ref" in m]


# --- preview: unknown values --------------------------------------------------------------------------------


def test_a_key_that_is_set_but_not_known_yet_counts_as_set() -> None:
    """Encryption keys are other resources' ARNs: unknown in a first preview, yet certainly set."""
    for rule, case in [
        ("secrets-cmk", res("aws:secretsmanager/secret:Secret", {"kmsKeyId": UNKNOWN})),
        ("log-group-cmk", res("aws:cloudwatch/logGroup:LogGroup", {"kmsKeyId": UNKNOWN})),
        ("sns-encrypted", res("aws:sns/topic:Topic", {"kmsMasterKeyId": UNKNOWN})),
        (
            "ecr-cmk",
            res(
                "aws:ecr/repository:Repository",
                {"encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": UNKNOWN}]},
            ),
        ),
        (
            "alb-access-logs",
            res("aws:lb/loadBalancer:LoadBalancer", {"accessLogs": {"enabled": True, "bucket": UNKNOWN}}),
        ),
        (
            "elasticache-auth-token",
            res(
                "aws:elasticache/replicationGroup:ReplicationGroup",
                {"transitEncryptionEnabled": True, "authToken": secret(UNKNOWN)},
            ),
        ),
    ]:
        assert findings(rule, case) == [], rule


def test_a_rule_that_needs_an_unknown_value_is_skipped_as_advisory_not_passed() -> None:
    found = findings("ecs-read-only-root", res(TASK, {"containerDefinitions": UNKNOWN}))
    assert [(f.level, f.skipped_in_preview) for f in found] == [("advisory", True)]
    assert "containerDefinitions can't be known during preview" in found[0].message
