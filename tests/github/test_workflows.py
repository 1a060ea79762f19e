"""The promises the GitHub Actions workflows make, checked on their parsed YAML.

The workflows cannot run here (no GitHub, no AWS), so these tests hold them to what the deploy
design depends on: prod deploys only after staging's smoke test and with the same digest, each
stack deploys in its own environment with its own OIDC role, every job is time-boxed and holds
only the permissions it uses, and nothing untrusted is expanded into a shell.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
WORKFLOW_NAMES = ("checks.yml", "preview.yml", "deploy.yml", "deploy-stack.yml")
STACKS = ("staging", "prod")
DEPLOY_STACK = "./.github/workflows/deploy-stack.yml"
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+)*\s*$")
# Write scopes a job may hold, and why: everything else is read-only or absent.
WRITE_SCOPES = {"id-token", "pull-requests"}

Job = dict[str, Any]


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(document, dict), name
    # YAML 1.1 reads the key `on` as the boolean True.
    document["on"] = document.pop(True, document.get("on"))
    return document


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return {name: load(name) for name in WORKFLOW_NAMES}


def jobs(workflow: dict[str, Any]) -> dict[str, Job]:
    found = workflow["jobs"]
    assert isinstance(found, dict)
    return found


def steps(job: Job) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def all_steps(workflows: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, workflow in workflows.items():
        for job_id, job in jobs(workflow).items():
            for step in steps(job):
                yield name, job_id, step


def step_named(job: Job, fragment: str) -> tuple[int, dict[str, Any]]:
    matches = [(i, s) for i, s in enumerate(steps(job)) if fragment in str(s.get("name", ""))]
    assert len(matches) == 1, f"expected one step named like {fragment!r}, found {len(matches)}"
    return matches[0]


def needs(job: Job) -> set[str]:
    value = job.get("needs", [])
    return {value} if isinstance(value, str) else set(value)


def ancestors(all_jobs: dict[str, Job], job_id: str) -> set[str]:
    found: set[str] = set()
    pending = list(needs(all_jobs[job_id]))
    while pending:
        current = pending.pop()
        if current not in found:
            found.add(current)
            pending.extend(needs(all_jobs[current]))
    return found


def callers_of(workflow: dict[str, Any], path: str) -> dict[str, Job]:
    return {job_id: job for job_id, job in jobs(workflow).items() if job.get("uses") == path}


# --- Triggers -------------------------------------------------------------------------------------


def test_checks_run_on_pull_requests_and_pushes_and_deploy_can_call_them(workflows: dict[str, Any]) -> None:
    triggers = workflows["checks.yml"]["on"]
    assert {"pull_request", "push", "workflow_call"} <= set(triggers)


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
            assert 0 < timeout <= 60, f"{name}:{job_id} timeout-minutes={timeout}"


def test_workflows_grant_nothing_by_default_and_every_job_declares_its_permissions(
    workflows: dict[str, Any],
) -> None:
    for name, workflow in workflows.items():
        assert workflow.get("permissions") == {}, f"{name}: top-level permissions must be {{}}"
        for job_id, job in jobs(workflow).items():
            assert isinstance(job.get("permissions"), dict), f"{name}:{job_id} declares no permissions"


def test_jobs_write_only_where_they_must(workflows: dict[str, Any]) -> None:
    for name, workflow in workflows.items():
        for job_id, job in jobs(workflow).items():
            for scope, level in job["permissions"].items():
                assert level in {"read", "write", "none"}, f"{name}:{job_id} {scope}: {level}"
                if level == "write":
                    assert scope in WRITE_SCOPES, f"{name}:{job_id} may not write {scope}"


def assumes_aws_role(workflows: dict[str, Any], job: Job) -> bool:
    if job.get("uses") == DEPLOY_STACK:
        return any(assumes_aws_role(workflows, j) for j in jobs(workflows["deploy-stack.yml"]).values())
    return any(str(s.get("uses", "")).startswith(AWS_CREDENTIALS_ACTION) for s in steps(job))


def test_only_jobs_that_assume_an_aws_role_can_request_an_oidc_token(workflows: dict[str, Any]) -> None:
    for name, workflow in workflows.items():
        for job_id, job in jobs(workflow).items():
            wants_token = job["permissions"].get("id-token") == "write"
            assert wants_token == assumes_aws_role(workflows, job), f"{name}:{job_id}"


def test_only_the_preview_job_writes_to_pull_requests(workflows: dict[str, Any]) -> None:
    writers = {
        (name, job_id)
        for name, workflow in workflows.items()
        for job_id, job in jobs(workflow).items()
        if job["permissions"].get("pull-requests") == "write"
    }
    assert writers == {("preview.yml", "preview")}


# --- AWS access -----------------------------------------------------------------------------------


def test_aws_access_is_oidc_with_a_role_from_variables(workflows: dict[str, Any]) -> None:
    credential_steps = [
        s for _, _, s in all_steps(workflows) if str(s.get("uses", "")).startswith(AWS_CREDENTIALS_ACTION)
    ]
    assert len(credential_steps) == 2  # preview and deploy-stack
    for step in credential_steps:
        inputs = step["with"]
        assert re.fullmatch(r"\$\{\{ (vars\.AWS_ROLE_ARN|matrix\.role) \}\}", inputs["role-to-assume"])
        assert inputs["aws-region"] == "${{ vars.AWS_REGION }}"
        assert not {"aws-access-key-id", "aws-secret-access-key", "aws-session-token"} & set(inputs)


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_no_static_aws_keys_appear_anywhere(name: str) -> None:
    text = (WORKFLOWS / name).read_text().lower()
    for needle in ("aws-access-key-id", "aws_access_key_id", "aws-secret-access-key", "aws_secret_access_key"):
        assert needle not in text


def test_preview_roles_come_from_repository_variables_per_stack() -> None:
    text = (WORKFLOWS / "preview.yml").read_text()
    for stack in STACKS:
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
    for name in ("deploy.yml", "deploy-stack.yml"):
        for job in jobs(workflows[name]).values():
            for step in steps(job):
                assert step.get("with", {}).get("enable-cache") in (None, False), name
                assert "cache-from" not in step.get("with", {}), name


# --- Concurrency ----------------------------------------------------------------------------------


def test_two_deploys_of_one_stack_never_overlap(workflows: dict[str, Any]) -> None:
    (job,) = jobs(workflows["deploy-stack.yml"]).values()
    assert job["concurrency"] == {"group": "deploy-${{ inputs.stack }}", "cancel-in-progress": False}


def test_pull_request_workflows_have_concurrency_groups(workflows: dict[str, Any]) -> None:
    for name in ("checks.yml", "preview.yml"):
        concurrency = workflows[name]["concurrency"]
        assert "github.event.pull_request.number" in concurrency["group"], name
        assert concurrency["cancel-in-progress"], name


# --- The deploy pipeline --------------------------------------------------------------------------


def test_deploy_builds_once_and_both_stacks_deploy_the_build_jobs_digest(workflows: dict[str, Any]) -> None:
    deploy = jobs(workflows["deploy.yml"])
    build = deploy["build"]
    assert build["outputs"]["digest"] == "${{ steps.digest.outputs.digest }}"
    assert any(s.get("id") == "digest" for s in steps(build))
    assert sum("docker buildx build" in str(s.get("run", "")) for _, _, s in all_steps(workflows)) == 1

    callers = callers_of(workflows["deploy.yml"], DEPLOY_STACK)
    assert {job["with"]["stack"] for job in callers.values()} == set(STACKS)
    for job_id, job in callers.items():
        assert "build" in needs(job), job_id
        assert job["with"]["digest"] == "${{ needs.build.outputs.digest }}", job_id


def test_the_build_job_holds_no_cloud_credentials(workflows: dict[str, Any]) -> None:
    build = jobs(workflows["deploy.yml"])["build"]
    assert build["permissions"] == {"contents": "read"}
    assert "environment" not in build


def test_prod_deploys_only_after_staging_passed_its_smoke_test_and_evals(workflows: dict[str, Any]) -> None:
    deploy = jobs(workflows["deploy.yml"])
    callers = callers_of(workflows["deploy.yml"], DEPLOY_STACK)
    by_stack = {job["with"]["stack"]: job_id for job_id, job in callers.items()}
    prod, staging = deploy[by_stack["prod"]], deploy[by_stack["staging"]]
    assert by_stack["staging"] in ancestors(deploy, by_stack["prod"])
    assert "if" not in prod, "prod must not override the default `needs` success condition"
    assert staging["with"]["run-evals"] is True
    assert prod["with"]["run-evals"] is False

    (stack_job,) = jobs(workflows["deploy-stack.yml"]).values()
    up_index, _ = step_named(stack_job, "pulumi up")
    rollout_index, rollout = step_named(stack_job, "Wait until ECS runs the image")
    smoke_index, smoke = step_named(stack_job, "Smoke test")
    evals_index, evals = step_named(stack_job, "Evaluation suite")
    assert up_index < rollout_index < smoke_index < evals_index
    # The smoke test must see the new image: the rollout wait fails when ECS runs anything else.
    assert rollout["env"]["IMAGE"] == "${{ steps.registry.outputs.repository }}@${{ inputs.digest }}"
    assert 'grep -qxF "$IMAGE"' in rollout["run"]
    assert "scripts/smoke_test.py" in smoke["run"]
    assert smoke["env"]["SMOKE_BASE_URL"] == "${{ steps.up.outputs.service-url }}"
    assert evals["if"] == "inputs.run-evals"
    for step in steps(stack_job):
        assert not step.get("continue-on-error"), step.get("name")
        assert "always()" not in str(step.get("if", "")), step.get("name")


def test_pulumi_up_pins_the_image_config_to_the_digest(workflows: dict[str, Any]) -> None:
    stack_workflow = workflows["deploy-stack.yml"]
    (job,) = jobs(stack_workflow).values()
    _, up = step_named(job, "pulumi up")
    assert job["env"]["DIGEST"] == "${{ inputs.digest }}"
    assert 'pulumi config set --stack "$STACK" "$IMAGE_CONFIG_KEY" "$REPOSITORY@$DIGEST"' in up["run"]
    assert re.search(r'pulumi up --stack "\$STACK" --yes --policy-pack "\$POLICY_PACK"', up["run"])
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["name"]
    assert stack_workflow["env"]["IMAGE_CONFIG_KEY"] == f"{project}:image"
    assert stack_workflow["env"]["POLICY_PACK"] == "infra/policy"


def test_each_stack_deploys_in_the_github_environment_named_after_it(workflows: dict[str, Any]) -> None:
    (job,) = jobs(workflows["deploy-stack.yml"]).values()
    assert job["environment"]["name"] == "${{ inputs.stack }}"
    for job_id, caller in callers_of(workflows["deploy.yml"], DEPLOY_STACK).items():
        stack = caller["with"]["stack"]
        assert stack in STACKS, job_id
        assert (REPO_ROOT / f"Pulumi.{stack}.yaml").is_file(), f"no Pulumi stack file for {stack}"
        assert caller["permissions"] == {"contents": "read", "id-token": "write"}, job_id


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


def test_preview_reads_the_image_of_the_container_the_program_defines(workflows: dict[str, Any]) -> None:
    service = (REPO_ROOT / "infra" / "components" / "service.py").read_text()
    container = workflows["preview.yml"]["env"]["CONTAINER_NAME"]
    assert f'CONTAINER_NAME = "{container}"' in service


def test_deploy_jobs_are_skipped_in_the_upstream_template_repository(workflows: dict[str, Any]) -> None:
    deploy = jobs(workflows["deploy.yml"])
    guarded = {job_id for job_id, job in deploy.items() if "!github.event.repository.is_template" in str(job.get("if"))}
    assert guarded == {"gate"}
    for job_id in set(deploy) - guarded:
        assert "gate" in ancestors(deploy, job_id), f"{job_id} does not wait for the gate"


def test_a_rollback_digest_from_the_dispatch_form_is_validated_before_use(workflows: dict[str, Any]) -> None:
    gate = jobs(workflows["deploy.yml"])["gate"]
    (check,) = steps(gate)
    assert check["env"]["REQUESTED_DIGEST"] == "${{ inputs.image-digest }}"
    assert "^sha256:[0-9a-f]{64}$" in check["run"]


# --- Checks and lint wiring -----------------------------------------------------------------------


def test_checks_run_the_readme_commands_on_the_locked_environment(workflows: dict[str, Any]) -> None:
    checks = jobs(workflows["checks.yml"])
    commands = [s.get("run") for job in checks.values() for s in steps(job)]
    assert commands.count("uv sync --frozen") == len(checks)
    assert {"make lint", "make test"} <= set(commands)
    for job in checks.values():
        uv_setup = [s for s in steps(job) if str(s.get("uses", "")).startswith("astral-sh/setup-uv@")]
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
    image = re.search(r"^ARG PYTHON_IMAGE=python:(\d+\.\d+)", (REPO_ROOT / "Dockerfile").read_text(), re.M)
    assert image, "the Dockerfile names no PYTHON_IMAGE"
    versions = {name: w.get("env", {}).get("PYTHON_VERSION") for name, w in workflows.items()}
    versions = {name: version for name, version in versions.items() if version is not None}
    assert versions == dict.fromkeys(("checks.yml", "preview.yml", "deploy-stack.yml"), image[1])


def test_every_secret_and_variable_the_workflows_read_is_documented() -> None:
    guide = (REPO_ROOT / "docs" / "deploying.md").read_text()
    names = {
        match[1]
        for name in WORKFLOW_NAMES
        for match in re.finditer(r"\b(?:vars|secrets)\.([A-Z][A-Z0-9_]*)", (WORKFLOWS / name).read_text())
    }
    assert {"PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "AWS_ROLE_ARN", "SMOKE_API_KEY"} <= names
    assert {n for n in names if f"| `{n}`" not in guide and f", `{n}`" not in guide} == set()
