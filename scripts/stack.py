"""One Pulumi stack as the operator scripts see it: its committed stack file and what `pulumi` says about it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.project import PROJECT
from scripts.shell import CommandFailed, Shell

REGION_KEY = "aws:region"
SECRET_SHOWN = "[secret]"  # noqa: S105 - what `pulumi stack output --json` prints for a secret without --show-secrets


class StackError(RuntimeError):
    """The stack cannot be used as asked; the message says why and what to do."""


def project_key(key: str) -> str:
    return f"{PROJECT}:{key}"


@dataclass(frozen=True)
class StackFile:
    """`Pulumi.<stack>.yaml`: the stack's committed configuration, which `pulumi config set` edits."""

    path: Path
    config: dict[str, Any]

    @classmethod
    def load(cls, project_dir: Path, stack: str) -> StackFile:
        path = project_dir / f"Pulumi.{stack}.yaml"
        if not path.is_file():
            known = sorted(
                p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_dir.glob("Pulumi.*.yaml")
            )
            raise StackError(f"no stack file {path.name}: the stacks of this project are {', '.join(known)}")
        document = yaml.safe_load(path.read_text()) or {}
        config = document.get("config") or {}
        if not isinstance(config, dict):
            raise StackError(f"{path.name}: `config` is not a map")
        return cls(path, config)

    def get(self, key: str) -> Any:
        """A project key's value as the file holds it (a secret is a `{"secure": ...}` map); None if unset."""
        return self.config.get(key if ":" in key else project_key(key))

    def has(self, key: str) -> bool:
        return self.get(key) not in (None, "")

    @property
    def region(self) -> str:
        region = self.config.get(REGION_KEY)
        if not isinstance(region, str) or not region:
            raise StackError(f"{self.path.name} sets no {REGION_KEY}: add `{REGION_KEY}: us-east-1` (a US region)")
        return region


class PulumiStack:
    """The stack in its backend, addressed as `[<org>/]<stack>`."""

    def __init__(self, shell: Shell, name: str, org: str | None = None) -> None:
        self.shell = shell
        self.name = name
        self.ref = f"{org}/{name}" if org else name

    def exists(self) -> bool:
        result = self.shell.query("pulumi", "stack", "ls", "--json")
        if not result.ok:
            raise CommandFailed("listing the Pulumi stacks", ["pulumi", "stack", "ls", "--json"], result)
        names = {str(entry.get("name", "")) for entry in json.loads(result.stdout or "[]")}
        # Pulumi Cloud may list stacks fully qualified (<org>/<project>/<stack>).
        return self.ref in names or any(n.endswith(f"/{self.name}") and self._org_matches(n) for n in names)

    def outputs(self, *, show_secrets: bool = False) -> dict[str, Any]:
        """The stack's outputs; {} when it has none yet. Secrets are `[secret]` unless `show_secrets`."""
        argv = ["pulumi", "stack", "output", "--json", "--stack", self.ref]
        if show_secrets:
            argv.append("--show-secrets")
        result = self.shell.query(*argv)
        if not result.ok:
            raise CommandFailed(f"reading the outputs of stack {self.ref}", argv, result)
        found = json.loads(result.stdout or "{}")
        return found if isinstance(found, dict) else {}

    def output(self, name: str) -> str:
        value = self.outputs().get(name)
        if not isinstance(value, str) or not value:
            raise StackError(
                f"stack {self.ref} has no `{name}` output: bring it up first (make bootstrap STACK={self.name})"
            )
        return value

    def has_succeeded_once(self) -> bool:
        """Whether any update of the stack has succeeded: then it exists in AWS and CI may have deployed to it."""
        argv = ["pulumi", "stack", "history", "--json", "--page-size", "100", "--stack", self.ref]
        result = self.shell.query(*argv)
        if not result.ok:
            raise CommandFailed(f"reading the history of stack {self.ref}", argv, result)
        updates = json.loads(result.stdout or "[]") or []
        return any(u.get("kind") == "update" and u.get("result") == "succeeded" for u in updates)

    def _org_matches(self, qualified: str) -> bool:
        return "/" not in self.ref or qualified.startswith(self.ref.split("/")[0] + "/")
