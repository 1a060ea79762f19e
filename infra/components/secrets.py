"""The stack's KMS key and the three secrets the service needs: OpenAI key, client keys, cache token."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random


@dataclass
class SecretsArgs:
    """Inputs of `Secrets`. Exactly one of `openai_api_key` / `openai_api_key_secret_arn` is set."""

    openai_api_key: pulumi.Input[str] | None
    """The OpenAI key itself (a secret config value); stored in a new Secrets Manager secret."""
    openai_api_key_secret_arn: str | None
    """Or: an existing secret that already holds the key (encrypted with a key the account controls)."""


class Secrets(pulumi.ComponentResource):
    """KMS key (rotated yearly) and Secrets Manager secrets encrypted with it. Exposes ARNs only."""

    key_arn: pulumi.Output[str]
    openai_api_key_secret_arn: pulumi.Output[str]
    client_api_keys_secret_arn: pulumi.Output[str]
    redis_auth_token_secret_arn: pulumi.Output[str]
    redis_auth_token: pulumi.Output[str]
    """The cache AUTH token, marked secret; only the cache resource consumes it."""
    secret_arns: list[pulumi.Output[str]]

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openai-aws-template:index:Secrets", name, None, opts)
        if (args.openai_api_key is None) == (args.openai_api_key_secret_arn is None):
            raise ValueError("set exactly one of openai_api_key and openai_api_key_secret_arn")
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region

        key = aws.kms.Key(
            f"{name}-key",
            description="Encrypts this stack's secrets, cache, logs, image repository and alarm topic",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account, region).apply(lambda ar: _key_policy(ar[0], ar[1])),
            opts=child,
        )
        aws.kms.Alias(f"{name}-key-alias", name_prefix="alias/openai-aws-template-", target_key_id=key.id, opts=child)

        if args.openai_api_key_secret_arn is not None:
            openai_arn: pulumi.Output[str] = pulumi.Output.from_input(args.openai_api_key_secret_arn)
        else:
            openai = aws.secretsmanager.Secret(
                f"{name}-openai-api-key",
                description="OpenAI API key; the service reads it itself so a rotation needs no redeploy",
                kms_key_id=key.arn,
                opts=child,
            )
            aws.secretsmanager.SecretVersion(
                f"{name}-openai-api-key-value",
                secret_id=openai.id,
                secret_string=pulumi.Output.secret(args.openai_api_key),
                opts=child,
            )
            openai_arn = openai.arn

        clients = aws.secretsmanager.Secret(
            f"{name}-client-api-keys",
            description='Client keys: {"<sha256 hex of key>": "<client id>"}; edit with put-secret-value',
            kms_key_id=key.arn,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-client-api-keys-value",
            secret_id=clients.id,
            # Starts empty (every request refused); operators add clients outside Pulumi, so a
            # later `pulumi up` must not put the empty map back.
            secret_string=pulumi.Output.secret("{}"),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secretString"]),
        )

        token = random.RandomPassword(
            f"{name}-redis-auth-token",
            length=64,
            # ElastiCache AUTH tokens refuse some punctuation (@, ", /); letters and digits are enough.
            special=False,
            opts=child,
        )
        redis = aws.secretsmanager.Secret(
            f"{name}-redis-auth-token", description="ElastiCache AUTH token", kms_key_id=key.arn, opts=child
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-redis-auth-token-value", secret_id=redis.id, secret_string=token.result, opts=child
        )

        self.key_arn = key.arn
        self.openai_api_key_secret_arn = openai_arn
        self.client_api_keys_secret_arn = clients.arn
        self.redis_auth_token_secret_arn = redis.arn
        self.redis_auth_token = pulumi.Output.secret(token.result)
        self.secret_arns = [openai_arn, clients.arn, redis.arn]
        self.register_outputs(
            {
                "key_arn": self.key_arn,
                "openai_api_key_secret_arn": self.openai_api_key_secret_arn,
                "client_api_keys_secret_arn": self.client_api_keys_secret_arn,
                "redis_auth_token_secret_arn": self.redis_auth_token_secret_arn,
            }
        )


def _key_policy(account: str, region: str) -> str:
    """Account administrators manage the key; AWS services that write encrypted data for us may use it."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    # Without this statement IAM policies cannot grant use of the key at all.
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsEncryptsOurLogGroups",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account}:log-group:*"
                        }
                    },
                },
                {
                    # Alarms and budget notifications publish to the encrypted SNS topic.
                    "Sid": "AlarmsAndBudgetsPublishToEncryptedTopic",
                    "Effect": "Allow",
                    "Principal": {"Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                },
            ],
        }
    )
