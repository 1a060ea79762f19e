"""What a stack's config must hold before its first `pulumi up`, worked out from the operator's options,
the committed stack file and the account, before anything is changed.

`WantedConfig` holds the keys to set (None: remove), in order, the GitHub repository that deploys the
stack, and the problems that stop the bootstrap, each with its fix.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scripts import prerequisites
from scripts.shell import REPO_ROOT, Secret, Shell
from scripts.stack import StackFile
from scripts.state_backend import S3Backend

OPENAI_KEY_ENV = "OPENAI_API_KEY"
KEY_TO_CREATE = "<ARN of the key created above>"


@dataclass(frozen=True)
class Options:
    """What the operator asked for (`make bootstrap` arguments and environment variables)."""

    stack: str
    dry_run: bool = False
    yes: bool = False
    org: str | None = None
    backend_url: str | None = None
    github_repository: str | None = None
    domain_name: str | None = None
    hosted_zone_id: str | None = None
    certificate_arn: str | None = None
    alarm_email: str | None = None
    allow_dirty: bool = False
    project_dir: Path = REPO_ROOT


class WantedConfig:
    """The config changes the stack needs and what stops them, computed once at construction."""

    def __init__(
        self,
        opts: Options,
        file: StackFile,
        shell: Shell,
        s3: S3Backend | None,
        ask_secret: Callable[[str], str] | None = None,
    ) -> None:
        self.opts = opts
        self.file = file
        self.shell = shell
        self.s3 = s3
        self.ask_secret = ask_secret
        self.repo = ""
        self.changes: dict[str, str | Secret | None] = {}
        self.problems = [*self._repository(), *self._https(), *self._openai_key()]
        self.changes.update(self._state_backend())

    def _repository(self) -> list[str]:
        current = self.file.get("githubRepository")
        repo = self.opts.github_repository or current or self._detect_repository()
        if not repo or repo.count("/") != 1:
            return ["cannot tell which GitHub repository deploys this stack: pass GITHUB_REPOSITORY=<owner>/<repo>"]
        self.repo = str(repo)
        if self.repo != current:
            self.changes["githubRepository"] = self.repo
        return []

    def _detect_repository(self) -> str | None:
        """The clone's `origin` (in a fork, `gh` may answer with the upstream repository instead)."""
        remote = self.shell.query("git", "remote", "get-url", "origin").stdout.strip()
        for prefix in ("https://github.com/", "git@github.com:", "ssh://git@github.com/"):
            if remote.startswith(prefix):
                return remote.removeprefix(prefix).removesuffix(".git")
        if prerequisites.gh_ready(self.shell):
            found = self.shell.query("gh", "repo", "view", "--json", "nameWithOwner", "--jq", ".nameWithOwner")
            if found.ok and found.stdout.strip():
                return found.stdout.strip()
        return None

    def _https(self) -> list[str]:
        """HTTPS (a domain in a Route 53 zone of this account, or a certificate) or an explicit opt-out."""
        o = self.opts
        for key, value in (
            ("domainName", o.domain_name),
            ("hostedZoneId", o.hosted_zone_id),
            ("certificateArn", o.certificate_arn),
            ("alarmEmail", o.alarm_email),
        ):
            if value and self.file.get(key) != value:
                self.changes[key] = value
        certificate = o.certificate_arn or self.file.get("certificateArn")
        domain = o.domain_name or self.file.get("domainName")
        zone = o.hosted_zone_id or self.file.get("hostedZoneId")
        if domain and not zone and not certificate:
            zone = self._hosted_zone(str(domain))
            if zone is None:
                return [
                    f"no public Route 53 zone in this account holds {domain}: create one for the domain, "
                    "or pass HOSTED_ZONE_ID=<zone id> or CERTIFICATE_ARN=<ACM certificate>"
                ]
            self.changes["hostedZoneId"] = zone
        plain = str(self.file.get("allowPlainHttp")).lower() == "true"
        if certificate or (domain and zone):
            if plain:
                self.changes["allowPlainHttp"] = None  # the program refuses both at once
            return []
        if plain:
            return []
        return [
            f"stack {o.stack} has no HTTPS, and clients would send their keys in clear text: pass "
            "DOMAIN_NAME=api.example.com (its Route 53 zone must be in this account) or CERTIFICATE_ARN=<ACM "
            f"certificate>; or, for a stack only you use, set `allowPlainHttp: true` in {self.file.path.name}"
        ]

    def _hosted_zone(self, domain: str) -> str | None:
        listed = self.shell.query("aws", "route53", "list-hosted-zones", "--output", "json")
        zones = json.loads(listed.stdout).get("HostedZones", []) if listed.ok else []
        fqdn = domain.rstrip(".") + "."
        public = [
            z for z in zones if not z.get("Config", {}).get("PrivateZone") and ("." + fqdn).endswith("." + z["Name"])
        ]
        if not public:
            return None
        best = max(public, key=lambda z: len(z["Name"]))
        return str(best["Id"]).rsplit("/", 1)[-1]

    def _openai_key(self) -> list[str]:
        if self.file.has("openaiApiKey") or self.file.has("openaiApiKeySecretArn"):
            return []
        value = os.environ.get(OPENAI_KEY_ENV, "")
        label = f"the OpenAI key from {OPENAI_KEY_ENV}"
        if not value and sys.stdin.isatty():
            if self.shell.dry_run or self.ask_secret is None:
                self.changes["openaiApiKey"] = Secret("", "the OpenAI key you will be asked for")
                return []
            value, label = (
                self.ask_secret("OpenAI API key (not shown as you type): ").strip(),
                "the OpenAI key you typed",
            )
        if not value:
            return [
                f"the stack has no OpenAI key: export {OPENAI_KEY_ENV}=sk-... (it goes to pulumi on stdin, encrypted "
                "into the stack file, never onto a command line)"
            ]
        if not value.startswith("sk-"):
            return [f"{label} does not look like an OpenAI API key (they start with sk-)"]
        self.changes["openaiApiKey"] = Secret(value, label)
        return []

    def _state_backend(self) -> dict[str, str | Secret | None]:
        """With an S3 backend, the deploy role needs the bucket and the secrets key (CI runs `pulumi up`)."""
        if self.s3 is None:
            return {}
        wanted = {"stateBucket": self.s3.bucket, "stateKmsKeyArn": self.s3.key_arn(self.shell) or KEY_TO_CREATE}
        return {key: value for key, value in wanted.items() if self.file.get(key) != value}
