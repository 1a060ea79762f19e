"""`make bootstrap STACK=staging`: from a fresh AWS account and a fork to a running stack that CI can deploy.

Steps, each skipped when already done, so a rerun finishes what a failed run started and otherwise
changes nothing:

1. check the machine (Pulumi CLI version, AWS CLI and credentials, Docker, `gh` if present) and the
   inputs (HTTPS, the OpenAI key, the GitHub repository) before anything is created;
2. create the state backend when PULUMI_BACKEND_URL is an S3 URL (bucket and KMS key), and the stack;
3. set the stack's config: `githubRepository`, HTTPS and `alarmEmail` when given, and the OpenAI key,
   read from OPENAI_API_KEY or a hidden prompt and passed to `pulumi` on stdin;
4. `pulumi up`, unless an update of the stack has already succeeded (from then on CI deploys it);
5. print the URL and the first client key, and set the GitHub environment's variables and secrets with
   `gh` (or print the commands).

Without --yes it first prints the plan (a dry run) and asks. --dry-run stops after the plan.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from infra.outputs import DEPLOY_ROLE_ARN, ECR_REPOSITORY_URL, FIRST_CLIENT_API_KEY, SERVICE_URL
from scripts import prerequisites
from scripts.github_env import Github, Setting, commands
from scripts.shell import REPO_ROOT, CommandFailed, Secret, Shell
from scripts.stack import SECRET_SHOWN, PulumiStack, StackError, StackFile
from scripts.state_backend import S3Backend
from scripts.wanted_config import KEY_TO_CREATE, OPENAI_KEY_ENV, Options, WantedConfig

POLICY_PACK = "infra/policy"
DOCS = "docs/deploying.md"
PULUMI_TOKEN_ENV = "PULUMI_ACCESS_TOKEN"  # noqa: S105 - a variable name
# Each GitHub environment's variables taken from stack outputs (the workflows read them; docs/deploying.md).
ENVIRONMENT_VARIABLES = {"AWS_ROLE_ARN": DEPLOY_ROLE_ARN}
SMOKE_KEY_SECRET = "SMOKE_API_KEY"  # noqa: S105 - a secret's name


class Stop(RuntimeError):
    """The bootstrap cannot go on; the message lists what is wrong and how to fix it."""


class Bootstrap:
    """One pass over the steps, against a `Shell` that either runs changes or only announces them."""

    def __init__(self, opts: Options, shell: Shell, ask_secret: Callable[[str], str] | None = None) -> None:
        self.opts = opts
        self.shell = shell
        self.ask_secret = ask_secret
        self.file = StackFile.load(opts.project_dir, opts.stack)
        self.stack = PulumiStack(shell, opts.stack, opts.org)
        self.s3 = S3Backend.parse(opts.backend_url) if opts.backend_url else None
        if opts.backend_url:
            shell.env["PULUMI_BACKEND_URL"] = opts.backend_url
        self.exists = False
        self.up_needed = True
        self.repo = ""
        self.config: dict[str, str | Secret | None] = {}
        self.commit = "this checkout"
        self.github_done = False
        self.identity: prerequisites.AwsIdentity | None = None

    def run(self) -> None:
        self._check_machine()
        self._check_inputs()
        if self.s3 is not None:
            self.s3.ensure(self.shell)
        self._create_stack()
        self._set_config()
        self._up()
        outputs = self._outputs()
        self._github(outputs)
        self._summary(outputs)

    # --- 1. checks: nothing is changed until every one passes -------------------------------------------

    def _check_machine(self) -> None:
        region = self.file.region
        problems = [p for tool in (prerequisites.PULUMI, prerequisites.AWS) if (p := tool.check(self.shell))]
        if self.shell.which("aws"):
            identity = prerequisites.aws_identity(self.shell, region)
            if isinstance(identity, str):
                problems.append(identity)
            else:
                self.identity = identity
        if self.shell.which("pulumi") and self.s3 is None:
            try:
                backend = prerequisites.pulumi_backend(self.shell)
            except ValueError as e:
                problems.append(str(e))
            else:
                if backend.startswith("file://"):
                    problems.append(
                        f"Pulumi is logged in to a local backend ({backend}), which CI cannot reach: "
                        "`pulumi logout`, then log in to Pulumi Cloud or set PULUMI_BACKEND_URL (docs/deploying.md)"
                    )
                self.s3 = S3Backend.parse(backend)
        if problems:
            raise Stop("\n".join(f"- {p}" for p in problems))
        if self.identity is not None:
            self.shell.say(f"AWS account {self.identity.account} as {self.identity.arn}, region {region}")
        if (gh := prerequisites.GH.check(self.shell)) is not None:
            self.shell.say(f"note: {gh}")

    def _check_inputs(self) -> None:
        # A backend bucket that does not exist yet holds no stacks (and `pulumi` cannot list them).
        self.exists = (self.s3 is None or self.s3.bucket_exists(self.shell)) and self.stack.exists()
        self.up_needed = not (self.exists and self.stack.has_succeeded_once())
        wanted = WantedConfig(self.opts, self.file, self.shell, self.s3, self.ask_secret)
        problems = [*wanted.problems, *self._account()]
        self.repo, self.config = wanted.repo, wanted.changes
        if self.up_needed and not self.file.has("image"):
            docker = prerequisites.DOCKER.check(self.shell) or prerequisites.docker_daemon(self.shell)
            problems += [p for p in (docker, self._image_inputs()) if p]
        if not self.up_needed and self.config:
            problems.append(
                f"stack {self.stack.ref} is already up, so the bootstrap no longer changes it (asked to set "
                f"{', '.join(self.config)}): set them with `pulumi config set` and apply them as in "
                f"{DOCS}#changing-the-infrastructure"
            )
        if problems:
            raise Stop("\n".join(f"- {p}" for p in problems))
        self.shell.say(f"Stack {self.stack.ref}, deployed by GitHub repository {self.repo}")

    def _account(self) -> list[str]:
        """A stack already up in another account is not brought up again in this one."""
        if not self.exists or self.identity is None:
            return []
        repository = self.stack.outputs().get(ECR_REPOSITORY_URL)
        account = str(repository).split(".", 1)[0] if repository else None
        if account and account != self.identity.account:
            return [
                f"stack {self.stack.ref} runs in AWS account {account}, "
                f"but these credentials are for {self.identity.account}"
            ]
        return []

    def _image_inputs(self) -> str | None:
        """The first `pulumi up` builds ./Dockerfile from this checkout; for prod it must be committed code."""
        if self.shell.which("git") is None:
            return None
        inputs = ["Dockerfile"] + [
            line[1:].strip().rstrip("/")
            for line in (self.opts.project_dir / ".dockerignore").read_text().splitlines()
            if line.startswith("!")
        ]
        changed = self.shell.query("git", "status", "--porcelain", "--", *inputs).stdout.strip()
        self.commit = self.shell.query("git", "rev-parse", "--short", "HEAD").stdout.strip() or self.commit
        if not changed:
            return None
        if self.opts.stack == "prod" and not self.opts.allow_dirty:
            return (
                f"the image for prod would contain uncommitted changes ({', '.join(changed.split()[1::2])}): "
                "commit them first (or pass ALLOW_DIRTY=1)"
            )
        self.shell.say(f"note: the image is built with uncommitted changes on top of {self.commit}")
        return None

    # --- 2-4. backend, stack, config, up ------------------------------------------------------------

    def _create_stack(self) -> None:
        if self.exists:
            return
        argv = ["pulumi", "stack", "init", self.stack.ref]
        if self.s3 is not None:
            argv += ["--secrets-provider", self.s3.secrets_provider]
        self.shell.change(f"create the stack {self.stack.ref}", *argv)

    def _set_config(self) -> None:
        if self.config.get("stateKmsKeyArn") == KEY_TO_CREATE and self.s3 is not None:
            self.config["stateKmsKeyArn"] = self.s3.key_arn(self.shell) or KEY_TO_CREATE  # created by now
        for key, value in self.config.items():
            if value is None:
                self.shell.change(
                    f"remove {key} from {self.file.path.name}", "pulumi", "config", "rm", key, "--stack", self.stack.ref
                )
            elif isinstance(value, Secret):
                self.shell.change(
                    f"store {key}, encrypted, in {self.file.path.name}",
                    *("pulumi", "config", "set", "--secret", key, "--stack", self.stack.ref),
                    stdin=value,
                )
            else:
                self.shell.change(
                    f"set {key} in {self.file.path.name}",
                    *("pulumi", "config", "set", key, value, "--stack", self.stack.ref),
                )

    def _up(self) -> None:
        if not self.up_needed:
            self.shell.say(
                f"stack {self.stack.ref} is already up (an update succeeded before): not running pulumi up. "
                f"From here CI deploys it; infrastructure changes: {DOCS}#changing-the-infrastructure"
            )
            return
        if not self.file.has("image"):
            self.shell.say(
                f"pulumi up builds ./Dockerfile from {self.commit} and runs it on {self.stack.ref} until CI's first "
                "deploy replaces it"
            )
        self.shell.change(
            f"create or finish the {self.stack.name} stack in AWS (about 15 minutes the first time)",
            *("pulumi", "up", "--yes", "--stack", self.stack.ref, "--policy-pack", POLICY_PACK),
            *("--message", f"make bootstrap STACK={self.stack.name}"),
            stream=True,
        )

    def _outputs(self) -> dict[str, Any]:
        if self.shell.dry_run and not self.exists:
            return dict.fromkeys((SERVICE_URL, DEPLOY_ROLE_ARN, FIRST_CLIENT_API_KEY))
        return self.stack.outputs(show_secrets=not self.shell.dry_run)

    # --- 5. GitHub, and what to do next -------------------------------------------------------------

    def _settings(self, outputs: dict[str, Any]) -> list[Setting]:
        env = self.opts.stack
        first_key = outputs.get(FIRST_CLIENT_API_KEY)
        label = f"stack output {FIRST_CLIENT_API_KEY}"
        if first_key and first_key != SECRET_SHOWN:
            smoke_key: Secret | None = Secret(str(first_key), label)
        else:  # a dry run, or a stack from before the first key existed
            smoke_key = Secret("", label) if self.shell.dry_run else None
        settings = [
            Setting(name, "variable", env, str(outputs.get(output) or f"<stack output {output}>"))
            for name, output in ENVIRONMENT_VARIABLES.items()
        ]
        settings.append(
            Setting(
                SMOKE_KEY_SECRET,
                "secret",
                env,
                smoke_key,
                f"pulumi stack output {FIRST_CLIENT_API_KEY} --show-secrets --stack {self.stack.ref}",
            )
        )
        if self.s3 is not None:
            settings.append(Setting("PULUMI_BACKEND_URL", "variable", None, self.s3.url))
        else:
            token = os.environ.get(PULUMI_TOKEN_ENV)
            value = Secret(token, f"{PULUMI_TOKEN_ENV} from the environment") if token else None
            source = f"printenv {PULUMI_TOKEN_ENV}" if token else ""
            note = "a Pulumi Cloud access token for CI (app.pulumi.com: Settings, Access tokens)"
            settings.append(Setting(PULUMI_TOKEN_ENV, "secret", None, value, source, note))
        if self.opts.org:
            settings.append(Setting("PULUMI_ORG", "variable", None, self.opts.org))
        return settings

    def _github(self, outputs: dict[str, Any]) -> None:
        settings = self._settings(outputs)
        if prerequisites.gh_ready(self.shell):
            Github(self.shell, self.repo).apply(self.opts.stack, settings)
            self.github_done = True
            return
        self.shell.say(f"gh is not installed or not logged in; set up GitHub for {self.opts.stack} with:")
        for line in commands(self.repo, self.opts.stack, settings):
            self.shell.say(f"    {line}")

    def _summary(self, outputs: dict[str, Any]) -> None:
        if self.shell.dry_run:
            return
        say = self.shell.say
        say(f"\nStack {self.stack.ref} is up: {outputs.get(SERVICE_URL)}")
        where = f" (CI's {SMOKE_KEY_SECRET} in GitHub)" if self.github_done else ""
        say(f"First client key{where}: {outputs.get(FIRST_CLIENT_API_KEY)}")
        say(f"Commit {self.file.path.name} if git shows it changed: CI deploys with the config it holds.")
        if self.opts.alarm_email:
            say(f"Confirm the alarm subscription in the mail AWS sent to {self.opts.alarm_email}.")


def parse_args(argv: Sequence[str] | None) -> Options:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="make bootstrap", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--stack", required=True, help="staging or prod (a Pulumi.<stack>.yaml must exist)")
    parser.add_argument("--dry-run", action="store_true", help="print every action, change nothing")
    parser.add_argument("--yes", action="store_true", help="do not show the plan and ask before changing anything")
    parser.add_argument("--org", default=env("PULUMI_ORG") or None, help="Pulumi Cloud organization (PULUMI_ORG)")
    parser.add_argument(
        "--backend-url", default=env("PULUMI_BACKEND_URL") or None, help="s3://<bucket>?region=... (PULUMI_BACKEND_URL)"
    )
    parser.add_argument(
        "--github-repository", default=env("GITHUB_REPOSITORY") or None, help="owner/repo (GITHUB_REPOSITORY)"
    )
    parser.add_argument("--domain-name", default=env("DOMAIN_NAME") or None, help="HTTPS hostname (DOMAIN_NAME)")
    parser.add_argument(
        "--hosted-zone-id", default=env("HOSTED_ZONE_ID") or None, help="its Route 53 zone (HOSTED_ZONE_ID)"
    )
    parser.add_argument(
        "--certificate-arn", default=env("CERTIFICATE_ARN") or None, help="or an ACM certificate (CERTIFICATE_ARN)"
    )
    parser.add_argument("--alarm-email", default=env("ALARM_EMAIL") or None, help="who gets the alarms (ALARM_EMAIL)")
    parser.add_argument(
        "--allow-dirty", action="store_true", default=bool(env("ALLOW_DIRTY")), help="prod: build uncommitted code"
    )
    parser.add_argument("--project-dir", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    opts = Options(**vars(parser.parse_args(argv)))
    if not (opts.project_dir / f"Pulumi.{opts.stack}.yaml").is_file():
        stacks = sorted(p.name.split(".")[1] for p in opts.project_dir.glob("Pulumi.*.yaml"))
        parser.error(f"--stack {opts.stack!r}: say which stack, STACK={' or STACK='.join(stacks)}")
    return opts


def child_env() -> dict[str, str]:
    """The environment the tools run in: never the OpenAI key (it reaches pulumi on stdin only)."""
    env = {k: v for k, v in os.environ.items() if k != OPENAI_KEY_ENV}
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    return env


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    try:
        if opts.dry_run or not opts.yes:
            plan = Shell(dry_run=True, env=child_env(), cwd=opts.project_dir)
            plan.say(f"Plan for stack {opts.stack} (nothing is changed yet):")
            Bootstrap(opts, plan).run()
            if opts.dry_run:
                plan.say("Dry run: nothing was changed.")
                return 0
            if plan.changes and not _confirmed():
                return 1
        Bootstrap(opts, Shell(env=child_env(), cwd=opts.project_dir), ask_secret=getpass.getpass).run()
    except (Stop, StackError, CommandFailed) as e:
        print(
            f"\nmake bootstrap stopped: {e}\n\nNothing after that point ran. Fix it and run `make bootstrap "
            f"STACK={opts.stack}` again: what is already done is skipped.\n"
            f"Troubleshooting: {DOCS}#when-the-first-deploy-fails",
            file=sys.stderr,
        )
        return 1
    return 0


def _confirmed() -> bool:
    if not sys.stdin.isatty():
        print("Not a terminal, so nothing was changed: run it again with YES=1 (--yes) to go ahead.", file=sys.stderr)
        return False
    return input("Go ahead? [y/N] ").strip().lower() in {"y", "yes"}


if __name__ == "__main__":
    sys.exit(main())
