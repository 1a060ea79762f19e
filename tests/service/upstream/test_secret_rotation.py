"""The OpenAI key from Secrets Manager (moto's server): loaded at startup, re-read after a 401."""

from __future__ import annotations

import boto3
import pytest

from service.stub.testing import StubServer
from tests.conftest import ServiceFactory
from tests.support.moto import MotoServer

OLD_KEY = "sk-rotation-old-key-aaaaaaaa"
NEW_KEY = "sk-rotation-new-key-bbbbbbbb"
MESSAGES = [{"role": "user", "content": "hello"}]


def test_rotated_key_is_picked_up_without_a_restart(
    moto_server: MotoServer, make_service: ServiceFactory, stub: StubServer
) -> None:
    secrets = boto3.client(
        "secretsmanager",
        endpoint_url=moto_server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arn = secrets.create_secret(Name=f"openai-key-{stub.port}", SecretString=OLD_KEY)["ARN"]
    stub.configure(api_keys=[OLD_KEY])
    env = {
        **moto_server.env(),
        "OPENAI_API_KEY": "",
        "OPENAI_API_KEY_SECRET_ARN": arn,
        "KEY_REFRESH_MIN_INTERVAL_SECONDS": "0",
        "UPSTREAM_MAX_RETRIES": "0",
    }
    with make_service(workers=1, **env) as svc:
        client = svc.client()
        assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices

        # Rotation: the secret gets a new value and OpenAI stops accepting the old one.
        secrets.put_secret_value(SecretId=arn, SecretString=f'{{"OPENAI_API_KEY": "{NEW_KEY}"}}')
        stub.configure(api_keys=[NEW_KEY])
        assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices
        logs = svc.logs()

    sent = [r["headers"]["authorization"] for r in stub.stats()["recent"] if r["path"] == "/v1/chat/completions"]
    assert sent == [f"...{OLD_KEY[-4:]}", f"...{OLD_KEY[-4:]}", f"...{NEW_KEY[-4:]}"]
    assert "openai_key_refreshed" in logs
    assert OLD_KEY not in logs
    assert NEW_KEY not in logs


def test_unreadable_secret_stops_startup_with_a_clear_error(
    moto_server: MotoServer, make_service: ServiceFactory
) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist-AbCdEf"
    env = {**moto_server.env(), "OPENAI_API_KEY": "", "OPENAI_API_KEY_SECRET_ARN": missing}
    with (
        pytest.raises(RuntimeError, match="could not read the OpenAI key from Secrets Manager"),
        make_service(workers=1, **env),
    ):
        pass
