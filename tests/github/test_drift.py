"""The scheduled drift check, and Preview's notice for Dependabot's pull requests.

Drift: every day, per stack, with its read-only preview role, the cloud must still match the state
(`pulumi refresh --preview-only --expect-no-changes`, secret values left out) and main's program must
match the state (`pulumi preview --expect-no-changes`). A scheduled run that finds either fails and
opens (or comments on) one issue.
"""

from __future__ import annotations

from pathlib import Path

from tests.github.workflows import jobs, load, run_step, step_named, steps


def test_drift_runs_on_a_schedule_and_by_hand() -> None:
    triggers = load("drift.yml")["on"]
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert triggers["schedule"][0]["cron"]


def test_each_stack_is_checked_against_the_cloud_and_against_the_program() -> None:
    drift = jobs(load("drift.yml"))["drift"]
    assert drift["strategy"]["fail-fast"] is False
    pin_index, _ = step_named(drift, "Pin the image the stack runs now")
    cloud_index, cloud = step_named(drift, "The cloud matches the state")
    code_index, code = step_named(drift, "The program matches the state")
    assert pin_index < cloud_index < code_index
    assert 'pulumi refresh --stack "$STACK" --preview-only --expect-no-changes' in cloud["run"]
    assert "aws:secretsmanager/secretVersion:SecretVersion" in cloud["run"]
    assert 'pulumi preview --stack "$STACK" --expect-no-changes' in code["run"]
    # Both run, so one run reports both kinds of difference.
    assert code["if"] == "${{ !cancelled() && steps.pin.outcome == 'success' }}"


def test_the_refresh_leaves_out_only_secret_values(tmp_path: Path) -> None:
    _, cloud = step_named(jobs(load("drift.yml"))["drift"], "The cloud matches the state")
    export = (
        '{"deployment": {"resources": ['
        '{"type": "aws:secretsmanager/secretVersion:SecretVersion", "urn": "urn:a"},'
        '{"type": "aws:secretsmanager/secret:Secret", "urn": "urn:b"},'
        '{"type": "aws:secretsmanager/secretVersion:SecretVersion", "urn": "urn:c"}]}}'
    )
    pulumi = f"""case "$1" in
  stack) echo '{export}' ;;
  refresh) exit 255 ;;
esac"""
    ran = run_step(cloud["run"], tmp_path, env={"STACK": "prod"}, commands={"pulumi": pulumi})
    assert ran.returncode == 1
    (refresh,) = ran.called("pulumi", "refresh")
    assert refresh[refresh.index("--non-interactive") + 1 :] == ["--exclude", "urn:a", "--exclude", "urn:c"]
    assert "changed outside Pulumi" in ran.summary


def test_a_failed_scheduled_check_opens_or_updates_one_issue(tmp_path: Path) -> None:
    workflow = load("drift.yml")
    report = jobs(workflow)["report"]
    assert report["needs"] == "drift"
    assert report["if"] == "failure() && github.event_name == 'schedule'"
    assert report["permissions"] == {"issues": "write"}
    (step,) = steps(report)
    env = {
        "ISSUE_TITLE": workflow["env"]["ISSUE_TITLE"],
        "RUN_URL": "https://github.com/acme/openai-api/actions/runs/5000",
    }

    opened = run_step(step["run"], tmp_path, env=env, commands={"gh": ""})
    assert opened.returncode == 0, opened.stderr
    assert opened.called("gh", "issue", "create", "--title", "Infrastructure drift")

    commented = run_step(step["run"], tmp_path, env=env, commands={"gh": 'if [[ "$2" == list ]]; then echo 17; fi'})
    assert commented.returncode == 0, commented.stderr
    (comment,) = commented.called("gh", "issue", "comment")
    assert comment[3] == "17"
    assert not commented.called("gh", "issue", "create")


def test_dependabot_pull_requests_get_their_own_notice_and_no_preview(tmp_path: Path) -> None:
    (check,) = steps(jobs(load("preview.yml"))["plan"])
    assert check["env"]["ACTOR"] == "${{ github.actor }}"
    ran = run_step(
        check["run"],
        tmp_path,
        env={
            "ACTOR": "dependabot[bot]",
            "HEAD_REPOSITORY": "acme/openai-api",
            "HAS_PULUMI_TOKEN": "true",
            "AWS_PREVIEW_ROLE_ARN_STAGING": "arn:aws:iam::1:role/preview",
            "AWS_PREVIEW_ROLE_ARN_PROD": "arn:aws:iam::1:role/preview",
        },
    )
    assert ran.returncode == 0
    assert ran.outputs == {"stacks": "[]"}
    assert "::notice title=Preview skipped::Dependabot" in ran.stdout
