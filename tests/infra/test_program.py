"""The program as a whole, as recorded under mocks: provider, outputs, stack differences, the drift test."""

from __future__ import annotations

import json

import pytest

from infra.outputs import CLIENT_API_KEYS_SECRET_ARN, FIRST_CLIENT_API_KEY, SECRET_OUTPUTS
from infra.project import PROJECT
from service.contract import (
    CONTAINER_PORT,
    Env,
)
from service.settings import Settings, env_name
from tests.infra.conftest import FAKE_OPENAI_KEY, Run
from tests.infra.recorded import MOCK_TOKEN, secret_value


def test_every_aws_resource_uses_the_tagged_us_provider(run: Run) -> None:
    provider = run.one("pulumi:providers:aws")
    assert provider["inputs"]["region"] == "us-east-1"
    tags = provider["inputs"]["defaultTags"]
    tags = json.loads(tags) if isinstance(tags, str) else tags
    assert tags["tags"] == {"project": f"{PROJECT}", "environment": run.stack, "managed-by": "pulumi"}
    ours = f"{provider['id']}"
    custom = [r for r in run.resources if r["custom"] and r["type"].startswith("aws:")]
    assert custom
    # A provider reference is "<provider urn>::<provider id>"; the urn ends in "pulumi:providers:aws::aws".
    strays = [r["name"] for r in custom if not (r["provider"] or "").endswith(f"pulumi:providers:aws::aws::{ours}")]
    assert strays == [], "resources on the default (untagged) provider"


def test_invokes_go_through_mocks_not_aws(run: Run) -> None:
    assert "aws:index/getAvailabilityZones:getAvailabilityZones" in run.invokes


def test_outputs_are_the_documented_ones_and_only_the_first_client_key_is_secret(run: Run) -> None:
    assert set(run.outputs) == {
        "service_url",
        "ecr_repository_url",
        "cluster_name",
        "service_name",
        "log_group_name",
        "dashboard_url",
        "deploy_role_arn",
        FIRST_CLIENT_API_KEY,
        CLIENT_API_KEYS_SECRET_ARN,
    }
    assert {name for name, o in run.outputs.items() if o["secret"]} == SECRET_OUTPUTS
    dumped = json.dumps(run.outputs)
    assert FAKE_OPENAI_KEY not in dumped
    assert MOCK_TOKEN not in dumped


def test_secret_values_reach_only_secret_stores(run: Run) -> None:
    allowed = {
        "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:elasticache/replicationGroup:ReplicationGroup",  # authToken, stored by Pulumi as a secret
    }
    for r in run.resources:
        dumped = json.dumps(r["inputs"])
        if FAKE_OPENAI_KEY in dumped or MOCK_TOKEN in dumped:
            assert r["type"] in allowed, f"{r['type']} {r['name']} carries a secret value"


def test_every_resource_is_parented_to_a_component_or_the_stack(run: Run) -> None:
    components = {r["type"] for r in run.resources if not r["custom"]}
    assert components >= {f"{PROJECT}:index:Network", f"{PROJECT}:index:ApiService"}
    stray = [r["name"] for r in run.resources if r["custom"] and r["type"] != "pulumi:providers:aws"
             and f"{PROJECT}:index:" not in r["parent"]]  # fmt: skip
    assert stray == []


def test_staging_is_small_and_prod_is_redundant(staging: Run, prod: Run) -> None:
    def zones(run: Run) -> int:
        return len({s["inputs"]["availabilityZone"] for s in run.of("aws:ec2/subnet:Subnet")})

    assert (zones(staging), zones(prod)) == (2, 3)
    assert (len(staging.of("aws:ec2/natGateway:NatGateway")), len(prod.of("aws:ec2/natGateway:NatGateway"))) == (
        0,
        3,
    )
    s_cache = staging.inputs("aws:elasticache/replicationGroup:ReplicationGroup")
    p_cache = prod.inputs("aws:elasticache/replicationGroup:ReplicationGroup")
    assert (s_cache["numCacheClusters"], s_cache["automaticFailoverEnabled"], s_cache["multiAzEnabled"]) == (
        1,
        False,
        False,
    )
    assert (p_cache["numCacheClusters"], p_cache["automaticFailoverEnabled"], p_cache["multiAzEnabled"]) == (
        2,
        True,
        True,
    )
    assert s_cache["snapshotRetentionLimit"] == 0
    assert p_cache["snapshotRetentionLimit"] > 0
    assert staging.inputs("aws:lb/loadBalancer:LoadBalancer")["enableDeletionProtection"] is False
    assert prod.inputs("aws:lb/loadBalancer:LoadBalancer")["enableDeletionProtection"] is True
    s_task = staging.inputs("aws:ecs/taskDefinition:TaskDefinition")
    p_task = prod.inputs("aws:ecs/taskDefinition:TaskDefinition")
    assert (s_task["cpu"], s_task["memory"]) != (p_task["cpu"], p_task["memory"])


def test_the_service_accepts_the_environment_each_stack_gives_it(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """The two halves agree end to end: the service's own Settings parse what the task definition sets."""
    for name in {v for k, v in vars(Env).items() if not k.startswith("_")}:
        monkeypatch.delenv(name, raising=False)
    for name, value in run.environment().items():
        monkeypatch.setenv(name, value)
    injected = {s["name"] for s in run.container()["secrets"]}
    assert injected == {Env.CLIENT_API_KEYS, Env.REDIS_AUTH_TOKEN}
    # What the ECS agent injects from Secrets Manager: the first client key's entry, the AUTH token.
    versions = {v["name"]: v["inputs"] for v in run.of("aws:secretsmanager/secretVersion:SecretVersion")}
    monkeypatch.setenv(Env.CLIENT_API_KEYS, secret_value(versions["secrets-client-api-keys-value"]["secretString"]))
    monkeypatch.setenv(Env.REDIS_AUTH_TOKEN, secret_value(versions["secrets-redis-auth-token-value"]["secretString"]))

    settings = Settings()

    assert settings.environment == run.stack
    assert settings.port == CONTAINER_PORT
    assert settings.openai_api_key_secret_arn == run.environment()[Env.OPENAI_API_KEY_SECRET_ARN]
    assert settings.openai_api_key is None
    assert settings.redis_url is not None
    assert settings.redis_url.startswith("rediss://")
    assert settings.max_stream_seconds == int(run.environment()[Env.MAX_STREAM_SECONDS])
    assert settings.sse_heartbeat_seconds == float(run.environment()[Env.SSE_HEARTBEAT_SECONDS])
    # Every per-stack setting arrives with the value the stack file gives it.
    chosen = json.loads(run.config[f"{PROJECT}:serviceSettings"])
    fields = {env_name(field): field for field in Settings.model_fields}
    assert chosen
    for name, value in chosen.items():
        assert getattr(settings, fields[name]) == value, name
