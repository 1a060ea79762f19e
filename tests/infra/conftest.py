"""Run the Pulumi program for each stack (and a few config variants) once per session, under mocks.

Each run is a separate process (`python -m infra.mocks`): the Pulumi runtime is process-global, and a
fresh process per stack is how the CLI runs it too. Every variant runs twice, as `pulumi up` does:
a dry run (`programs.preview(variant)`, unknowns and all) and the update (`programs[variant]`). The
runs start together and are awaited on first use, so the whole set costs about one run's wall time
per core.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from infra.mocks import DEFAULT_ACCOUNT, OIDC_URL

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

FAKE_OPENAI_KEY = "sk-test-DO-NOT-LEAK-01234567"
CI_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:" + "b" * 64
PROD_CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/prod-0000"
STATE_KEY = "arn:aws:kms:us-east-1:123456789012:key/0000aaaa-1111-2222-3333-444455556666"

VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "staging": ("staging", {"openaiApiKey": FAKE_OPENAI_KEY}),
    # Prod refuses plain HTTP, so its operator gives it a certificate (or a domain) as the stack file says.
    "prod": ("prod", {"openaiApiKey": FAKE_OPENAI_KEY, "certificateArn": PROD_CERTIFICATE}),
    # Everything optional switched on: certificate and DNS, CI image, deploy role (with an S3 state backend),
    # e-mail and its own alarm thresholds, VPC endpoints.
    "prod-full": (
        "prod",
        {
            "openaiApiKey": FAKE_OPENAI_KEY,
            "domainName": "api.example.com",
            "hostedZoneId": "Z0123456789EXAMPLE",
            "image": CI_IMAGE,
            "githubRepository": "acme/openai-api",
            "alarmEmail": "ops@example.com",
            "alarmTtftP99Seconds": "20",
            "alarm5xxPercent": "2",
            "alarmSpendUsdPerHour": "50",
            "vpcEndpoints": "true",
            "stateBucket": "acme-pulumi-state",
            "stateKmsKeyArn": STATE_KEY,
        },
    ),
    # Existing resources reused: OpenAI key secret, certificate, and (ACCOUNTS) the account's OIDC provider.
    "staging-reuse": (
        "staging",
        {
            "openaiApiKeySecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-key-AbCdEf",
            "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0000-1111",
            "allowPlainHttp": "false",  # the staging file allows HTTP until a certificate is set; one is here
            "githubRepository": "acme/openai-api",
        },
    ),
}
# The AWS account a variant's invokes answer for, where it is not infra/mocks.py's DEFAULT_ACCOUNT.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "staging-reuse": {**DEFAULT_ACCOUNT, "oidcProviders": [OIDC_URL]},
}


Phase = Literal["preview", "up"]
PHASES: tuple[Phase, ...] = ("preview", "up")


@dataclass
class Run:
    """What one program run registered (infra/mocks.py documents the fields of each resource)."""

    variant: str
    stack: str
    config: dict[str, str]
    resources: list[dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    warnings: list[str]
    invokes: list[str] = field(default_factory=list)
    phase: Phase = "up"
    stack_urn: str = ""
    wire_outputs: dict[str, Any] = field(default_factory=dict)
    """The stack outputs in wire form: secrets as secret signature objects, unknowns as sentinels."""

    def of(self, typ: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == typ]

    def one(self, typ: str) -> dict[str, Any]:
        found = self.of(typ)
        assert len(found) == 1, f"{self.variant}: expected one {typ}, found {len(found)}"
        return found[0]

    def inputs(self, typ: str) -> dict[str, Any]:
        return dict(self.one(typ)["inputs"])

    def container(self) -> dict[str, Any]:
        definitions = json.loads(self.inputs("aws:ecs/taskDefinition:TaskDefinition")["containerDefinitions"])
        assert len(definitions) == 1
        return dict(definitions[0])

    def environment(self) -> dict[str, str]:
        return {e["name"]: e["value"] for e in self.container()["environment"]}

    def output_values(self) -> dict[str, Any]:
        return {k: v["value"] for k, v in self.outputs.items()}


def mock_run_command(
    stack: str, config: dict[str, str], *, preview: bool = False, account: dict[str, Any] | None = None
) -> list[str]:
    """`python -m infra.mocks` for one stack, extra config, phase and AWS account."""
    return [
        sys.executable,
        "-m",
        "infra.mocks",
        stack,
        json.dumps(config),
        *(["--preview"] if preview else []),
        *(["--account", json.dumps(account)] if account is not None else []),
    ]


def run_once(stack: str, config: dict[str, str], account: dict[str, Any] | None = None) -> dict[str, Any]:
    """One extra program run (an update) outside the session's variants; its JSON, error included."""
    command = mock_run_command(stack, config, account=account)
    done = subprocess.run(command, check=False, capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


class Programs:
    """The session's program runs: `programs[variant]` is the update, `programs.preview(variant)` the dry run."""

    def __init__(self) -> None:
        self._procs = {
            (variant, phase): subprocess.Popen(
                mock_run_command(stack, extra, preview=phase == "preview", account=ACCOUNTS.get(variant)),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for variant, (stack, extra) in VARIANTS.items()
            for phase in PHASES
        }
        self._runs: dict[tuple[str, Phase], Run] = {}

    def __getitem__(self, variant: str) -> Run:
        return self.run(variant, "up")

    def preview(self, variant: str) -> Run:
        return self.run(variant, "preview")

    def run(self, variant: str, phase: Phase) -> Run:
        key = (variant, phase)
        if key not in self._runs:
            out, err = self._procs[key].communicate(timeout=240)
            assert self._procs[key].returncode == 0, err[-4000:]
            data = json.loads(out)
            assert data["error"] is None, f"{variant} ({phase}): {data['error']}\n{err[-4000:]}"
            self._runs[key] = Run(
                variant,
                data["stack"],
                data["config"],
                data["resources"],
                data["outputs"],
                data["warnings"],
                data["invokes"],
                data["phase"],
                data["stack_urn"],
                data["wire_outputs"],
            )
        return self._runs[key]

    def close(self) -> None:
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.fixture(scope="session")
def programs() -> Iterator[Programs]:
    runs = Programs()
    yield runs
    runs.close()


@pytest.fixture(params=list(VARIANTS))
def run(request: pytest.FixtureRequest, programs: Programs) -> Run:
    """Each variant's update, in turn."""
    return programs[request.param]


@pytest.fixture(scope="session")
def staging(programs: Programs) -> Run:
    return programs["staging"]


@pytest.fixture(scope="session")
def prod(programs: Programs) -> Run:
    return programs["prod"]
