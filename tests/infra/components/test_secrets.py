"""Secrets: the KMS key, what Secrets Manager holds, how the task gets it, the first client key."""

from __future__ import annotations

import json

from infra.components.secrets import FIRST_CLIENT_ID
from infra.outputs import FIRST_CLIENT_API_KEY
from infra.project import PROJECT
from service.contract import Env
from service.settings import CLIENT_KEY_PREFIX, hash_client_key, settings_from_environment
from tests.infra.conftest import FAKE_OPENAI_KEY, Programs, Run
from tests.infra.recorded import MOCK_TOKEN, secret_value

STATEFUL = ("aws:kms/key:Key", "aws:secretsmanager/secret:Secret")


def test_kms_key_rotates_and_encrypts_secrets_cache_logs_images_and_topic(run: Run) -> None:
    key = run.one("aws:kms/key:Key")
    assert key["inputs"]["enableKeyRotation"] is True
    key_arn = key["state"]["arn"]
    for secret in run.of("aws:secretsmanager/secret:Secret"):
        assert secret["inputs"]["kmsKeyId"] == key_arn
    assert run.inputs("aws:elasticache/replicationGroup:ReplicationGroup")["kmsKeyId"] == key_arn
    assert run.inputs("aws:cloudwatch/logGroup:LogGroup")["kmsKeyId"] == key_arn
    assert run.inputs("aws:sns/topic:Topic")["kmsMasterKeyId"] == key_arn
    assert run.inputs("aws:ecr/repository:Repository")["encryptionConfigurations"][0]["kmsKey"] == key_arn


def test_secret_values_are_marked_secret_in_state(run: Run) -> None:
    versions = {
        v["name"]: v["inputs"]["secretString"] for v in run.of("aws:secretsmanager/secretVersion:SecretVersion")
    }
    assert secret_value(versions["secrets-redis-auth-token-value"]).startswith(MOCK_TOKEN)
    json.loads(secret_value(versions["secrets-client-api-keys-value"]))
    if "secrets-openai-api-key-value" in versions:
        assert secret_value(versions["secrets-openai-api-key-value"]) == FAKE_OPENAI_KEY


def test_secrets_are_injected_by_arn_and_never_as_plain_environment(run: Run) -> None:
    container = run.container()
    secret_arns = {s["name"]: s["state"]["arn"] for s in run.of("aws:secretsmanager/secret:Secret")}
    injected = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert set(injected) == {Env.CLIENT_API_KEYS, Env.REDIS_AUTH_TOKEN}
    assert injected[Env.CLIENT_API_KEYS] == secret_arns["secrets-client-api-keys"]
    assert injected[Env.REDIS_AUTH_TOKEN] == secret_arns["secrets-redis-auth-token"]
    env = run.environment()
    assert Env.OPENAI_API_KEY not in env
    assert Env.REDIS_AUTH_TOKEN not in env
    assert env[Env.OPENAI_API_KEY_SECRET_ARN].startswith("arn:aws:secretsmanager:")


def test_existing_openai_secret_is_used_instead_of_creating_one(programs: Programs) -> None:
    run = programs["staging-reuse"]
    arn = run.config[f"{PROJECT}:openaiApiKeySecretArn"]
    assert run.environment()[Env.OPENAI_API_KEY_SECRET_ARN] == arn
    assert "secrets-openai-api-key" not in {s["name"] for s in run.of("aws:secretsmanager/secret:Secret")}


def test_client_keys_edited_outside_pulumi_are_not_reset(run: Run) -> None:
    version = next(
        v
        for v in run.of("aws:secretsmanager/secretVersion:SecretVersion")
        if v["name"] == "secrets-client-api-keys-value"
    )
    assert version["ignoreChanges"] == ["secretString"]


def test_the_stack_starts_with_one_client_key_stored_hashed_and_given_out_as_a_secret_output(run: Run) -> None:
    output = run.outputs[FIRST_CLIENT_API_KEY]
    assert output["secret"] is True
    key = output["value"]
    assert key.startswith(CLIENT_KEY_PREFIX)
    assert len(key) >= len(CLIENT_KEY_PREFIX) + 40
    version = next(
        v
        for v in run.of("aws:secretsmanager/secretVersion:SecretVersion")
        if v["name"] == "secrets-client-api-keys-value"
    )
    stored = json.loads(secret_value(version["inputs"]["secretString"]))
    assert stored == {hash_client_key(key): FIRST_CLIENT_ID}
    assert key not in json.dumps(version["inputs"])
    # What the ECS agent injects is what the service needs to start outside local mode.
    settings = settings_from_environment({**run.environment(), Env.CLIENT_API_KEYS: json.dumps(stored)})
    assert settings.client_api_keys == {hash_client_key(key): FIRST_CLIENT_ID}


def test_prod_protects_its_key_and_secrets_and_staging_does_not(staging: Run, prod: Run) -> None:
    for typ in STATEFUL:
        assert [r["protect"] for r in prod.of(typ)] == [True] * len(prod.of(typ)), typ
        assert not any(r["protect"] for r in staging.of(typ)), typ
