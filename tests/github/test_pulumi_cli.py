"""The Pulumi CLI is pinned on every use, from one place: the SDK version uv.lock locks (issue 15, item 6).

Without `pulumi-version`, pulumi/actions takes whatever 3.x the runner has while uv.lock pins the SDK.
Every job that installs the CLI first runs .github/scripts/stack_facts.py, which reads the version from
uv.lock (and the stack's region from its Pulumi.<stack>.yaml), and passes it to every pulumi/actions
step. Dependabot's uv updates then move SDK and CLI together.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version

import pytest
import yaml

from tests.github.workflows import PULUMI_ACTION, REPO_ROOT, STACKS, all_steps, jobs, load_all, steps, uses

FACTS = REPO_ROOT / ".github" / "scripts" / "stack_facts.py"


def locked(package: str) -> str:
    (found,) = {
        p["version"] for p in tomllib.loads((REPO_ROOT / "uv.lock").read_text())["package"] if p["name"] == package
    }
    return str(found)


def facts(stack: str) -> dict[str, str]:
    done = subprocess.run([sys.executable, str(FACTS), stack], capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in done.stdout.splitlines())


@pytest.mark.parametrize("stack", STACKS)
def test_stack_facts_give_the_locked_sdk_version_and_the_stacks_region(stack: str) -> None:
    found = facts(stack)
    assert found["pulumi-version"] == locked("pulumi") == version("pulumi")
    config = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert found["region"] == config["aws:region"]


def test_stack_facts_refuse_a_stack_without_a_file() -> None:
    done = subprocess.run([sys.executable, str(FACTS), "nonexistent"], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "Pulumi.nonexistent.yaml" in done.stderr


def test_every_use_of_pulumi_actions_pins_the_locked_cli() -> None:
    workflows = load_all()
    seen = 0
    for name, workflow in workflows.items():
        for job_id, job in jobs(workflow).items():
            job_steps = steps(job)
            for index, step in enumerate(job_steps):
                if not uses(step, PULUMI_ACTION):
                    continue
                seen += 1
                assert step["with"]["pulumi-version"] == "${{ steps.facts.outputs.pulumi-version }}", f"{name}:{job_id}"
                facts_index = next(i for i, s in enumerate(job_steps) if s.get("id") == "facts")
                assert facts_index < index
                assert job_steps[facts_index]["run"].startswith(
                    "uv run --frozen python .github/scripts/stack_facts.py "
                )
    assert seen == 4  # preview (install, preview), drift, deploy-stack


def test_no_workflow_installs_pulumi_another_way() -> None:
    for name, _, step in all_steps(load_all()):
        text = str(step.get("run", ""))
        assert "get.pulumi.com" not in text, name
        assert "pulumi-version-file" not in str(step.get("with", {})), name
