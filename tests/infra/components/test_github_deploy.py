"""The GitHub Actions deploy role: trust, rights, the OIDC provider."""

from __future__ import annotations

import pytest

from tests.infra.conftest import ACCOUNTS, Programs, Run
from tests.infra.recorded import role_policy, statements
from tests.infra.run_program import OIDC_URL


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
        }
    }
    assert run.outputs["deploy_role_arn"]["value"] == role["state"]["arn"]
    granted = {s["Sid"]: s for s in role_policy(run, "github-role")}
    repo_arn = run.one("aws:ecr/repository:Repository")["state"]["arn"]
    assert granted["PushToOurRepository"]["Resource"] == repo_arn
    assert granted["RollOutOurService"]["Resource"].endswith(f":service/openai-aws-template-{run.stack}/api")
    family = run.inputs("aws:ecs/taskDefinition:TaskDefinition")["family"]
    tagging = granted["TagAndRetireOurTaskDefinitions"]
    assert "ecs:TagResource" in tagging["Action"]
    assert tagging["Resource"].endswith(f":task-definition/{family}:*")
    wildcard = [a for s in granted.values() if s["Resource"] == "*" for a in s["Action"]]
    assert "ecs:TagResource" not in wildcard
    assert granted["PassOurTaskRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }


def test_the_accounts_oidc_provider_is_reused_and_one_is_created_only_where_there_is_none(programs: Programs) -> None:
    created = programs["prod-full"].one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    # Another stack or fork may trust it by the time this one is destroyed: Pulumi forgets it, never deletes it.
    assert created["retainOnDelete"] is True
    assert created["protect"] is False  # protect would block the next `up`, which finds it and lets it go
    reuse = programs["staging-reuse"]
    assert OIDC_URL in ACCOUNTS["staging-reuse"]["oidcProviders"]
    assert "openai-aws-template:githubOidcProviderArn" not in reuse.config
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
