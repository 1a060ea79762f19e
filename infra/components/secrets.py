"""The stack's KMS key and the three secrets the service needs: OpenAI key, client keys, cache token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.project import PROJECT, component_type
from service.settings import CLIENT_KEY_PREFIX, hash_client_key

# The client id the first key is stored under in the client-keys secret.
FIRST_CLIENT_ID = "first-client"


@dataclass
class SecretsArgs:
    """Inputs of `Secrets`. Exactly one of `openai_api_key` / `openai_api_key_secret_arn` is set."""

    openai_api_key: pulumi.Input[str] | None
    """The OpenAI key itself (a secret config value); stored in a new Secrets Manager secret."""
    openai_api_key_secret_arn: str | None
    """Or: an existing secret that already holds the key (encrypted with a key the account controls)."""
    protect: bool = False
    """Pulumi `protect` on the KMS key and the secrets, so no `up` or `destroy` deletes them (prod)."""


class Secrets(pulumi.ComponentResource):
    """KMS key (rotated yearly) and Secrets Manager secrets encrypted with it: the OpenAI key, the client
    keys (starting with one generated key), the cache AUTH token. Exposes ARNs, and the first client key
    as a Pulumi secret."""

    key_arn: pulumi.Output[str]
    openai_api_key_secret_arn: pulumi.Output[str]
    client_api_keys_secret_arn: pulumi.Output[str]
    redis_auth_token_secret_arn: pulumi.Output[str]
    redis_auth_token: pulumi.Output[str]
    """The cache AUTH token, marked secret; only the cache resource consumes it."""
    first_client_api_key: pulumi.Output[str]
    """The plaintext of the client key the stack starts with, marked secret; the secret holds its hash."""

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(component_type("Secrets"), name, None, opts)
        if args.openai_api_key is not None and args.openai_api_key_secret_arn is not None:
            raise ValueError("set exactly one of openai_api_key and openai_api_key_secret_arn")
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)
        self._kept = pulumi.ResourceOptions(parent=self, protect=args.protect)

        key = self._kms_key()
        self.key_arn = key.arn
        self.openai_api_key_secret_arn = self._openai_key(args)
        self.client_api_keys_secret_arn, self.first_client_api_key = self._client_keys()
        self.redis_auth_token_secret_arn, self.redis_auth_token = self._redis_auth_token()
        self.register_outputs(
            {
                "key_arn": self.key_arn,
                "openai_api_key_secret_arn": self.openai_api_key_secret_arn,
                "client_api_keys_secret_arn": self.client_api_keys_secret_arn,
                "redis_auth_token_secret_arn": self.redis_auth_token_secret_arn,
                "first_client_api_key": self.first_client_api_key,
            }
        )

    def _kms_key(self) -> aws.kms.Key:
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region
        key = aws.kms.Key(
            f"{self._name}-key",
            description="Encrypts this stack's secrets, cache, logs, image repository and alarm topic",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account, region).apply(lambda ar: _key_policy(ar[0], ar[1])),
            opts=self._kept,
        )
        aws.kms.Alias(
            f"{self._name}-key-alias", name_prefix=f"alias/{PROJECT}-", target_key_id=key.id, opts=self._child
        )
        self._key = key
        return key

    def _secret(self, slug: str, description: str, value: pulumi.Input[str], **options: Any) -> pulumi.Output[str]:
        secret = aws.secretsmanager.Secret(
            f"{self._name}-{slug}", description=description, kms_key_id=self._key.arn, opts=self._kept
        )
        aws.secretsmanager.SecretVersion(
            f"{self._name}-{slug}-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(value),
            opts=pulumi.ResourceOptions(parent=self, **options),
        )
        return secret.arn

    def _openai_key(self, args: SecretsArgs) -> pulumi.Output[str]:
        if args.openai_api_key_secret_arn is not None:
            return pulumi.Output.from_input(args.openai_api_key_secret_arn)
        if args.openai_api_key is None:
            raise ValueError("set exactly one of openai_api_key and openai_api_key_secret_arn")
        return self._secret(
            "openai-api-key",
            "OpenAI API key; the service reads it itself so a rotation needs no redeploy",
            args.openai_api_key,
        )

    def _client_keys(self) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        # Same shape as `python -m service.keys new`: the prefix, then 43 random URL-safe characters.
        generated = random.RandomPassword(f"{self._name}-first-client-key", length=43, special=False, opts=self._child)
        plaintext: pulumi.Output[str] = pulumi.Output.secret(pulumi.Output.concat(CLIENT_KEY_PREFIX, generated.result))
        arn = self._secret(
            "client-api-keys",
            'Client keys: {"<sha256 hex of key>": "<client id>"}; edit with put-secret-value',
            plaintext.apply(lambda key: json.dumps({hash_client_key(key): FIRST_CLIENT_ID})),
            # Operators add and revoke clients outside Pulumi; a later `up` must not put the first map back.
            ignore_changes=["secretString"],
        )
        return arn, plaintext

    def _redis_auth_token(self) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        token = random.RandomPassword(
            f"{self._name}-redis-auth-token",
            length=64,
            # ElastiCache AUTH tokens refuse some punctuation (@, ", /); letters and digits are enough.
            special=False,
            opts=self._child,
        )
        arn = self._secret("redis-auth-token", "ElastiCache AUTH token", token.result)
        return arn, pulumi.Output.secret(token.result)


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
