"""The GitHub side of a stack: its deployment environment and the variables and secrets the workflows read.

With `gh` logged in, `apply` creates what is missing and leaves what is there (a secret's value cannot be
read back, so an existing secret is kept). Without it, `commands` are printed for the operator to run.
Secret values go to `gh` on stdin, never on the command line.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Literal

from scripts.shell import Secret, Shell

DEPLOY_BRANCH = "main"  # .github/workflows/deploy.yml deploys pushes to main only


@dataclass(frozen=True)
class Setting:
    """One variable or secret, in the repository or in the stack's environment."""

    name: str
    kind: Literal["variable", "secret"]
    environment: str | None
    value: str | Secret | None
    source: str = ""
    """For a secret: a shell command that prints it, for the printed instructions."""
    note: str = ""
    """For a secret nobody handed over: where to get its value."""

    def scope_args(self, repo: str) -> list[str]:
        return [*(["--env", self.environment] if self.environment else []), "--repo", repo]

    def command(self, repo: str) -> str:
        """The command an operator runs to set this by hand."""
        args = shlex.join(["gh", self.kind, "set", self.name, *self.scope_args(repo)])
        if self.kind == "variable":
            return f"{args} --body {shlex.quote(str(self.value))}"
        return f"{self.source} | {args}" if self.source else f"{args}    # prompts for {self.note or 'the value'}"


def environment_command(repo: str, environment: str) -> str:
    return (
        f"gh api -X PUT repos/{repo}/environments/{environment} --input - <<< "
        '\'{"deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true}}\' && '
        f"gh api -X POST repos/{repo}/environments/{environment}/deployment-branch-policies "
        f"-f name={DEPLOY_BRANCH} -f type=branch"
    )


def commands(repo: str, environment: str, settings: list[Setting]) -> list[str]:
    return [environment_command(repo, environment), *(s.command(repo) for s in settings)]


class Github:
    def __init__(self, shell: Shell, repo: str) -> None:
        self.shell = shell
        self.repo = repo

    def apply(self, environment: str, settings: list[Setting]) -> None:
        self._environment(environment)
        for scope in dict.fromkeys(s.environment for s in settings):
            in_scope = [s for s in settings if s.environment == scope]
            self._variables(scope, [s for s in in_scope if s.kind == "variable"])
            self._secrets(scope, [s for s in in_scope if s.kind == "secret"])

    def _environment(self, environment: str) -> None:
        """The environment exists and deploys from `main` only (the deploy role trusts exactly this name)."""
        path = f"repos/{self.repo}/environments/{environment}"
        found = self.shell.query("gh", "api", path)
        policy = json.loads(found.stdout).get("deployment_branch_policy") if found.ok else None
        if not found.ok:
            body = {"deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True}}
            self.shell.change(
                f"create the GitHub environment {environment}",
                *("gh", "api", "-X", "PUT", path, "--input", "-"),
                stdin=json.dumps(body),
            )
            policy = body["deployment_branch_policy"]
        if not (policy or {}).get("custom_branch_policies"):
            return  # the owner chose another rule for this environment; leave it
        branches = self.shell.query("gh", "api", f"{path}/deployment-branch-policies")
        names = (
            {p.get("name") for p in json.loads(branches.stdout).get("branch_policies", [])} if branches.ok else set()
        )
        if DEPLOY_BRANCH not in names:
            self.shell.change(
                f"let {environment} deploy from {DEPLOY_BRANCH}",
                *("gh", "api", "-X", "POST", f"{path}/deployment-branch-policies"),
                *("-f", f"name={DEPLOY_BRANCH}", "-f", "type=branch"),
            )

    def _variables(self, environment: str | None, settings: list[Setting]) -> None:
        if not settings:
            return
        scope = settings[0].scope_args(self.repo)
        listed = self.shell.query("gh", "variable", "list", *scope, "--json", "name,value")
        current = {v["name"]: v["value"] for v in json.loads(listed.stdout or "[]")} if listed.ok else {}
        for s in settings:
            if current.get(s.name) != s.value:
                where = f"environment {environment}" if environment else "the repository"
                self.shell.change(
                    f"set {s.name} in {where}",
                    *("gh", "variable", "set", s.name, *scope, "--body", str(s.value)),
                )

    def _secrets(self, environment: str | None, settings: list[Setting]) -> None:
        if not settings:
            return
        scope = settings[0].scope_args(self.repo)
        listed = self.shell.query("gh", "secret", "list", *scope, "--json", "name")
        present = {v["name"] for v in json.loads(listed.stdout or "[]")} if listed.ok else set()
        where = f"environment {environment}" if environment else "the repository"
        for s in settings:
            if s.name in present:
                self.shell.say(f"kept: {s.name} is already set in {where}")
            elif s.value is None:
                self.shell.say(f"to do: {s.command(self.repo)}")
            else:
                self.shell.change(f"set {s.name} in {where}", *("gh", "secret", "set", s.name, *scope), stdin=s.value)
