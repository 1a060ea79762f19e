"""What every workflow promises, checked on their parsed YAML.

Every job is time-boxed and holds only the permissions it uses, AWS is reached only through OIDC with
roles from variables, nothing untrusted is expanded into a shell, every action is pinned, and every
secret and variable a workflow reads is documented. The deploy pipeline's own promises are in the
other modules of this package.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.github.workflows import (
    AWS_CREDENTIALS_ACTION,
    DEPLOY_STACK,
    REPO_ROOT,
    WORKFLOW_NAMES,
    WORKFLOWS,
    Job,
    Workflow,
    all_steps,
    jobs,
    load,
    load_all,
    steps,
    uses,
)

PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+)*\s*$")
# Write scopes a job may hold, and the jobs that hold them: everything else is read-only or absent.
WRITERS = {
    "pull-requests": {("preview.yml", "preview")},  # post the preview on the pull request
    "actions": {("deploy.yml", "forget-archive")},  # delete the run's image archive once prod has it
    "issues": {("drift.yml", "report")},  # open or update the drift issue
}


@pytest.fixture(scope="module")
def workflows() -> dict[str, Workflow]:
    return load_all()


def test_the_workflows_are_the_ones_this_suite_knows() -> None:
    assert set(WORKFLOW_NAMES) == {
        "audit.yml",
        "checks.yml",
        "deploy-stack.yml",
        "deploy.yml",
        "drift.yml",
        "preview.yml",
    }


# --- Triggers -------------------------------------------------------------------------------------


def test_checks_run_on_pull_requests_the_merge_queue_and_for_deploy_only(workflows: dict[str, Any]) -> None:
    # Pushes to main run them once, through Deploy: a `push` trigger here would run them twice.
    assert set(workflows["checks.yml"]["on"]) == {"pull_request", "merge_group", "workflow_call"}


def test_preview_runs_on_pull_requests_only(workflows: dict[str, Any]) -> None:
    assert set(workflows["preview.yml"]["on"]) == {"pull_request"}


def test_deploy_runs_on_pushes_to_main_and_by_hand(workflows: dict[str, Any]) -> None:
    triggers = workflows["deploy.yml"]["on"]
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert triggers["push"]["branches"] == ["main"]


def test_no_workflow_uses_a_trigger_that_runs_fork_code_with_secrets(workflows: dict[str, Any]) -> None:
    for name, workflow in workflows.items():
        assert not {"pull_request_target", "workflow_run"} & set(workflow["on"]), name


# --- Jobs: time boxes and permissions -------------------------------------------------------------


def test_every_job_that_runs_steps_has_a_timeout(workflows: dict[str, Any]) -> None:
    # Jobs that call a reusable workflow (`uses:`) cannot take timeout-minutes; the called jobs have it.
    for name, workflow in workflows.items():
        for job_id, job in jobs(workflow).items():
            if "uses" in job:
                continue
            timeout = job.get("timeout-minutes")
            assert isinstance(timeout, int), f"{name}:{job_id} has no timeout-minutes"
            # A stack's deploy may have to roll back after its smoke test: it gets a deploy's time twice.
            limit = 90 if name == "deploy-stack.yml" else 60
            assert 0 < timeout <= limit, f"{name}:{job_id} timeout-minutes={timeout}"


def test_workflows_grant_nothing_by_default_and_every_job_declares_its_permissions(
    workflows: dict[str, Any],
) -> None:
    for name, workflow in workflows.items():
        assert workflow.get("permissions") == {}, f"{name}: top-level permissions must be {{}}"
        for job_id, job in jobs(workflow).items():
            assert isinstance(job.get("permissions"), dict), f"{name}:{job_id} declares no permissions"


def test_jobs_write_only_where_they_must(workflows: dict[str, Any]) -> None:
    writers: dict[str, set[tuple[str, str]]] = {}
    for name, workflow in workflows.items():
        for job_id, job in jobs(workflow).items():
            for scope, level in job["permissions"].items():
                assert level in {"read", "write", "none"}, f"{name}:{job_id} {scope}: {level}"
                if level == "write" and scope != "id-token":
                    writers.setdefault(scope, set()).add((name, job_id))
    assert writers == WRITERS


def assumes_aws_role(workflows: dict[str, Any], job: Job) -> bool:
    if job.get("uses") == DEPLOY_STACK:
        return any(assumes_aws_role(workflows, j) for j in jobs(workflows["deploy-stack.yml"]).values())
    return any(uses(s, AWS_CREDENTIALS_ACTION) for s in steps(job))


def test_only_jobs_that_assume_an_aws_role_can_request_an_oidc_token(workflows: dict[str, Any]) -> None:
    for name, workflow in workflows.items():
        for job_id, job in jobs(workflow).items():
            wants_token = job["permissions"].get("id-token") == "write"
            assert wants_token == assumes_aws_role(workflows, job), f"{name}:{job_id}"


# --- AWS access -----------------------------------------------------------------------------------


def test_aws_access_is_oidc_with_a_role_from_variables_and_the_stacks_own_region(workflows: dict[str, Any]) -> None:
    credential_steps = {
        (name, job_id): s for name, job_id, s in all_steps(workflows) if uses(s, AWS_CREDENTIALS_ACTION)
    }
    assert set(credential_steps) == {("preview.yml", "preview"), ("drift.yml", "drift"), ("deploy-stack.yml", "deploy")}
    for step in credential_steps.values():
        inputs = step["with"]
        assert re.fullmatch(r"\$\{\{ (vars\.AWS_ROLE_ARN|matrix\.role) \}\}", inputs["role-to-assume"])
        # Pulumi.<stack>.yaml's aws:region (.github/scripts/stack_facts.py), not a second copy in GitHub.
        assert inputs["aws-region"] == "${{ steps.facts.outputs.region }}"
        assert not {"aws-access-key-id", "aws-secret-access-key", "aws-session-token"} & set(inputs)


def test_no_workflow_reads_a_region_variable() -> None:
    for name in WORKFLOW_NAMES:
        assert "AWS_REGION" not in (WORKFLOWS / name).read_text(), name


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_no_static_aws_keys_appear_anywhere(name: str) -> None:
    text = (WORKFLOWS / name).read_text().lower()
    for needle in ("aws-access-key-id", "aws_access_key_id", "aws-secret-access-key", "aws_secret_access_key"):
        assert needle not in text


@pytest.mark.parametrize("name", ["preview.yml", "drift.yml"])
def test_read_only_roles_come_from_repository_variables_per_stack(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    for stack in ("staging", "prod"):
        assert f"${{{{ vars.AWS_PREVIEW_ROLE_ARN_{stack.upper()} }}}}" in text


# --- Shell safety and pinning ---------------------------------------------------------------------


def test_no_expression_is_expanded_inside_a_shell_script(workflows: dict[str, Any]) -> None:
    # Values reach scripts through `env:` only, so no event field, input or output can become shell code.
    for name, job_id, step in all_steps(workflows):
        if "run" in step:
            assert "${{" not in step["run"], f"{name}:{job_id} step {step.get('name', step['run'][:40])!r}"


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_every_third_party_action_is_pinned_to_a_commit_with_its_version(name: str) -> None:
    lines = [line for line in (WORKFLOWS / name).read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert lines, name
    for line in lines:
        reference = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        if reference.startswith("./"):
            continue  # this repository's own reusable workflows, at the caller's commit
        assert PINNED_USES.match(reference), f"{name}: {reference} is not pinned to a 40-hex commit"
        assert VERSION_COMMENT.search(line), f"{name}: {reference} has no `# vX.Y.Z` comment"


def test_one_version_of_each_action_across_workflows() -> None:
    pins: dict[str, set[str]] = {}
    for name in WORKFLOW_NAMES:
        for match in re.finditer(r"uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40})", (WORKFLOWS / name).read_text()):
            pins.setdefault(match[1], set()).add(match[2])
    assert pins
    assert {action: shas for action, shas in pins.items() if len(shas) > 1} == {}


def test_deploys_restore_no_caches(workflows: dict[str, Any]) -> None:
    # A cache written by one run and restored into a deploy is a way into production.
    for name in ("deploy.yml", "deploy-stack.yml", "drift.yml"):
        for job in jobs(workflows[name]).values():
            for step in steps(job):
                assert step.get("with", {}).get("enable-cache") in (None, False), name
                assert "cache-from" not in step.get("with", {}), name
                assert "--cache-from" not in str(step.get("run", "")), name


def test_pull_request_workflows_have_concurrency_groups(workflows: dict[str, Any]) -> None:
    for name in ("checks.yml", "preview.yml", "audit.yml"):
        concurrency = workflows[name]["concurrency"]
        assert "github.event.pull_request.number" in concurrency["group"], name
        assert concurrency["cancel-in-progress"], name


# --- Checks and lint wiring -----------------------------------------------------------------------


def test_checks_run_the_readme_commands_on_the_locked_environment(workflows: dict[str, Any]) -> None:
    checks = jobs(workflows["checks.yml"])
    commands = [s.get("run") for job in checks.values() for s in steps(job)]
    assert commands.count("uv sync --frozen") == len(checks)
    assert {"make lint", "make test"} <= set(commands)
    for job in checks.values():
        uv_setup = [s for s in steps(job) if uses(s, "astral-sh/setup-uv")]
        assert len(uv_setup) == 1
        assert uv_setup[0]["with"]["enable-cache"] is True


def test_preview_runs_the_policy_pack_and_comments_on_the_pull_request(workflows: dict[str, Any]) -> None:
    (preview,) = [s for _, _, s in all_steps(workflows) if s.get("with", {}).get("command") == "preview"]
    assert preview["with"]["policyPacks"] == "${{ env.POLICY_PACK }}"
    assert workflows["preview.yml"]["env"]["POLICY_PACK"] == "infra/policy"
    assert preview["with"]["comment-on-pr"] is True


def test_preview_skips_with_a_notice_when_the_cloud_is_not_configured(workflows: dict[str, Any]) -> None:
    preview_jobs = jobs(workflows["preview.yml"])
    (check,) = steps(preview_jobs["plan"])
    assert "::notice" in check["run"]
    assert "exit 1" not in check["run"]
    assert preview_jobs["preview"]["if"] == "needs.plan.outputs.stacks != '[]'"


def test_make_lint_runs_the_workflow_and_dockerfile_linters() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    lint_recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "scripts/lint-ci.sh" in lint_recipe


def test_ci_runs_the_python_version_the_image_runs(workflows: dict[str, Any]) -> None:
    image = re.search(
        r"^FROM python:(\d+\.\d+)\.\d+\S*@sha256:[0-9a-f]{64} AS ", (REPO_ROOT / "Dockerfile").read_text(), re.M
    )
    assert image, "the Dockerfile's base image is not a literal FROM python:X.Y.Z...@sha256:..."
    versions = {name: w.get("env", {}).get("PYTHON_VERSION") for name, w in workflows.items()}
    versions = {name: version for name, version in versions.items() if version is not None}
    assert set(versions.values()) == {image[1]}
    python_jobs = {name for name, _, s in all_steps(workflows) if uses(s, "actions/setup-python")}
    assert python_jobs == set(versions)


def test_every_secret_and_variable_the_workflows_read_is_documented() -> None:
    guide = (REPO_ROOT / "docs" / "deploying.md").read_text()
    names = {
        match[1]
        for name in WORKFLOW_NAMES
        for match in re.finditer(r"\b(?:vars|secrets)\.([A-Z][A-Z0-9_]*)", (WORKFLOWS / name).read_text())
    }
    assert {"PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "AWS_ROLE_ARN", "SMOKE_API_KEY"} <= names
    assert {n for n in names if f"| `{n}`" not in guide and f", `{n}`" not in guide} == set()


def test_the_stack_outputs_the_workflows_read_are_exported_by_the_program(workflows: dict[str, Any]) -> None:
    program = (REPO_ROOT / "infra" / "__main__.py").read_text()
    read = {
        (name, key, value)
        for name, workflow in workflows.items()
        for key, value in workflow.get("env", {}).items()
        if key.startswith("OUTPUT_")
    }
    assert {key for _, key, _ in read} == {
        "OUTPUT_REPOSITORY_URL",
        "OUTPUT_SERVICE_URL",
        "OUTPUT_CLUSTER_NAME",
        "OUTPUT_SERVICE_NAME",
    }
    for name, key, value in read:
        assert f'pulumi.export("{value}"' in program, f"{name}: {key}={value} is not a stack output"


def test_the_workflows_read_the_container_the_program_defines(workflows: dict[str, Any]) -> None:
    service = (REPO_ROOT / "infra" / "components" / "service.py").read_text()
    names = {w["env"]["CONTAINER_NAME"] for w in workflows.values() if "CONTAINER_NAME" in w.get("env", {})}
    assert len(names) == 1
    assert f'CONTAINER_NAME = "{names.pop()}"' in service
    assert load("deploy-stack.yml")["env"]["CONTAINER_NAME"]
