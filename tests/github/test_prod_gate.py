"""The prod gate cannot be bypassed, and the deploy role answers only to the deploy workflow (items 7, 8).

GitHub creates a missing environment on first use, with no reviewers. If the deploy role or the smoke
key were set for the whole repository, that environment would inherit them and deploy prod unreviewed.
So the gate refuses repository-level values (it runs outside any environment, where only those are
visible), and a stack's job that finds its own missing says how to create the environment properly.
The deploy role's trust (infra/components/github_deploy.py) names the one workflow file that assumes
it; tests/infra/components/test_github_deploy.py checks the policy itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.components.github_deploy import DEPLOY_REF, DEPLOY_WORKFLOW
from tests.github.workflows import (
    AWS_CREDENTIALS_ACTION,
    REPO_ROOT,
    WORKFLOW_NAMES,
    WORKFLOWS,
    all_steps,
    deploy_job,
    jobs,
    load,
    load_all,
    run_step,
    step_with_id,
    steps,
    uses,
)


def gate(tmp_path: Path, **env: str) -> tuple[int, dict[str, str], str]:
    (check,) = steps(jobs(load("deploy.yml"))["gate"])
    ran = run_step(
        check["run"],
        tmp_path,
        env={"DEFAULT_BRANCH": "main", "HAS_PULUMI_TOKEN": "true", "REPOSITORY_HAS_SMOKE_API_KEY": "false", **env},
    )
    return ran.returncode, ran.outputs, ran.stdout


def test_the_gate_reads_the_deploy_settings_outside_any_environment() -> None:
    gate_job = jobs(load("deploy.yml"))["gate"]
    assert "environment" not in gate_job
    (check,) = steps(gate_job)
    assert check["env"]["REPOSITORY_AWS_ROLE_ARN"] == "${{ vars.AWS_ROLE_ARN }}"
    assert check["env"]["REPOSITORY_HAS_SMOKE_API_KEY"] == "${{ secrets.SMOKE_API_KEY != '' }}"


@pytest.mark.parametrize(
    "repository_level",
    [
        {"REPOSITORY_AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/deploy"},
        {"REPOSITORY_HAS_SMOKE_API_KEY": "true"},
    ],
)
def test_deploy_settings_for_the_whole_repository_stop_the_deploy(
    tmp_path: Path, repository_level: dict[str, str]
) -> None:
    status, outputs, text = gate(tmp_path, **repository_level)
    assert status == 1
    assert "enabled" not in outputs
    assert "only in the staging and prod environments" in text
    assert "Required reviewers" in text


def test_settings_only_in_the_environments_pass_the_gate(tmp_path: Path) -> None:
    status, outputs, _ = gate(tmp_path)
    assert (status, outputs["enabled"]) == (0, "true")


def test_a_repository_without_a_backend_is_skipped_not_failed(tmp_path: Path) -> None:
    status, outputs, text = gate(tmp_path, HAS_PULUMI_TOKEN="false", REPOSITORY_AWS_ROLE_ARN="arn:aws:iam::1:role/x")
    assert (status, outputs) == (0, {"enabled": "false"})
    assert "::notice" in text


def test_an_environment_github_created_on_first_use_fails_saying_how_to_set_it_up(tmp_path: Path) -> None:
    _, config = step_with_id(deploy_job(), "config")
    ran = run_step(
        config["run"],
        tmp_path,
        env={
            "STACK_NAME": "prod",
            "AWS_ROLE_ARN": "",
            "HAS_SMOKE_API_KEY": "false",
            "DIGEST": "sha256:" + "a" * 64,
            "KIND": "push",
        },
    )
    assert ran.returncode == 1
    assert "variable AWS_ROLE_ARN" in ran.stdout
    assert "secret SMOKE_API_KEY" in ran.stdout
    assert "Required reviewers" in ran.stdout
    assert "Settings > Environments" in ran.stdout


def test_only_the_gate_and_the_stack_job_read_the_deploy_settings() -> None:
    readers = {
        (name, job_id)
        for name, job_id, step in all_steps(load_all())
        if re.search(r"\b(vars\.AWS_ROLE_ARN|secrets\.SMOKE_API_KEY)\b", str(step))
    }
    assert readers == {("deploy.yml", "gate"), ("deploy-stack.yml", "deploy")}


def test_the_deploy_role_is_assumed_only_by_the_workflow_its_trust_names() -> None:
    assumers = {
        name
        for name, _, step in all_steps(load_all())
        if uses(step, AWS_CREDENTIALS_ACTION) and step["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    }
    assert {f".github/workflows/{name}" for name in assumers} == {DEPLOY_WORKFLOW}
    assert (REPO_ROOT / DEPLOY_WORKFLOW).is_file()
    # The trust names main; Deploy runs only there.
    (branch,) = load("deploy.yml")["on"]["push"]["branches"]
    assert f"refs/heads/{branch}" == DEPLOY_REF
    assert set(WORKFLOW_NAMES) >= {Path(DEPLOY_WORKFLOW).name}
    assert (WORKFLOWS / Path(DEPLOY_WORKFLOW).name).read_text().count("role-to-assume:") == 1
