"""Deploys of main apply in commit order; a rollback is explicit (issue 15, item 3).

Per-stack concurrency groups stop two deploys overlapping but not reordering: an older run that finishes
Checks later would deploy an older digest over a newer one, and a newer waiting deploy used to cancel an
older waiting one, a rollback included. Now waiting deploys queue, and each CI update records which run
made it and which commit of main it accounts for; a pushed commit deploys only if it is newer than that.
The step's script runs here against a real git history and a stand-in `pulumi stack history`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.github.workflows import deploy_job, linear_history, run_step, step_named, step_with_id, steps

RUN = "5000"


def history(*entries: tuple[str, str, str] | str) -> str:
    """`pulumi stack history --json`, newest first: (run, kind, covers) for CI updates, text for others."""
    updates = []
    for version, entry in zip(range(len(entries), 0, -1), entries, strict=True):
        if isinstance(entry, str):
            message = entry
        else:
            run, kind, covers = entry
            message = f"Deploy sha256:{'d' * 64} from {covers} [ci run={run} kind={kind} covers={covers}]"
        updates.append({"version": version, "kind": "update", "result": "succeeded", "message": message})
    return json.dumps(updates)


def decide(tmp_path: Path, commits: list[str], this: str, kind: str, recorded: str) -> tuple[int, dict[str, str], str]:
    _, order = step_with_id(deploy_job(), "order")
    (tmp_path / "history.json").write_text(recorded)
    ran = run_step(
        order["run"],
        tmp_path,
        cwd=tmp_path / "repo",
        env={"GITHUB_SHA": this, "GITHUB_RUN_ID": RUN, "KIND": kind, "STACK": "prod", "STACK_NAME": "prod"},
        commands={"pulumi": f'[[ "$1 $2" == "stack history" ]] && cat {tmp_path / "history.json"}'},
    )
    return ran.returncode, ran.outputs, ran.stdout + ran.summary


@pytest.fixture
def commits(tmp_path: Path) -> list[str]:
    return linear_history(tmp_path / "repo", 4)


def test_waiting_deploys_queue_instead_of_replacing_each_other() -> None:
    assert deploy_job()["concurrency"] == {
        "group": "deploy-${{ inputs.stack }}",
        "cancel-in-progress": False,
        "queue": "max",
    }


def test_the_order_is_checked_inside_the_stacks_group_before_anything_changes() -> None:
    job = deploy_job()
    order_index, _ = step_with_id(job, "order")
    push_index, _ = step_named(job, "Put the image in the stack's repository")
    up_index, up = step_named(job, "pulumi up")
    assert order_index < push_index < up_index
    assert "[ci run=$GITHUB_RUN_ID kind=$KIND covers=$COVERS]" in up["run"]
    assert up["env"]["COVERS"] == "${{ steps.order.outputs.covers }}"
    for step in steps(job)[order_index + 1 :]:
        if step.get("id") != "rollback":
            assert "steps.order.outputs.deploy == 'true'" in step["if"] or "steps.present.outputs" in step["if"], (
                step.get("name")
            )
    assert job["outputs"]["deployed"] == "${{ steps.order.outputs.deploy }}"
    checkout = next(s for s in steps(job) if "actions/checkout" in str(s.get("uses")))
    assert checkout["with"]["fetch-depth"] == 0  # main's history, to tell older from newer


def test_a_stacks_first_ci_deploy_applies(tmp_path: Path, commits: list[str]) -> None:
    status, outputs, _ = decide(tmp_path, commits, commits[0], "push", history("pulumi up from a laptop"))
    assert status == 0
    assert outputs == {"covers": commits[0], "deploy": "true"}


def test_a_newer_commit_deploys_over_an_older_one(tmp_path: Path, commits: list[str]) -> None:
    status, outputs, _ = decide(tmp_path, commits, commits[2], "push", history("laptop", ("4000", "push", commits[1])))
    assert (status, outputs["deploy"]) == (0, "true")


def test_an_older_commit_that_finished_checks_later_is_not_deployed_over_a_newer_one(
    tmp_path: Path, commits: list[str]
) -> None:
    status, outputs, text = decide(tmp_path, commits, commits[1], "push", history(("4001", "push", commits[2])))
    assert (status, outputs["deploy"]) == (0, "false")
    assert "::notice" in text
    assert commits[2] in text


def test_a_rerun_of_the_run_that_deployed_last_applies_again(tmp_path: Path, commits: list[str]) -> None:
    status, outputs, _ = decide(tmp_path, commits, commits[2], "push", history((RUN, "push", commits[2])))
    assert (status, outputs["deploy"]) == (0, "true")


def test_a_push_that_a_rollback_already_accounted_for_does_not_undo_it(tmp_path: Path, commits: list[str]) -> None:
    # The rollback ran while main's tip was commits[3]; that commit's own run arrives afterwards.
    status, outputs, text = decide(tmp_path, commits, commits[3], "push", history(("4002", "rollback", commits[3])))
    assert (status, outputs["deploy"]) == (0, "false")
    assert "rollback" in text


def test_a_push_after_an_automatic_rollback_of_the_same_commit_is_not_redeployed(
    tmp_path: Path, commits: list[str]
) -> None:
    status, outputs, _ = decide(tmp_path, commits, commits[2], "push", history(("4003", "auto-rollback", commits[2])))
    assert outputs["deploy"] == "false"
    status, outputs, _ = decide(tmp_path, commits, commits[3], "push", history(("4003", "auto-rollback", commits[2])))
    assert (status, outputs["deploy"]) == (0, "true")


@pytest.mark.parametrize("kind", ["rollback", "redeploy"])
def test_a_deploy_by_hand_applies_whatever_ran_and_accounts_for_mains_tip(
    tmp_path: Path, commits: list[str], kind: str
) -> None:
    # Dispatched at commits[1]; main has moved on to commits[3] by the time the job runs.
    status, outputs, _ = decide(tmp_path, commits, commits[1], kind, history(("4004", "push", commits[3])))
    assert status == 0
    assert outputs == {"covers": commits[3], "deploy": "true"}


def test_a_deploy_recorded_on_a_commit_main_no_longer_has_stops_the_run(tmp_path: Path, commits: list[str]) -> None:
    status, _, text = decide(tmp_path, commits, commits[3], "push", history(("4005", "push", "e" * 40)))
    assert status == 1
    assert "Run Deploy by hand" in text
