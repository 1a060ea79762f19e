"""Reading the workflows, and running one step's script here with stand-ins for the commands it calls.

The workflows cannot run here (no GitHub, no AWS). The structure tests read their parsed YAML; the
behaviour tests take a step's `run:` script exactly as written and run it the way GitHub's `shell: bash`
does (`bash --noprofile --norc -eo pipefail`), with `pulumi`, `aws`, `gh` and friends replaced by small
scripts that print canned answers and record how they were called.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
WORKFLOW_NAMES = tuple(sorted(p.name for p in WORKFLOWS.glob("*.yml")))
STACKS = ("staging", "prod")
DEPLOY_STACK = "./.github/workflows/deploy-stack.yml"
CHECKS = "./.github/workflows/checks.yml"
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
PULUMI_ACTION = "pulumi/actions"

Job = dict[str, Any]
Step = dict[str, Any]
Workflow = dict[str, Any]


def load(name: str) -> Workflow:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(document, dict), name
    # YAML 1.1 reads the key `on` as the boolean True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def load_all() -> dict[str, Workflow]:
    return {name: load(name) for name in WORKFLOW_NAMES}


def jobs(workflow: Workflow) -> dict[str, Job]:
    found = workflow["jobs"]
    assert isinstance(found, dict)
    return found


def steps(job: Job) -> list[Step]:
    return list(job.get("steps", []))


def all_steps(workflows: Mapping[str, Workflow]) -> Iterator[tuple[str, str, Step]]:
    for name, workflow in workflows.items():
        for job_id, job in jobs(workflow).items():
            for step in steps(job):
                yield name, job_id, step


def step_named(job: Job, fragment: str) -> tuple[int, Step]:
    matches = [(i, s) for i, s in enumerate(steps(job)) if fragment in str(s.get("name", ""))]
    assert len(matches) == 1, f"expected one step named like {fragment!r}, found {len(matches)}"
    return matches[0]


def step_with_id(job: Job, step_id: str) -> tuple[int, Step]:
    matches = [(i, s) for i, s in enumerate(steps(job)) if s.get("id") == step_id]
    assert len(matches) == 1, f"expected one step with id {step_id!r}, found {len(matches)}"
    return matches[0]


def uses(step: Step, action: str) -> bool:
    return str(step.get("uses", "")).startswith(f"{action}@")


def needs(job: Job) -> set[str]:
    value = job.get("needs", [])
    return {value} if isinstance(value, str) else set(value)


def ancestors(all_jobs: Mapping[str, Job], job_id: str) -> set[str]:
    found: set[str] = set()
    pending = list(needs(all_jobs[job_id]))
    while pending:
        current = pending.pop()
        if current not in found:
            found.add(current)
            pending.extend(needs(all_jobs[current]))
    return found


def callers_of(workflow: Workflow, path: str) -> dict[str, Job]:
    return {job_id: job for job_id, job in jobs(workflow).items() if job.get("uses") == path}


def deploy_job() -> Job:
    (job,) = jobs(load("deploy-stack.yml")).values()
    return job


def literal_env(workflow: Workflow) -> dict[str, str]:
    """The workflow-level `env:` values that are plain text (no expression), as a step sees them."""
    return {k: str(v) for k, v in workflow.get("env", {}).items() if "${{" not in str(v)}


# --- running a step's script ----------------------------------------------------------------------


@dataclass
class StepRun:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    calls: list[list[str]]
    """Every stand-in command called, with its arguments, in order."""

    def called(self, *prefix: str) -> list[list[str]]:
        return [c for c in self.calls if c[: len(prefix)] == list(prefix)]


# Each stand-in first records its name and arguments (separated by \x1f, newlines in them as \\n), one
# call per line.
_RECORD = """#!/usr/bin/env bash
{ printf '%s' 'NAME'; for arg in "$@"; do printf '\\x1f%s' "${arg//$'\\n'/\\\\n}"; done; printf '\\n'; } >>'CALLS'
"""


def run_step(
    script: str,
    tmp_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    commands: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> StepRun:
    """Run `script` as GitHub's bash does, with `commands` (name -> bash body) shadowing real commands."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    calls.write_text("")
    for name, body in (commands or {}).items():
        path = bin_dir / name
        path.write_text(_RECORD.replace("NAME", name).replace("CALLS", str(calls)) + body)
        path.chmod(0o755)
    output, summary = tmp_path / "github_output", tmp_path / "github_step_summary"
    output.write_text("")
    summary.write_text("")
    environment = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_REPOSITORY": "acme/openai-api",
        "GITHUB_RUN_ID": "5000",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_REF_NAME": "main",
        "GITHUB_EVENT_NAME": "push",
        **(env or {}),
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd or tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    outputs = {}
    for line in output.read_text().splitlines():
        key, _, value = line.partition("=")
        outputs[key] = value
    recorded = [line.split("\x1f") for line in calls.read_text().splitlines()]
    return StepRun(done.returncode, done.stdout, done.stderr, outputs, summary.read_text(), recorded)


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def linear_history(repo: Path, count: int) -> list[str]:
    """A repository whose main has `count` commits, oldest first; origin/main points at the newest."""
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = []
    for i in range(count):
        git(repo, "commit", "-q", "--allow-empty", "-m", f"commit {i}")
        shas.append(git(repo, "rev-parse", "HEAD"))
    git(repo, "update-ref", "refs/remotes/origin/main", shas[-1])
    return shas
