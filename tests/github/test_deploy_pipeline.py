"""The deploy pipeline's shape: one build, one digest, staging before prod, each stack in its environment.

Prod deploys only after staging's smoke test and evaluation, with the same digest; the build job holds
no cloud credentials; a rollback by digest skips Checks and the build; nothing runs in the upstream
template repository but Checks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.github.workflows import (
    CHECKS,
    DEPLOY_STACK,
    REPO_ROOT,
    STACKS,
    Workflow,
    all_steps,
    ancestors,
    callers_of,
    deploy_job,
    jobs,
    load,
    load_all,
    needs,
    run_step,
    step_named,
    steps,
)


@pytest.fixture(scope="module")
def workflows() -> dict[str, Workflow]:
    return load_all()


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
        assert job["with"]["kind"] == "${{ needs.gate.outputs.kind }}", job_id


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
    # Stated rather than implied (a rollback skips Checks, and an implicit success() would then skip
    # both stacks): each stack needs the job before it to have succeeded, and a staging that skipped this
    # commit as superseded (commit order) does not send it to prod.
    assert staging["if"] == "${{ !cancelled() && needs.build.result == 'success' }}"
    assert prod["if"] == (
        "${{ !cancelled() && needs.staging.result == 'success' && needs.staging.outputs.deployed == 'true' }}"
    )
    for job in deploy.values():
        assert not {"always()", "failure()"} & set(re.findall(r"\w+\(\)", str(job.get("if", "")))), job.get("name")
    assert staging["with"]["run-evals"] is True
    assert prod["with"]["run-evals"] is False

    stack_job = deploy_job()
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
    assert evals["if"] == "steps.order.outputs.deploy == 'true' && inputs.run-evals"
    for step in steps(stack_job):
        assert not step.get("continue-on-error"), step.get("name")
        assert "always()" not in str(step.get("if", "")), step.get("name")


def test_pulumi_up_pins_the_image_config_to_the_digest(workflows: dict[str, Any]) -> None:
    stack_workflow = workflows["deploy-stack.yml"]
    job = deploy_job()
    _, up = step_named(job, "pulumi up")
    assert job["env"]["DIGEST"] == "${{ inputs.digest }}"
    assert 'pulumi config set --stack "$STACK" "$IMAGE_CONFIG_KEY" "$REPOSITORY@$DIGEST"' in up["run"]
    assert re.search(r'pulumi up --stack "\$STACK" --yes --policy-pack "\$POLICY_PACK"', up["run"])
    assert stack_workflow["env"]["IMAGE_CONFIG_KEY"] == "image"
    assert stack_workflow["env"]["POLICY_PACK"] == "infra/policy"


def test_each_stack_deploys_in_the_github_environment_named_after_it(workflows: dict[str, Any]) -> None:
    job = deploy_job()
    assert job["environment"]["name"] == "${{ inputs.stack }}"
    for job_id, caller in callers_of(workflows["deploy.yml"], DEPLOY_STACK).items():
        stack = caller["with"]["stack"]
        assert stack in STACKS, job_id
        assert (REPO_ROOT / f"Pulumi.{stack}.yaml").is_file(), f"no Pulumi stack file for {stack}"
        assert caller["permissions"] == {"contents": "read", "id-token": "write"}, job_id


def test_only_checks_run_in_the_upstream_template_repository(workflows: dict[str, Any]) -> None:
    deploy = jobs(workflows["deploy.yml"])
    guarded = {job_id for job_id, job in deploy.items() if "!github.event.repository.is_template" in str(job.get("if"))}
    assert guarded == {"gate"}
    for job_id in set(deploy) - guarded:
        assert "gate" in ancestors(deploy, job_id), f"{job_id} does not wait for the gate"
    # Checks run for every commit of main, deployable or not; everything else needs the gate's go.
    assert "needs.gate.outputs.enabled == 'true'" in deploy["build"]["if"]
    assert "needs.gate.result != 'failure'" in deploy["checks"]["if"]


def test_a_rollback_digest_from_the_dispatch_form_is_validated_before_use(workflows: dict[str, Any]) -> None:
    gate = jobs(workflows["deploy.yml"])["gate"]
    (check,) = steps(gate)
    assert check["env"]["REQUESTED_DIGEST"] == "${{ inputs.image-digest }}"
    assert "^sha256:[0-9a-f]{64}$" in check["run"]


# --- A rollback in an incident does not wait on Checks (issue 15, item 5) -------------------------


def test_a_rollback_by_digest_skips_checks_and_the_build(workflows: dict[str, Any]) -> None:
    deploy = jobs(workflows["deploy.yml"])
    checks = deploy["checks"]
    assert checks["uses"] == CHECKS
    assert "needs.gate.outputs.rollback-digest == ''" in checks["if"]
    # The build job still runs for a rollback (it only records the digest), so it must accept skipped Checks
    # then, and only then.
    build_if = " ".join(deploy["build"]["if"].split())
    assert "!cancelled()" in build_if
    assert "needs.checks.result == 'success'" in build_if
    assert "(needs.checks.result == 'skipped' && needs.gate.outputs.rollback-digest != '')" in build_if
    _, build_step = step_named(deploy["build"], "Build the image as an OCI archive")
    assert build_step["if"].startswith("env.ROLLBACK_DIGEST == ''")


@pytest.mark.parametrize(
    ("event", "digest", "kind"),
    [
        ("push", "", "push"),
        ("workflow_dispatch", "", "redeploy"),
        ("workflow_dispatch", "sha256:" + "a" * 64, "rollback"),
    ],
)
def test_the_gate_says_how_the_deploy_was_started(tmp_path: Path, event: str, digest: str, kind: str) -> None:
    (check,) = steps(jobs(load("deploy.yml"))["gate"])
    ran = run_step(
        check["run"],
        tmp_path,
        env={
            "GITHUB_EVENT_NAME": event,
            "DEFAULT_BRANCH": "main",
            "HAS_PULUMI_TOKEN": "true",
            "REQUESTED_DIGEST": digest,
            "REPOSITORY_HAS_SMOKE_API_KEY": "false",
        },
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.outputs == {"enabled": "true", "rollback-digest": digest, "kind": kind}


def test_zizmor_online_audits_run_on_their_own_and_never_in_checks(workflows: dict[str, Any]) -> None:
    checks_text = (REPO_ROOT / ".github" / "workflows" / "checks.yml").read_text()
    assert "GH_TOKEN" not in checks_text
    assert "zizmor --no-progress .github" not in checks_text  # `make lint` runs it with --offline
    audit = workflows["audit.yml"]
    assert audit["on"]["pull_request"] == {"paths": [".github/**"]}
    assert "schedule" in audit["on"]
    runs = [s for _, _, s in all_steps({"audit.yml": audit}) if "zizmor" in str(s.get("run", ""))]
    assert [s["run"] for s in runs] == ["uv run --frozen zizmor --no-progress .github"]
    assert runs[0]["env"] == {"GH_TOKEN": "${{ github.token }}"}
    # Nothing that deploys waits on it.
    for name in ("deploy.yml", "deploy-stack.yml"):
        assert "audit.yml" not in (REPO_ROOT / ".github" / "workflows" / name).read_text()


def test_the_staging_evaluation_streams_so_its_report_records_time_to_first_token() -> None:
    _, evals = step_named(deploy_job(), "Evaluation suite")
    assert re.search(r"args=\(--target \"\$EVALS_BASE_URL\"[^)]*--stream\)", evals["run"])
    assert 'python -m evals "${args[@]}"' in evals["run"]
