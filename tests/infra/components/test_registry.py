"""Image registry: scanning, immutable tags, the bootstrap image."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import CI_IMAGE, ROOT, Programs, Run


def test_repository_scans_and_keeps_tags_immutable(run: Run) -> None:
    repo = run.inputs("aws:ecr/repository:Repository")
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    rules = json.loads(run.inputs("aws:ecr/lifecyclePolicy:LifecyclePolicy")["policy"])["rules"]
    assert len(rules) >= 1


@pytest.mark.parametrize("variant", ["staging", "prod"])
def test_without_an_image_the_repo_dockerfile_is_built_and_pushed(programs: Programs, variant: str) -> None:
    run = programs[variant]
    image = run.inputs("docker-build:index:Image")
    assert image["context"]["location"] == str(ROOT)
    assert image["dockerfile"]["location"] == str(ROOT / "Dockerfile")
    assert image["push"] is True
    assert image["platforms"] == ["linux/amd64"]
    repo_url = run.one("aws:ecr/repository:Repository")["state"]["repositoryUrl"]
    assert image["tags"][0].startswith(f"{repo_url}:local-")
    assert run.container()["image"].startswith(f"{repo_url}:local-")
    assert "@sha256:" in run.container()["image"]


def test_with_an_image_digest_nothing_is_built(programs: Programs) -> None:
    run = programs["prod-full"]
    assert run.of("docker-build:index:Image") == []
    assert run.container()["image"] == CI_IMAGE


@pytest.mark.parametrize("variant", ["staging", "prod"])
def test_the_bootstrap_image_outlives_its_resource_when_ci_takes_over(programs: Programs, variant: str) -> None:
    # Once CI sets `image`, this resource leaves the program; deleting it would delete the image ECS runs.
    assert programs[variant].one("docker-build:index:Image")["retainOnDelete"] is True


def test_prod_protects_its_repository_and_staging_can_delete_it(staging: Run, prod: Run) -> None:
    kept, scratch = prod.one("aws:ecr/repository:Repository"), staging.one("aws:ecr/repository:Repository")
    assert (kept["protect"], kept["inputs"]["forceDelete"]) == (True, False)
    assert (scratch["protect"], scratch["inputs"]["forceDelete"]) == (False, True)
