"""A self-managed Pulumi state backend in S3: the bucket, and the KMS key that encrypts stack secrets.

Used by `make bootstrap` when PULUMI_BACKEND_URL is an `s3://` URL. Every step looks before it leaps, so
a rerun finishes what a failed run started and otherwise changes nothing. The deploy role's access to
both comes from the stack config `stateBucket` and `stateKmsKeyArn` (infra/components/github_deploy.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

from scripts.shell import CommandFailed, Shell
from scripts.stack import StackError

KMS_ALIAS = "alias/pulumi-state"
DRY_RUN_KEY = "<the new key>"


@dataclass(frozen=True)
class S3Backend:
    url: str
    bucket: str
    region: str

    @classmethod
    def parse(cls, url: str) -> S3Backend | None:
        """The S3 backend a URL names; None for any other backend (Pulumi Cloud)."""
        parsed = urlparse(url)
        if parsed.scheme != "s3":
            return None
        region = parse_qs(parsed.query).get("region", [""])[0]
        if not parsed.netloc or not region:
            raise StackError(f"PULUMI_BACKEND_URL={url}: use the form s3://<bucket>?region=<region>")
        return cls(url, parsed.netloc, region)

    @property
    def secrets_provider(self) -> str:
        return f"awskms://{KMS_ALIAS}?region={self.region}"

    def ensure(self, shell: Shell) -> None:
        """The bucket exists with versioning on (every state file version kept), and the KMS key exists."""
        if not self.bucket_exists(shell):
            create = ["aws", "s3api", "create-bucket", "--bucket", self.bucket, "--region", self.region]
            if self.region != "us-east-1":
                create += ["--create-bucket-configuration", f"LocationConstraint={self.region}"]
            shell.change("create the state bucket (encrypted and private by default)", *create)
        versioning = shell.query(
            "aws",
            "s3api",
            "get-bucket-versioning",
            "--bucket",
            self.bucket,
            "--region",
            self.region,
            "--output",
            "json",
        )
        if not versioning.ok or json.loads(versioning.stdout or "{}").get("Status") != "Enabled":
            shell.change(
                "keep every version of the state files",
                *("aws", "s3api", "put-bucket-versioning", "--bucket", self.bucket, "--region", self.region),
                *("--versioning-configuration", "Status=Enabled"),
            )
        if self.key_arn(shell) is None:
            self._create_key(shell)

    def bucket_exists(self, shell: Shell) -> bool:
        found = shell.query("aws", "s3api", "head-bucket", "--bucket", self.bucket, "--region", self.region)
        if not found.ok and ("403" in found.stderr or "Forbidden" in found.stderr):
            raise StackError(f"the bucket {self.bucket} belongs to another AWS account: choose another name")
        return found.ok

    def key_arn(self, shell: Shell) -> str | None:
        result = shell.query(
            "aws", "kms", "describe-key", "--key-id", KMS_ALIAS, "--region", self.region, "--output", "json"
        )
        return str(json.loads(result.stdout)["KeyMetadata"]["Arn"]) if result.ok else None

    def _create_key(self, shell: Shell) -> None:
        created = shell.change(
            "create the KMS key that encrypts the stacks' secrets",
            *("aws", "kms", "create-key", "--description", f"Pulumi stack secrets ({self.bucket})"),
            *("--region", self.region, "--output", "json"),
        )
        key_id = json.loads(created.stdout)["KeyMetadata"]["KeyId"] if created.stdout else DRY_RUN_KEY
        try:
            shell.change(
                f"name the key {KMS_ALIAS}",
                *("aws", "kms", "create-alias", "--alias-name", KMS_ALIAS, "--target-key-id", key_id),
                *("--region", self.region),
            )
        except CommandFailed:
            # A key nobody can find by its alias would be left behind by the rerun; delete it instead.
            shell.change(
                "delete the unnamed key again (a rerun creates a new one)",
                *("aws", "kms", "schedule-key-deletion", "--key-id", key_id, "--pending-window-in-days", "7"),
                *("--region", self.region),
            )
            raise
