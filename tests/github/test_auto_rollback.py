"""A failed smoke test or evaluation after `pulumi up` puts back what ran before (issue 15, item 4).

ECS's circuit breaker reacts to health checks only: an image that is healthy but wrong keeps serving.
The stack's job records the image the service runs before `pulumi up`, and when the smoke test or the
evaluation fails after a successful `up`, it deploys that image again and says so in the job summary.
"""

from __future__ import annotations

from pathlib import Path

from infra.project import PROJECT
from tests.github.workflows import deploy_job, literal_env, load, run_step, step_named, step_with_id, steps

REPOSITORY = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{PROJECT}-prod"
NEW = "sha256:" + "1" * 64
OLD_IMAGE = f"{REPOSITORY}@sha256:{'0' * 64}"


def test_the_running_image_is_recorded_before_pulumi_up() -> None:
    job = deploy_job()
    before_index, before = step_with_id(job, "before")
    up_index, _ = step_with_id(job, "up")
    assert before_index < up_index
    assert "deployments[?status=='PRIMARY']" in before["run"]


def test_the_rollback_runs_only_when_the_smoke_test_or_the_evaluation_failed_after_a_successful_up() -> None:
    job = deploy_job()
    rollback_index, rollback = step_with_id(job, "rollback")
    assert rollback_index == len(steps(job)) - 1
    assert rollback["if"] == (
        "failure() && steps.up.outcome == 'success'"
        " && (steps.smoke.outcome == 'failure' || steps.evals.outcome == 'failure')"
    )
    assert rollback["env"]["PREVIOUS_IMAGE"] == "${{ steps.before.outputs.image }}"
    # Steps that can fail it have their own time box, so a hung check fails (and rolls back) rather than
    # running into the job's timeout, which would cancel the job, rollback included.
    for step_id in ("smoke", "evals", "rollback"):
        _, step = step_with_id(job, step_id)
        assert step["timeout-minutes"] < job["timeout-minutes"] / 2, step_id
    # Only the rollback runs after a failure; nothing is allowed to fail quietly.
    for step in steps(job):
        assert not step.get("continue-on-error"), step.get("name")
        if step.get("id") != "rollback":
            assert "failure()" not in str(step.get("if", "")), step.get("name")


def _aws_answering(task_definition_image: str) -> str:
    return f"""case "$*" in
  *describe-services*) echo "arn:aws:ecs:us-east-1:1:task-definition/api:8" ;;
  *describe-task-definition*) echo "{task_definition_image}" ;;
esac"""


def test_the_record_step_names_the_image_the_primary_deployment_runs(tmp_path: Path) -> None:
    _, before = step_with_id(deploy_job(), "before")
    ran = run_step(
        before["run"],
        tmp_path,
        env={**literal_env(load("deploy-stack.yml")), "STACK": "prod", "STACK_NAME": "prod"},
        commands={
            "pulumi": 'case "$3" in cluster_name) echo c ;; service_name) echo api ;; esac',
            "aws": _aws_answering(OLD_IMAGE),
        },
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.outputs == {"cluster": "c", "service": "api", "image": OLD_IMAGE}


def rollback(tmp_path: Path, previous: str, running_after: str) -> tuple[int, str, list[list[str]]]:
    _, step = step_with_id(deploy_job(), "rollback")
    ran = run_step(
        step["run"],
        tmp_path,
        env={
            **literal_env(load("deploy-stack.yml")),
            "STACK": "prod",
            "STACK_NAME": "prod",
            "DIGEST": NEW,
            "PREVIOUS_IMAGE": previous,
            "FAILED": "smoke test",
            "CLUSTER": "c",
            "SERVICE": "api",
            "COVERS": "a" * 40,
        },
        commands={"pulumi": "", "aws": _aws_answering(running_after)},
    )
    return ran.returncode, ran.stdout + ran.summary, ran.calls


def test_a_failed_smoke_test_puts_the_previous_image_back_and_says_so(tmp_path: Path) -> None:
    status, text, calls = rollback(tmp_path, OLD_IMAGE, OLD_IMAGE)
    assert status == 0, text
    pulumi = [c for c in calls if c[0] == "pulumi"]
    assert pulumi[0] == ["pulumi", "config", "set", "--stack", "prod", "image", OLD_IMAGE]
    up = pulumi[1]
    assert up[:6] == ["pulumi", "up", "--stack", "prod", "--yes", "--policy-pack"]
    message = up[up.index("--message") + 1]
    assert message.endswith(f"[ci run=5000 kind=auto-rollback covers={'a' * 40}]")
    assert "### Rolled back automatically" in text
    assert OLD_IMAGE in text


def test_a_rollback_that_ecs_does_not_carry_out_fails_loudly(tmp_path: Path) -> None:
    status, text, _ = rollback(tmp_path, OLD_IMAGE, f"{REPOSITORY}@{NEW}")
    assert status == 1
    assert "not " + OLD_IMAGE in text


def test_with_nothing_to_return_to_the_summary_says_the_stack_was_not_rolled_back(tmp_path: Path) -> None:
    status, text, calls = rollback(tmp_path, "", "")
    assert status == 1
    assert "### Not rolled back" in text
    assert not [c for c in calls if c[0] == "pulumi"]


def test_the_smoke_test_step_is_the_one_the_rollback_watches() -> None:
    job = deploy_job()
    _, smoke = step_named(job, "Smoke test")
    _, evals = step_named(job, "Evaluation suite")
    assert (smoke["id"], evals["id"]) == ("smoke", "evals")
