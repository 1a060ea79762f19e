"""Run the Pulumi program for each stack (and a few config variants) once per session, under mocks.

Each run is a separate process (`run_program.py`): the Pulumi runtime is process-global, and a
fresh process per stack is how the CLI runs it too. The runs start together and are awaited on
first use, so the whole set costs about one run's wall time per core.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import PolicyResource

from infra.policy.rules import ResourceRule, StackRule

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

FAKE_OPENAI_KEY = "sk-test-DO-NOT-LEAK-01234567"
CI_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:" + "b" * 64

VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "staging": ("staging", {"openaiApiKey": FAKE_OPENAI_KEY}),
    "prod": ("prod", {"openaiApiKey": FAKE_OPENAI_KEY}),
    # Everything optional switched on: certificate and DNS, CI image, deploy role, e-mail, VPC endpoints.
    "prod-full": (
        "prod",
        {
            "openaiApiKey": FAKE_OPENAI_KEY,
            "domainName": "api.example.com",
            "hostedZoneId": "Z0123456789EXAMPLE",
            "image": CI_IMAGE,
            "githubRepository": "acme/openai-api",
            "alarmEmail": "ops@example.com",
            "vpcEndpoints": "true",
        },
    ),
    # Existing resources reused: OpenAI key secret, certificate, the account's OIDC provider.
    "staging-reuse": (
        "staging",
        {
            "openaiApiKeySecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-key-AbCdEf",
            "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0000-1111",
            "githubRepository": "acme/openai-api",
            "githubOidcProviderArn": ("arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"),
        },
    ),
}


@dataclass
class Run:
    """What one program run registered."""

    variant: str
    stack: str
    config: dict[str, str]
    resources: list[dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    warnings: list[str]
    invokes: list[str] = field(default_factory=list)

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


class Programs:
    def __init__(self) -> None:
        self._procs = {
            variant: subprocess.Popen(
                [sys.executable, str(HERE / "run_program.py"), stack, json.dumps(extra)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for variant, (stack, extra) in VARIANTS.items()
        }
        self._runs: dict[str, Run] = {}

    def __getitem__(self, variant: str) -> Run:
        if variant not in self._runs:
            out, err = self._procs[variant].communicate(timeout=240)
            assert self._procs[variant].returncode == 0, err[-4000:]
            data = json.loads(out)
            assert data["error"] is None, f"{variant}: {data['error']}\n{err[-4000:]}"
            self._runs[variant] = Run(
                variant,
                data["stack"],
                data["config"],
                data["resources"],
                data["outputs"],
                data["warnings"],
                data["invokes"],
            )
        return self._runs[variant]

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


@pytest.fixture(scope="session")
def staging(programs: Programs) -> Run:
    return programs["staging"]


@pytest.fixture(scope="session")
def prod(programs: Programs) -> Run:
    return programs["prod"]


# --- running policy-pack rules the way the analyzer does ----------------------------------------------


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def resource_violations(rule: ResourceRule, typ: str, props: Mapping[str, Any]) -> list[str]:
    """Messages `rule` reports for one resource, through the real CrossGuard policy object."""
    found: list[str] = []
    props = deserialize_properties(dict(props))  # secrets unwrapped, as the analyzer passes them
    args = ResourceValidationArgs(typ, props, f"urn:pulumi:test::p::{typ}::r", "r", _options(), None)
    rule.to_policy().validate(args, lambda message, urn=None: found.append(message))
    return found


def stack_violations(rule: StackRule, resources: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[str]:
    """Messages `rule` reports for a stack given as (type, name, props) triples."""
    found: list[str] = []
    policy_resources = [
        PolicyResource(
            typ,
            deserialize_properties(dict(props)),
            f"urn:pulumi:test::p::{typ}::{name}",
            name,
            _options(),
            None,
            None,
            [],
            {},
        )
        for typ, name, props in resources
    ]
    rule.to_policy().validate(StackValidationArgs(policy_resources), lambda message, urn=None: found.append(message))
    return found


def stack_of(run: Run) -> list[tuple[str, str, Mapping[str, Any]]]:
    """A run's resources plus its stack outputs, as the analyzer sees them at the end of an update."""
    resources = [(r["type"], r["name"], r["state"]) for r in run.resources]
    resources.append(("pulumi:pulumi:Stack", f"openai-aws-template-{run.stack}", run.output_values()))
    return resources
