"""Reading what a program run recorded: policy documents, role policies, secret-marked inputs."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Run

MOCK_TOKEN = "MOCKREDISAUTHTOKEN"  # prefix of the mocked RandomPassword result
# How a secret input is serialized (pulumi's rpc): {SECRET_SIG_KEY: SECRET_SIG, "value": ...}.
SECRET_SIG_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


def statements(document: str) -> list[dict[str, Any]]:
    return list(json.loads(document)["Statement"])


def role_policy(run: Run, role_name: str) -> list[dict[str, Any]]:
    """The statements of the inline policy attached to the role named `role_name`."""
    role = next(r for r in run.of("aws:iam/role:Role") if r["name"] == role_name)
    policy = next(p for p in run.of("aws:iam/rolePolicy:RolePolicy") if p["inputs"]["role"] == role["id"])
    return statements(policy["inputs"]["policy"])


def secret_value(value: Any) -> str:
    """The plain value of an input Pulumi marked secret; fails if it was not marked."""
    assert isinstance(value, dict), f"not marked secret: {value!r}"
    assert value.get(SECRET_SIG_KEY) == SECRET_SIG, f"not marked secret: {value!r}"
    return str(value["value"])
