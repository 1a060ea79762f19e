"""What `make bootstrap` needs on the machine, checked before it changes anything.

`TOOLS` is also the prerequisites table of docs/deploying.md (tests/docs/test_deploying.py keeps the two
equal), so the docs name exactly the versions this code asks for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from scripts.shell import Shell

VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Tool:
    name: str
    purpose: str
    version_argv: tuple[str, ...]
    minimum: tuple[int, int] | None
    install: str
    required: bool = True

    def check(self, shell: Shell) -> str | None:
        """None when the tool is there and new enough; otherwise what is wrong and how to fix it."""
        if shell.which(self.name) is None:
            what = "is not installed" if self.required else "is not installed (optional)"
            return f"{self.name} {what}: it {self.purpose}. Install it: {self.install}"
        if self.minimum is None:
            return None
        result = shell.query(*self.version_argv)
        found = VERSION.search(result.stdout + result.stderr)
        if not result.ok or found is None:
            return f"{self.name}: `{' '.join(self.version_argv)}` failed ({result.stderr.strip()[-200:]})"
        version = tuple(int(part or 0) for part in found.groups())
        if version[:2] < self.minimum:
            wanted = ".".join(map(str, self.minimum))
            return (
                f"{self.name} {found.group(0)} is too old: version {wanted} or newer is needed. Upgrade: {self.install}"
            )
        return None


PULUMI = Tool(
    "pulumi",
    "creates the stack and deploys it",
    ("pulumi", "version"),
    (3, 140),
    "https://www.pulumi.com/docs/iac/download-install/ (Linux and macOS: curl -fsSL https://get.pulumi.com | sh)",
)
AWS = Tool(
    "aws",
    "checks the account and, for an S3 state backend, creates the bucket and key",
    ("aws", "--version"),
    (2, 0),
    "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html (version 2)",
)
DOCKER = Tool(
    "docker",
    "builds the image the first deploy runs",
    ("docker", "version", "--format", "{{.Client.Version}}"),
    None,
    "https://docs.docker.com/get-started/get-docker/ (Docker Desktop, or Docker Engine with the buildx plugin)",
)
GH = Tool(
    "gh",
    "sets the GitHub environments' variables and secrets; without it the commands are printed",
    ("gh", "--version"),
    None,
    "https://cli.github.com, then `gh auth login`",
    required=False,
)
TOOLS = (PULUMI, AWS, DOCKER, GH)


@dataclass(frozen=True)
class AwsIdentity:
    account: str
    arn: str


def aws_identity(shell: Shell, region: str) -> AwsIdentity | str:
    """Who the AWS credentials in this shell belong to, or what is wrong with them."""
    result = shell.query("aws", "sts", "get-caller-identity", "--output", "json", "--region", region)
    if not result.ok:
        said = result.stderr.strip().splitlines()[-1:] or ["no output"]
        return (
            f"AWS credentials are missing or expired (aws said: {said[0]}). Fix: `aws sso login --profile <profile>` "
            "and `export AWS_PROFILE=<profile>` (first time: `aws configure sso`), or export AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY of an administrator of the account"
        )
    identity = json.loads(result.stdout)
    return AwsIdentity(str(identity["Account"]), str(identity["Arn"]))


def pulumi_backend(shell: Shell) -> str:
    """The URL of the backend `pulumi` uses here, or a `StackError`-worthy message as ValueError."""
    result = shell.query("pulumi", "whoami", "--json")
    if not result.ok:
        raise ValueError(
            "Pulumi is not logged in to a backend. Fix: export PULUMI_ACCESS_TOKEN=<token> (Pulumi Cloud: "
            "app.pulumi.com → Access tokens) or run `pulumi login`; or keep state in your own bucket: "
            "export PULUMI_BACKEND_URL='s3://<new bucket name>?region=us-east-1' (the bootstrap creates it)"
        )
    return str(json.loads(result.stdout).get("url", ""))


def docker_daemon(shell: Shell) -> str | None:
    """None when Docker can build (needed only while the stack has no `image`); otherwise what to do."""
    result = shell.query("docker", "info", "--format", "{{.ServerVersion}}")
    if result.ok:
        return None
    return "Docker is installed but its daemon does not answer: start Docker Desktop or `sudo systemctl start docker`"


def gh_ready(shell: Shell) -> bool:
    return shell.which("gh") is not None and shell.query("gh", "auth", "status").ok
