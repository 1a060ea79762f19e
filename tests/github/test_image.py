"""The container image in CI: run on every pull request, attested when deployed, scanned before prod.

Pull requests and the merge queue build the image (with buildx's layer cache) and run it as ECS does:
read-only root, only /tmp writable, its own non-root user, no capabilities, with the stub upstream, and
`scripts/smoke_test.py` against it. Deploy's build adds SBOM and provenance attestations, and prod stops
when ECR's scan on push reports critical findings. Dependabot can read the base image (a literal FROM)
and uv's pin, so their updates arrive as pull requests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.github.workflows import REPO_ROOT, callers_of, deploy_job, jobs, load, run_step, step_named, steps, uses

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
DIGEST = "sha256:" + "9" * 64
PLATFORM_IMAGE = "sha256:" + "8" * 64


# --- every pull request builds and runs the image -------------------------------------------------


def test_pull_requests_build_the_image_with_a_layer_cache() -> None:
    image = jobs(load("checks.yml"))["image"]
    assert image["if"] == "github.event_name == 'pull_request' || github.event_name == 'merge_group'"
    (build,) = [s for s in steps(image) if uses(s, "docker/build-push-action")]
    assert build["with"]["load"] is True
    assert build["with"]["push"] is False
    assert build["with"]["cache-from"] == "type=gha"
    assert build["with"]["cache-to"] == "type=gha,mode=max"
    assert build["with"]["platforms"] == "linux/amd64"


def test_the_image_runs_as_ecs_runs_it_with_the_stub_and_passes_the_smoke_test() -> None:
    image = jobs(load("checks.yml"))["image"]
    _, run = step_named(image, "Run the stub and the API from the image")
    script = run["run"]
    for flag in ("--read-only", "--tmpfs /tmp", "--cap-drop ALL", "--security-opt no-new-privileges"):
        assert flag in script
    assert "--user" not in script  # the image's own USER, which the step checks
    assert "10001:10001" in script
    assert "python -m service.stub" in script
    assert "ENVIRONMENT=local" in script
    assert "Health.Status" in script
    _, smoke = step_named(image, "scripts/smoke_test.py")
    assert "scripts/smoke_test.py" in smoke["run"]
    assert smoke["env"]["SMOKE_BASE_URL"] == "http://127.0.0.1:8000"


def test_the_run_step_refuses_an_image_that_runs_as_root(tmp_path: Path) -> None:
    _, run = step_named(jobs(load("checks.yml"))["image"], "Run the stub and the API from the image")
    ran = run_step(run["run"], tmp_path, env={"IMAGE": "api:checks"}, commands={"docker": 'echo ""'})
    assert ran.returncode == 1
    assert "runs as 'root'" in ran.stdout


# --- the deployed image: attestations and the scan gate -------------------------------------------


def test_the_deploy_build_attaches_an_sbom_and_max_provenance() -> None:
    _, build = step_named(jobs(load("deploy.yml"))["build"], "Build the image as an OCI archive")
    assert "--attest type=provenance,mode=max" in build["run"]
    assert "--attest type=sbom" in build["run"]
    assert "--provenance=false" not in build["run"]
    assert "--sbom=false" not in build["run"]
    _, push = step_named(deploy_job(), "Put the image in the stack's repository")
    assert "skopeo copy --all --preserve-digests" in push["run"]  # the index, image and attestations


def test_only_prod_is_blocked_by_critical_findings() -> None:
    callers = {
        job["with"]["stack"]: job
        for job in callers_of(load("deploy.yml"), "./.github/workflows/deploy-stack.yml").values()
    }
    assert callers["prod"]["with"]["block-critical-findings"] is True
    assert callers["staging"]["with"]["block-critical-findings"] is False
    job = deploy_job()
    scan_index, _ = step_named(job, "ECR's scan of the image")
    up_index, _ = step_named(job, "pulumi up")
    assert scan_index < up_index


def scan(tmp_path: Path, block: str, counts: str, status: str = "COMPLETE") -> tuple[int, str]:
    _, step = step_named(deploy_job(), "ECR's scan of the image")
    index = json.dumps(
        {
            "manifests": [
                {"digest": PLATFORM_IMAGE, "platform": {"os": "linux", "architecture": "amd64"}},
                {"digest": "sha256:" + "7" * 64, "platform": {"os": "unknown", "architecture": "unknown"}},
            ]
        }
    )
    aws = f"""case "$*" in
  *batch-get-image*) echo '{index}' ;;
  *imageScanStatus.status*) echo {status} ;;
  *findingSeverityCounts*) echo '{counts}' ;;
esac"""
    ran = run_step(
        step["run"],
        tmp_path,
        env={"REPOSITORY": "1.dkr.ecr/api", "DIGEST": DIGEST, "BLOCK": block},
        commands={"aws": aws, "sleep": ""},
    )
    scanned = [c for c in ran.calls if "describe-image-scan-findings" in c]
    assert all(f"imageDigest={PLATFORM_IMAGE}" in c for c in scanned), "ECR scans the image, not the index"
    return ran.returncode, ran.stdout + ran.summary


def test_critical_findings_stop_prod(tmp_path: Path) -> None:
    status, text = scan(tmp_path, "true", '{"CRITICAL": 2, "HIGH": 5}')
    assert status == 1
    assert "2 critical findings" in text


def test_critical_findings_only_warn_on_staging(tmp_path: Path) -> None:
    status, text = scan(tmp_path, "false", '{"CRITICAL": 2}')
    assert status == 0
    assert "::warning::" in text


def test_a_clean_scan_passes_and_is_summarised(tmp_path: Path) -> None:
    status, text = scan(tmp_path, "true", '{"LOW": 3}')
    assert status == 0
    assert "3 LOW" in text


def test_prod_does_not_go_ahead_without_a_finished_scan(tmp_path: Path) -> None:
    status, text = scan(tmp_path, "true", "null", status="FAILED")
    assert status == 1
    assert "no finished scan" in text


# --- Dependabot can update the base image and uv --------------------------------------------------


def test_the_base_image_is_a_literal_pinned_from_line_that_a_build_arg_can_override() -> None:
    froms = re.findall(r"^FROM (\S+)(?: AS (\S+))?$", DOCKERFILE, re.M)
    base, stage = froms[0]
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+@sha256:[0-9a-f]{64}", base)
    # Every other stage starts from PYTHON_IMAGE, which names the pinned stage unless overridden
    # (--build-arg PYTHON_IMAGE=..., as the podman stand-in build does).
    assert {f for f, _ in froms[1:]} == {"${PYTHON_IMAGE}"}
    assert re.search(rf"^ARG PYTHON_IMAGE={re.escape(stage)}$", DOCKERFILE, re.M)
    first_from = re.search(r"^FROM ", DOCKERFILE, re.M)
    assert first_from
    assert DOCKERFILE.index("ARG PYTHON_IMAGE") < first_from.start()  # a global ARG, visible to FROM lines


def test_uv_is_pinned_where_dependabot_updates_it() -> None:
    requirements = REPO_ROOT / "docker" / "uv-requirements.txt"
    pins = [line for line in requirements.read_text().splitlines() if line and not line.startswith("#")]
    assert len(pins) == 1
    assert re.fullmatch(r"uv==\d+\.\d+\.\d+", pins[0])
    assert "COPY docker/uv-requirements.txt" in DOCKERFILE
    assert "uv==" not in DOCKERFILE
    assert "!docker/uv-requirements.txt" in (REPO_ROOT / ".dockerignore").read_text().splitlines()
    updates = yaml.safe_load((REPO_ROOT / ".github" / "dependabot.yml").read_text())["updates"]
    ecosystems = {(u["package-ecosystem"], u["directory"]) for u in updates}
    assert {("docker", "/"), ("pip", "/docker"), ("uv", "/"), ("github-actions", "/")} <= ecosystems
