"""The GitHub Actions deploy role: trust, rights, the OIDC provider, the state backend."""

from __future__ import annotations

import pytest

from infra.components.github_deploy import DEPLOY_REF, DEPLOY_WORKFLOW
from infra.config import ConfigError, parse
from infra.mocks import OIDC_URL
from infra.project import PROJECT
from tests.infra.conftest import ACCOUNTS, STATE_KEY, Programs, Run
from tests.infra.recorded import role_policy, statements


@pytest.mark.parametrize("variant", ["prod-full", "staging-reuse"])
def test_deploy_role_trust_is_bound_to_the_repository_environment(programs: Programs, variant: str) -> None:
    run = programs[variant]
    role = next(r for r in run.of("aws:iam/role:Role") if r["name"] == "github-role")
    (trust,) = statements(role["inputs"]["assumeRolePolicy"])
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:acme/openai-api:environment:{run.stack}",
            # Only the deploy workflow's job, from main: no other workflow that reaches the environment.
            "token.actions.githubusercontent.com:job_workflow_ref": (
                "acme/openai-api/.github/workflows/deploy-stack.yml@refs/heads/main"
            ),
        }
    }
    assert run.outputs["deploy_role_arn"]["value"] == role["state"]["arn"]
    granted = {s["Sid"]: s for s in role_policy(run, "github-role")}
    repo_arn = run.one("aws:ecr/repository:Repository")["state"]["arn"]
    assert granted["PushToOurRepository"]["Resource"] == repo_arn
    assert granted["RollOutOurService"]["Resource"].endswith(f":service/{PROJECT}-{run.stack}/api")
    family = run.inputs("aws:ecs/taskDefinition:TaskDefinition")["family"]
    tagging = granted["TagAndRetireOurTaskDefinitions"]
    assert "ecs:TagResource" in tagging["Action"]
    assert tagging["Resource"].endswith(f":task-definition/{family}:*")
    wildcard = [a for s in granted.values() if s["Resource"] == "*" for a in s["Action"]]
    assert "ecs:TagResource" not in wildcard
    assert granted["PassOurTaskRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }


def test_the_trusted_workflow_is_the_one_that_assumes_the_role() -> None:
    # tests/github checks that this file is the only one that assumes the deploy role.
    assert DEPLOY_WORKFLOW == ".github/workflows/deploy-stack.yml"
    assert DEPLOY_REF == "refs/heads/main"


def test_deploy_role_may_read_the_scan_findings_of_its_repository_only(programs: Programs) -> None:
    run = programs["prod-full"]
    granted = {s["Sid"]: s for s in role_policy(run, "github-role")}
    assert granted["ReadOurScanFindings"] == {
        "Sid": "ReadOurScanFindings",
        "Effect": "Allow",
        "Action": ["ecr:DescribeImageScanFindings"],
        "Resource": run.one("aws:ecr/repository:Repository")["state"]["arn"],
    }


def test_a_configured_state_backend_is_granted_to_the_deploy_role(programs: Programs) -> None:
    granted = {s["Sid"]: s for s in role_policy(programs["prod-full"], "github-role")}
    assert granted["ListStateBucket"]["Action"] == ["s3:ListBucket"]
    assert granted["ListStateBucket"]["Resource"] == "arn:aws:s3:::acme-pulumi-state"
    assert granted["ReadWriteState"]["Action"] == ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    assert granted["ReadWriteState"]["Resource"] == "arn:aws:s3:::acme-pulumi-state/*"
    assert granted["UseStateKey"]["Action"] == ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
    assert granted["UseStateKey"]["Resource"] == STATE_KEY


def test_no_state_backend_rights_unless_configured(programs: Programs) -> None:
    granted = {s["Sid"] for s in role_policy(programs["staging-reuse"], "github-role")}
    assert not {"ListStateBucket", "ReadWriteState", "UseStateKey"} & granted


def test_the_accounts_oidc_provider_is_reused_and_one_is_created_only_where_there_is_none(programs: Programs) -> None:
    created = programs["prod-full"].one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    # Another stack or fork may trust it by the time this one is destroyed: Pulumi forgets it, never deletes it.
    assert created["retainOnDelete"] is True
    assert created["protect"] is False  # protect would block the next `up`, which finds it and lets it go
    reuse = programs["staging-reuse"]
    assert OIDC_URL in ACCOUNTS["staging-reuse"]["oidcProviders"]
    assert f"{PROJECT}:githubOidcProviderArn" not in reuse.config
    assert reuse.of("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    role = next(r for r in reuse.of("aws:iam/role:Role") if r["name"] == "github-role")
    (trust,) = statements(role["inputs"]["assumeRolePolicy"])
    assert trust["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")


def test_no_deploy_role_without_a_repository(staging: Run) -> None:
    assert staging.outputs["deploy_role_arn"]["value"] is None
    assert all(r["name"] != "github-role" for r in staging.of("aws:iam/role:Role"))


# What each data source the program reads needs from IAM (None: no permission needed).
_INVOKE_PERMISSIONS: dict[str, str | None] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": "ec2:DescribeAvailabilityZones",
    "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider": "iam:GetOpenIDConnectProvider",
    "aws:index/getCallerIdentity:getCallerIdentity": None,
    "aws:index/getRegion:getRegion": None,
    "aws:index/getPartition:getPartition": None,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": "ecr:GetAuthorizationToken",
}


@pytest.mark.parametrize("variant", ["prod-full", "staging-reuse"])
def test_deploy_role_can_read_every_data_source_the_program_reads(programs: Programs, variant: str) -> None:
    run = programs[variant]
    granted = {action for s in role_policy(run, "github-role") for action in s["Action"]}
    for token in set(run.invokes):
        assert token in _INVOKE_PERMISSIONS, f"new data source {token}: add its IAM action to the deploy role"
        needed = _INVOKE_PERMISSIONS[token]
        assert needed is None or needed in granted, f"the deploy role cannot call {needed} ({token})"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stateBucket", "s3://acme-pulumi-state"),  # the bucket, not the backend URL
        ("stateKmsKeyArn", "alias/pulumi-state"),  # IAM needs the key's ARN, not an alias
        ("stateKmsKeyArn", "arn:aws:kms:us-east-1:123456789012:alias/pulumi-state"),
    ],
)
def test_state_backend_keys_refuse_what_iam_cannot_use(key: str, value: str) -> None:
    values = {"aws:region": "us-east-1", "openaiApiKey": "sk-test", "allowPlainHttp": "true", key: value}
    with pytest.raises(ConfigError, match=f"{PROJECT}:{key}"):
        parse(values.get, "staging")
