"""`python -m scripts.client_keys` against moto's Secrets Manager and ECS: edits merge, never lose an entry,
refuse a malformed secret, and survive a concurrent writer."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from mypy_boto3_secretsmanager import SecretsManagerClient

from scripts import client_keys
from scripts.client_keys import EDIT_STAGE, MAX_ATTEMPTS, ClientKeyStore, KeysError
from service.settings import CLIENT_KEY_PREFIX, hash_client_key
from tests.scripts import fake_tools
from tests.support.moto import MotoServer

FIRST_KEY = "svc-first-client-key-for-tests"
FIRST = {hash_client_key(FIRST_KEY): "first-client"}


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> SecretsManagerClient:
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    return boto3.client("secretsmanager")


@pytest.fixture
def secret(aws: SecretsManagerClient) -> str:
    """A fresh client-keys secret holding the first client's key, as `pulumi up` leaves it."""
    created = aws.create_secret(Name=f"client-keys-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(FIRST))
    return created["ARN"]


def current(aws: SecretsManagerClient, arn: str) -> Any:
    # By its stage: moto's default version does not follow a moved AWSCURRENT label (AWS's does).
    return aws.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")


def stored(aws: SecretsManagerClient, arn: str) -> dict[str, str]:
    value: dict[str, str] = json.loads(current(aws, arn)["SecretString"])
    return value


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = client_keys.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_keeps_every_entry_and_prints_the_new_key_once(
    aws: SecretsManagerClient, secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--secret-arn", secret, "add", "team-a")

    assert code == 0
    [key] = [word for word in out.split() if word.startswith(CLIENT_KEY_PREFIX)]
    assert out.count(key) == 1
    assert stored(aws, secret) == {**FIRST, hash_client_key(key): "team-a"}
    assert key not in json.dumps(stored(aws, secret))


def test_list_shows_clients_and_hash_prefixes(secret: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--secret-arn", secret, "add", "team-a")[0] == 0

    code, out, _ = run(capsys, "--secret-arn", secret, "list")

    assert code == 0
    assert f"first-client  {hash_client_key(FIRST_KEY)[:12]}..." in out
    assert "team-a" in out
    assert "2 keys, 2 clients" in out


def test_revoke_removes_only_that_clients_keys(
    aws: SecretsManagerClient, secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--secret-arn", secret, "add", "team-a")
    run(capsys, "--secret-arn", secret, "add", "team-a")
    run(capsys, "--secret-arn", secret, "add", "team-b")

    code, out, _ = run(capsys, "--secret-arn", secret, "revoke", "team-a")

    assert code == 0
    assert sorted(stored(aws, secret).values()) == ["first-client", "team-b"]
    assert "2 key(s) left" in out


def test_revoke_by_hash_prefix_removes_one_key_of_a_client(
    aws: SecretsManagerClient, secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--secret-arn", secret, "add", "team-a")
    run(capsys, "--secret-arn", secret, "add", "team-a")
    old = next(h for h, c in stored(aws, secret).items() if c == "team-a")

    assert run(capsys, "--secret-arn", secret, "revoke", "team-a", "--hash", old[:12])[0] == 0

    left = stored(aws, secret)
    assert old not in left
    assert list(left.values()).count("team-a") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("revoke", "first-client"), "revoke the last key"),
        (("revoke", "nobody"), "no key of client 'nobody'"),
        (("add", "bad id!"), "client id 'bad id!'"),
    ],
)
def test_refused_edits_change_nothing(
    aws: SecretsManagerClient, secret: str, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    before = current(aws, secret)["VersionId"]

    code, _, err = run(capsys, "--secret-arn", secret, *argv)

    assert code == 1
    assert message in err
    assert current(aws, secret)["VersionId"] == before


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"abc": ', "is not JSON"),
        ('["first-client"]', "holds a JSON list, not a map"),
        (json.dumps({"not-a-hash": "team-a"}), "not a lower-case SHA-256 hex digest"),
        (json.dumps({hash_client_key("k"): ""}), "not a lower-case SHA-256 hex digest"),
    ],
)
def test_a_malformed_secret_is_refused_and_left_as_it_is(
    aws: SecretsManagerClient, secret: str, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    aws.put_secret_value(SecretId=secret, SecretString=value)

    code, _, err = run(capsys, "--secret-arn", secret, "add", "team-a")

    assert code == 1
    assert message in err
    assert current(aws, secret)["SecretString"] == value


class RacingClient:
    """Delegates to the real client, but another writer changes the secret just before each of our writes."""

    def __init__(self, client: SecretsManagerClient, races: int) -> None:
        self._client = client
        self.races = races
        self.competitors: list[str] = []

    def put_secret_value(self, **kwargs: Any) -> Any:
        if self.races > 0 and kwargs.get("VersionStages") == [EDIT_STAGE]:
            self.races -= 1
            keys = json.loads(current(self._client, kwargs["SecretId"])["SecretString"])
            digest = hash_client_key(f"competitor-{len(self.competitors)}")
            self.competitors.append(digest)
            self._client.put_secret_value(
                SecretId=kwargs["SecretId"], SecretString=json.dumps({**keys, digest: "other-operator"})
            )
        return self._client.put_secret_value(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_concurrent_edit_is_merged_not_overwritten(aws: SecretsManagerClient, secret: str) -> None:
    racing = RacingClient(aws, races=2)
    store = ClientKeyStore(racing, secret)  # type: ignore[arg-type]

    store.update(lambda keys: client_keys.add(keys, "team-a", "svc-team-a-key"))

    final = stored(aws, secret)
    assert final == {
        **FIRST,
        **dict.fromkeys(racing.competitors, "other-operator"),
        hash_client_key("svc-team-a-key"): "team-a",
    }
    assert len(racing.competitors) == 2
    stages = aws.describe_secret(SecretId=secret)["VersionIdsToStages"]
    assert not [v for v, s in stages.items() if EDIT_STAGE in s and "AWSCURRENT" in s]


def test_an_edit_that_keeps_losing_the_race_gives_up_without_writing(aws: SecretsManagerClient, secret: str) -> None:
    racing = RacingClient(aws, races=MAX_ATTEMPTS)
    store = ClientKeyStore(racing, secret)  # type: ignore[arg-type]

    with pytest.raises(KeysError, match="changed 5 times"):
        store.update(lambda keys: client_keys.add(keys, "team-a", "svc-team-a-key"))

    assert "team-a" not in stored(aws, secret).values()
    assert len(stored(aws, secret)) == 1 + MAX_ATTEMPTS


@pytest.fixture
def ecs_service(aws: SecretsManagerClient) -> tuple[str, str]:
    ecs = boto3.client("ecs")
    cluster = f"cluster-{uuid.uuid4().hex[:8]}"
    ecs.create_cluster(clusterName=cluster)
    family = ecs.register_task_definition(
        family=cluster, containerDefinitions=[{"name": "api", "image": "example/api:1", "memory": 512}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName="api", taskDefinition=family, desiredCount=1)
    return cluster, "api"


@pytest.fixture
def stack_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """Gives the stack `staging` these outputs, behind a fake `pulumi` that is the whole PATH."""
    fake_tools.install(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("FAKE_WORLD", str(tmp_path / "world.json"))
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls.jsonl"))

    def give(outputs: dict[str, str]) -> None:
        world = fake_tools.default_world()
        world["pulumi"]["stacks"]["staging"] = {"history": [], "outputs": outputs}
        (tmp_path / "world.json").write_text(json.dumps(world))

    return give


def deployment_id(cluster: str, service: str) -> str:
    found = boto3.client("ecs").describe_services(cluster=cluster, services=[service])["services"][0]
    return found["deployments"][0]["id"]


def test_by_stack_the_secret_is_found_by_its_output_and_the_service_restarts(
    aws: SecretsManagerClient,
    secret: str,
    ecs_service: tuple[str, str],
    stack_outputs: Callable[[dict[str, str]], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster, service = ecs_service
    stack_outputs({"client_api_keys_secret_arn": secret, "cluster_name": cluster, "service_name": service})
    before = deployment_id(cluster, service)

    code, out, err = run(capsys, "--stack", "staging", "add", "team-a")

    assert code == 0, err
    assert "team-a" in stored(aws, secret).values()
    assert f"Rolling restart of {service} started" in out
    assert deployment_id(cluster, service) != before


def test_by_stack_without_the_output_says_what_to_do(
    stack_outputs: Callable[[dict[str, str]], None], capsys: pytest.CaptureFixture[str]
) -> None:
    stack_outputs({"service_url": "http://x"})

    code, _, err = run(capsys, "--stack", "staging", "list")

    assert code == 1
    assert "no `client_api_keys_secret_arn` output" in err
