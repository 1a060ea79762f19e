"""Client authentication with hashed keys, and the local-only development key."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx2
import openai
import pytest

from service.settings import hash_client_key
from service.stub.testing import StubServer
from tests.conftest import service_env
from tests.support.service import REPO_ROOT, ServiceProcess, run_service

TEAM_KEY = "svc-team-a-secret-key-value"


@pytest.fixture(scope="module")
def keyed_service(stub_server: StubServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    keys = json.dumps({hash_client_key(TEAM_KEY): "team-a"})
    with run_service(tmp_path_factory.mktemp("keyed"), service_env(stub_server, CLIENT_API_KEYS=keys)) as svc:
        yield svc


def test_configured_key_authenticates_and_is_forwarded_as_a_hashed_user(
    keyed_service: ServiceProcess, stub: StubServer
) -> None:
    keyed_service.client(api_key=TEAM_KEY).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert keyed_service.log_line('"event":"request"', '"client_id":"team-a"')["status"] == 200
    sent_user = stub.last_request("/v1/chat/completions")["body"]["user"]
    assert "team-a" not in sent_user


@pytest.mark.parametrize("key", ["local-dev-key", "svc-team-a-secret-key-valuX", hash_client_key(TEAM_KEY)])
def test_wrong_keys_get_401_even_the_dev_key_once_keys_are_configured(keyed_service: ServiceProcess, key: str) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        keyed_service.client(api_key=key).models.list()
    assert caught.value.code == "invalid_api_key"


@pytest.mark.parametrize("header", [None, "Basic abc", "Token abc", "bearer"])
def test_missing_or_malformed_authorization_gets_401(keyed_service: ServiceProcess, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = httpx2.get(f"{keyed_service.base_url}/models", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_local_mode_accepts_the_dev_key_and_warns(service: ServiceProcess) -> None:
    assert service.client().models.list().data
    assert "local_dev_key_enabled" in service.logs()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ENVIRONMENT": "prod", "OPENAI_API_KEY": "sk-x-aaaaaaaaaaaa"},
            "CLIENT_API_KEYS is empty in ENVIRONMENT=prod",
        ),
        ({"CLIENT_API_KEYS": '{"not-a-hash": "team"}'}, "not a lower-case SHA-256 hex digest"),
        ({"DEFAULT_MODEL": "gpt-5-nonexistent"}, "DEFAULT_MODEL 'gpt-5-nonexistent' is not in ALLOWED_MODELS"),
    ],
)
def test_bad_configuration_refuses_to_start_with_a_clear_message(env: dict[str, str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import service.main"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "sk-x-aaaaaaaaaaaa", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr
