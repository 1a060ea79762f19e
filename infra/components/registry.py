"""ECR repository and the image the service runs: a CI-built digest, or a local build pushed here."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from infra.project import component_type

# Paths that are not part of the image; skipping them keeps the tag stable across infra-only edits.
_NOT_IN_IMAGE = frozenset({"infra", "tests", "docs", "bench", "node_modules", "__pycache__"})


@dataclass
class RegistryArgs:
    """Inputs of `Registry`."""

    kms_key_arn: pulumi.Input[str]
    """Encrypts stored images."""
    image: str | None
    """A digest reference built by CI. None: build `context` with its Dockerfile and push it."""
    context: Path
    """Build context (the repository root, where the Dockerfile is)."""
    protect: bool = False
    """Pulumi `protect` on the repository (prod). Unprotected, `pulumi destroy` deletes it with its images."""


class Registry(pulumi.ComponentResource):
    """ECR repository (scan on push, immutable tags, lifecycle) and the image reference to deploy."""

    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    image_ref: pulumi.Output[str]
    """What the task definition runs; always pinned by digest."""

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(component_type("Registry"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        repo = aws.ecr.Repository(
            f"{name}-repo",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=args.kms_key_arn)
            ],
            force_delete=not args.protect,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.ecr.LifecyclePolicy(f"{name}-lifecycle", repository=repo.name, policy=_LIFECYCLE, opts=child)

        if args.image is not None:
            image_ref: pulumi.Output[str] = pulumi.Output.from_input(args.image)
        else:
            token = aws.ecr.get_authorization_token_output(
                registry_id=repo.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            # Tags are immutable, so the tag must change exactly when the image content does.
            tag = f"local-{_context_digest(args.context)}"
            built = docker_build.Image(
                f"{name}-image",
                context=docker_build.BuildContextArgs(location=str(args.context)),
                dockerfile=docker_build.DockerfileArgs(location=str(args.context / "Dockerfile")),
                # Fargate tasks run x86_64; a laptop may be arm64.
                platforms=[docker_build.Platform.LINUX_AMD64],
                push=True,
                tags=[repo.repository_url.apply(lambda url: f"{url}:{tag}")],
                registries=[
                    docker_build.RegistryArgs(
                        address=repo.repository_url,
                        username=token.user_name,
                        password=pulumi.Output.secret(token.password),
                    )
                ],
                # Once CI sets `image`, this resource leaves the program. Deleting it would delete the
                # pushed image (the one the running tasks and ECS rollbacks use) with a registry token
                # saved at build time, which expires after 12 hours and then fails every later `up`.
                # The lifecycle policy expires it instead, like any other image.
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )
            image_ref = built.ref

        self.repository_url = repo.repository_url
        self.repository_arn = repo.arn
        self.image_ref = image_ref
        self.register_outputs(
            {"repository_url": self.repository_url, "repository_arn": self.repository_arn, "image_ref": self.image_ref}
        )


_LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Drop untagged layers after a week",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 7,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "Keep the 50 newest images (rollbacks need the previous ones)",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 50},
                "action": {"type": "expire"},
            },
        ]
    }
)


def _context_digest(context: Path) -> str:
    """A short hash of the files that go into the image."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(context):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_IN_IMAGE)
        for file in sorted(files):
            path = Path(root, file)
            digest.update(str(path.relative_to(context)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
