"""Re-runs and artifact storage (issue 15, items 1 and 2).

"Re-run all jobs" keeps the run's artifacts, so a second build would upload a second `image-oci` (which
upload-artifact v4 refuses with 409 Conflict) and push a second image for the commit. The build job
therefore reuses what an earlier attempt of the run built; each stack pushes only what its registry
lacks. The archive (100-300 MB) is deleted as soon as both registries hold the image, and kept at most
a week when a run never gets there.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.github.workflows import Job, deploy_job, jobs, load, run_step, step_named, step_with_id, steps, uses

DIGEST = "sha256:" + "c" * 64


def build_job() -> Job:
    return jobs(load("deploy.yml"))["build"]


def test_the_build_job_looks_for_an_earlier_attempts_digest_before_building() -> None:
    build = build_job()
    look_index, look = step_named(build, "Find the image an earlier attempt of this run built")
    assert uses(look, "actions/download-artifact")
    # A pattern matches nothing without failing, as on a run's first attempt; `name:` would fail.
    assert look["with"] == {"pattern": "${{ env.DIGEST_ARTIFACT }}", "path": "${{ runner.temp }}/earlier"}
    build_index, _ = step_named(build, "Build the image as an OCI archive")
    assert look_index < build_index
    for index, step in enumerate(steps(build)):
        if index > look_index and (
            "checkout" in str(step.get("uses")) or "buildx" in str(step) or uses(step, "actions/upload-artifact")
        ):
            assert "steps.earlier.outputs.digest == ''" in step["if"], step.get("name", step.get("uses"))


def test_uploads_replace_what_an_interrupted_attempt_left_and_the_digest_comes_last() -> None:
    build = build_job()
    uploads = [s for s in steps(build) if uses(s, "actions/upload-artifact")]
    assert [u["with"]["name"] for u in uploads] == ["${{ env.IMAGE_ARTIFACT }}", "${{ env.DIGEST_ARTIFACT }}"]
    assert all(u["with"]["overwrite"] is True for u in uploads)
    assert load("deploy.yml")["env"]["DIGEST_ARTIFACT"] == "image-digest"


def test_an_attempt_reuses_the_digest_an_earlier_attempt_built(tmp_path: Path) -> None:
    build = build_job()
    earlier = tmp_path / "earlier" / "image-digest"
    earlier.mkdir(parents=True)
    (earlier / "digest").write_text(DIGEST + "\n")
    _, reuse = step_with_id(build, "earlier")
    env = {"ROLLBACK_DIGEST": "", "EARLIER": str(earlier / "digest")}
    found = run_step(reuse["run"], tmp_path, env=env)
    assert found.returncode == 0, found.stderr
    assert found.outputs == {"digest": DIGEST}

    _, record = step_with_id(build, "digest")
    recorded = run_step(record["run"], tmp_path, env={"ROLLBACK_DIGEST": "", "EARLIER_DIGEST": DIGEST})
    assert recorded.returncode == 0, recorded.stderr
    assert recorded.outputs == {"digest": DIGEST, "built": "true"}
    assert "earlier attempt" in recorded.summary


def test_a_first_attempt_records_the_archives_digest_for_the_next_one(tmp_path: Path) -> None:
    _, record = step_with_id(build_job(), "digest")
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "index.json").write_text(json.dumps({"manifests": [{"digest": DIGEST}]}))
    run_step(f"tar -C {layout} -cf image.tar index.json", tmp_path)
    recorded = run_step(record["run"], tmp_path, env={"ROLLBACK_DIGEST": "", "EARLIER_DIGEST": ""})
    assert recorded.returncode == 0, recorded.stderr
    assert recorded.outputs == {"digest": DIGEST, "built": "true"}
    assert (tmp_path / "digest" / "digest").read_text().strip() == DIGEST


def test_a_stack_pushes_only_what_its_registry_lacks() -> None:
    job = deploy_job()
    present_index, _ = step_with_id(job, "present")
    download_index, download = next((i, s) for i, s in enumerate(steps(job)) if uses(s, "actions/download-artifact"))
    push_index, push = step_named(job, "Put the image in the stack's repository")
    assert present_index < download_index < push_index
    assert download["if"] == "steps.present.outputs.present == 'false' && inputs.push-image"
    assert "pattern" in download["with"]  # an archive already deleted is reported by the push step
    assert push["if"] == "steps.present.outputs.present == 'false'"
    assert "gone" in push["run"]


def test_a_rerun_finds_the_image_its_first_attempt_pushed(tmp_path: Path) -> None:
    _, present = step_with_id(deploy_job(), "present")
    aws = f'echo "{DIGEST}"'  # ECR knows the commit's tag and the digest: both point at this image
    ran = run_step(
        present["run"],
        tmp_path,
        env={"REPOSITORY": "1.dkr.ecr/api", "DIGEST": DIGEST, "KIND": "push", "GITHUB_SHA": "f" * 40},
        commands={"aws": aws},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.outputs == {"present": "true"}


# --- Storage -------------------------------------------------------------------------------------


def test_the_archive_is_kept_a_week_at_most_and_deleted_once_prod_has_the_image() -> None:
    deploy = jobs(load("deploy.yml"))
    (archive,) = [
        s
        for s in steps(deploy["build"])
        if uses(s, "actions/upload-artifact") and "IMAGE_ARTIFACT" in s["with"]["name"]
    ]
    assert archive["with"]["retention-days"] == 7
    forget = deploy["forget-archive"]
    assert {"build", "prod"} <= set(forget["needs"])
    condition = " ".join(forget["if"].split())
    assert "needs.prod.result == 'success'" in condition
    assert "needs.build.outputs.built == 'true'" in condition
    assert forget["permissions"] == {"actions": "write"}


def test_forget_archive_deletes_this_runs_archive_only(tmp_path: Path) -> None:
    (delete,) = steps(jobs(load("deploy.yml"))["forget-archive"])
    listing = "api repos/acme/openai-api/actions/runs/5000/artifacts?name=image-oci"
    gh = f'if [[ "$1 $2" == "{listing}" ]]; then echo 41; echo 42; fi'
    ran = run_step(delete["run"], tmp_path, env={"IMAGE_ARTIFACT": "image-oci", "DIGEST": DIGEST}, commands={"gh": gh})
    assert ran.returncode == 0, ran.stderr
    deletes = ran.called("gh", "api", "--method", "DELETE")
    assert [c[-1] for c in deletes] == [
        "repos/acme/openai-api/actions/artifacts/41",
        "repos/acme/openai-api/actions/artifacts/42",
    ]
