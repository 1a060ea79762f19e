"""GitHub Actions deploy role: OIDC trust bound to one environment and one workflow, rights for image deploys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.project import component_type

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The reusable workflow whose job assumes the role, on the branch Deploy runs on. A job's
# `job_workflow_ref` claim names the workflow file the job is defined in (`deploy-stack.yml`, which
# `deploy.yml` calls), so no other workflow of the repository can assume the role, even in the environment.
DEPLOY_WORKFLOW = ".github/workflows/deploy-stack.yml"
DEPLOY_REF = "refs/heads/main"


@dataclass
class GithubDeployArgs:
    """Inputs of `GithubDeploy`."""

    repository: str
    """`owner/repo`; only workflows of this repository may assume the role."""
    environment: str
    """GitHub environment the workflow job must run in (the stack name)."""
    oidc_provider_arn: str | None
    """The account's existing GitHub OIDC provider (one per account); None creates it."""
    region: str
    repository_arn: pulumi.Input[str]
    cluster_name: str
    service_name: str
    task_family: str
    pass_role_arns: list[pulumi.Output[str]]
    """The task's execution and task roles, which a new task definition revision names."""
    state_bucket: str | None = None
    """S3 bucket of a self-managed Pulumi backend; None: the state is elsewhere (Pulumi Cloud)."""
    state_kms_key_arn: str | None = None
    """KMS key of the `awskms://` secrets provider (and of the state bucket, if it encrypts with it)."""


class GithubDeploy(pulumi.ComponentResource):
    """IAM role that `deploy-stack.yml` on `main`, in the stack's environment, assumes to push and roll out an image."""

    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: GithubDeployArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(component_type("GithubDeploy"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        provider_arn = self._oidc_provider(name, args.oidc_provider_arn)
        subject = f"repo:{args.repository}:environment:{args.environment}"
        workflow = f"{args.repository}/{DEPLOY_WORKFLOW}@{DEPLOY_REF}"
        role = aws.iam.Role(
            f"{name}-role",
            description=f"GitHub Actions deploys of {args.repository} to the {args.environment} stack",
            max_session_duration=3600,
            assume_role_policy=provider_arn.apply(lambda arn: _trust(arn, subject, workflow)),
            opts=child,
        )
        task_definitions = pulumi.Output.concat(
            "arn:aws:ecs:", args.region, ":", account, ":task-definition/", args.task_family, ":*"
        )
        service = pulumi.Output.concat(
            "arn:aws:ecs:", args.region, ":", account, ":service/", args.cluster_name, "/", args.service_name
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        _allow("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),
                        # `pulumi up` evaluates the whole program, so its data sources must be readable
                        # (zones, the OIDC provider lookup; caller identity needs no permission).
                        _allow(
                            "ReadProgramDataSources",
                            [
                                "ec2:DescribeAvailabilityZones",
                                "iam:ListOpenIDConnectProviders",
                                "iam:GetOpenIDConnectProvider",
                            ],
                            "*",
                        ),
                        _allow(
                            "PushToOurRepository",
                            [
                                "ecr:BatchCheckLayerAvailability",
                                "ecr:InitiateLayerUpload",
                                "ecr:UploadLayerPart",
                                "ecr:CompleteLayerUpload",
                                "ecr:PutImage",
                                "ecr:BatchGetImage",
                                "ecr:DescribeImages",
                            ],
                            args.repository_arn,
                        ),
                        # Prod's deploy stops on critical findings of ECR's scan on push.
                        _allow("ReadOurScanFindings", ["ecr:DescribeImageScanFindings"], args.repository_arn),
                        # These take no narrower resource than "*" in IAM.
                        _allow(
                            "RegisterTaskDefinitions",
                            ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"],
                            "*",
                        ),
                        # The default tags are applied to each new revision of our family, and only to it.
                        _allow(
                            "TagAndRetireOurTaskDefinitions",
                            ["ecs:TagResource", "ecs:ListTagsForResource", "ecs:DeregisterTaskDefinition"],
                            task_definitions,
                        ),
                        _allow("RollOutOurService", ["ecs:UpdateService", "ecs:DescribeServices"], service),
                        {
                            **_allow("PassOurTaskRoles", ["iam:PassRole"], args.pass_role_arns),
                            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                        },
                        *_state_backend(args.state_bucket, args.state_kms_key_arn),
                    ],
                }
            ),
            opts=child,
        )

        self.role_arn = role.arn
        self.register_outputs({"role_arn": self.role_arn})

    def _oidc_provider(self, name: str, configured_arn: str | None) -> pulumi.Output[str]:
        """The account's GitHub OIDC provider: the configured one, the one the account has, or a new one.

        An account holds one provider per URL, so a second stack (or a second fork) in the same account
        must reuse it rather than fail creating its own. A stack that creates it keeps it out of harm's
        way with `retain_on_delete`: on its next `up` the lookup finds it and the resource leaves the
        stack's state without being deleted, so no stack's `destroy` removes what others trust.
        """
        if configured_arn is not None:
            return pulumi.Output.from_input(configured_arn)
        try:
            found = aws.iam.get_open_id_connect_provider(
                url=f"https://{GITHUB_OIDC_HOST}", opts=pulumi.InvokeOptions(parent=self)
            )
        except Exception as exc:  # the data source fails when the account has no such provider
            pulumi.log.info(f"No GitHub OIDC provider found in the account ({exc}); creating it.", resource=self)
        else:
            if found.arn:
                return pulumi.Output.from_input(found.arn)
        return aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=f"https://{GITHUB_OIDC_HOST}",
            client_id_lists=["sts.amazonaws.com"],
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        ).arn


def _allow(sid: str, actions: list[str], resource: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


def _state_backend(bucket: str | None, key_arn: str | None) -> list[dict[str, Any]]:
    """What `pulumi up` needs of a self-managed backend: the state objects and the secrets provider's key."""
    statements: list[dict[str, Any]] = []
    if bucket is not None:
        statements += [
            _allow("ListStateBucket", ["s3:ListBucket"], f"arn:aws:s3:::{bucket}"),
            _allow("ReadWriteState", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], f"arn:aws:s3:::{bucket}/*"),
        ]
    if key_arn is not None:
        statements.append(_allow("UseStateKey", ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], key_arn))
    return statements


def _trust(provider_arn: str, subject: str, workflow: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        # Exact match on every claim: no wildcard lets another repository, environment,
                        # workflow or branch in. `sub` has GitHub's default form; an organisation with a
                        # customised subject template opts the repository out of it (docs/ci.md).
                        "StringEquals": {
                            f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                            f"{GITHUB_OIDC_HOST}:sub": subject,
                            f"{GITHUB_OIDC_HOST}:job_workflow_ref": workflow,
                        }
                    },
                }
            ],
        }
    )
