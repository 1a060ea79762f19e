"""`make bootstrap` (scripts/bootstrap.py) run as a process against fake pulumi, aws, gh, docker and git.

The fakes (tests/scripts/fake_tools.py) are the whole PATH and record every call, so these tests see
exactly what the bootstrap would run on a real machine: a fresh run, a rerun, a dry run, a missing tool,
a failure halfway and its rerun, with and without `gh`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.project import PROJECT
from tests.scripts import fake_tools

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAI_KEY = "sk-test-bootstrap-0123456789"  # under 32 characters after sk-: no scanner mistakes it
PULUMI_TOKEN = "pul-test-token-0123456789"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    calls: list[dict[str, Any]]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def changes(self) -> list[str]:
        """The calls that changed something, as `tool arg ...`."""
        return [" ".join([c["tool"], *c["args"]]) for c in self.calls if c["changed"]]

    def announced(self, verb: str) -> list[str]:
        """What the bootstrap said it would run / is running, without the purpose comment."""
        prefix = f"{verb}: "
        return [
            line.removeprefix(prefix).split("    # ")[0] for line in self.stdout.splitlines() if line.startswith(prefix)
        ]


@dataclass
class Machine:
    """A fork's checkout (stack files only) and a machine whose tools are the fakes."""

    root: Path
    project: Path
    bin: Path
    world_path: Path
    calls_path: Path

    @property
    def world(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.world_path.read_text())
        return found

    def edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        world = self.world
        change(world)
        self.world_path.write_text(json.dumps(world))

    def remove_tool(self, tool: str) -> None:
        (self.bin / tool).unlink()

    def stack_config(self, stack: str) -> dict[str, Any]:
        config: dict[str, Any] = yaml.safe_load((self.project / f"Pulumi.{stack}.yaml").read_text())["config"]
        return config

    def bootstrap(self, *args: str, stack: str = "staging", **env: str) -> Run:
        self.calls_path.write_text("")
        environ = {
            "PATH": str(self.bin),
            "HOME": str(self.root),
            "FAKE_WORLD": str(self.world_path),
            "FAKE_CALLS": str(self.calls_path),
            "OPENAI_API_KEY": OPENAI_KEY,
            "PULUMI_ACCESS_TOKEN": PULUMI_TOKEN,
            **env,
        }
        environ = {k: v for k, v in environ.items() if v}
        result = subprocess.run(
            [sys.executable, "-m", "scripts.bootstrap", "--stack", stack, "--project-dir", str(self.project), *args],
            cwd=REPO_ROOT,
            env=environ,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        calls = [json.loads(line) for line in self.calls_path.read_text().splitlines()]
        return Run(result.returncode, result.stdout, result.stderr, calls)


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    project = tmp_path / "fork"
    project.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml", ".dockerignore"):
        shutil.copy(REPO_ROOT / name, project / name)
    bin_dir = tmp_path / "bin"
    fake_tools.install(bin_dir)
    world_path = tmp_path / "world.json"
    world_path.write_text(json.dumps(fake_tools.default_world()))
    return Machine(tmp_path, project, bin_dir, world_path, tmp_path / "calls.jsonl")


def first_key(stack: str = "staging") -> str:
    return f"{fake_tools.FIRST_KEY}-{stack}"


# --- a fresh account and fork -----------------------------------------------------------------------


def test_fresh_run_creates_the_stack_deploys_it_and_sets_up_its_github_environment(machine: Machine) -> None:
    run = machine.bootstrap("--yes")

    assert run.code == 0, run.output
    assert run.changes() == [
        "pulumi stack init staging",
        "pulumi config set githubRepository acme/api --stack staging",
        "pulumi config set --secret openaiApiKey --stack staging",
        "pulumi up --yes --stack staging --policy-pack infra/policy --message make bootstrap STACK=staging",
        "gh api -X PUT repos/acme/api/environments/staging --input -",
        "gh api -X POST repos/acme/api/environments/staging/deployment-branch-policies -f name=main -f type=branch",
        f"gh variable set AWS_ROLE_ARN --env staging --repo acme/api --body arn:aws:iam::{fake_tools.ACCOUNT}:"
        "role/staging-github-role",
        "gh secret set SMOKE_API_KEY --env staging --repo acme/api",
        "gh secret set PULUMI_ACCESS_TOKEN --repo acme/api",
    ]
    gh = machine.world["gh"]
    assert gh["secrets"] == {"staging": {"SMOKE_API_KEY": first_key()}, "": {"PULUMI_ACCESS_TOKEN": PULUMI_TOKEN}}
    assert gh["environments"]["staging"]["branch_policies"] == ["main"]
    assert "http://api-staging.elb.example" in run.stdout
    assert first_key() in run.stdout
    assert machine.stack_config("staging")[f"{PROJECT}:githubRepository"] == "acme/api"


def test_the_openai_key_reaches_pulumi_on_stdin_only_and_is_never_printed(machine: Machine) -> None:
    run = machine.bootstrap("--yes")

    assert run.code == 0, run.output
    [config_set] = [c for c in run.calls if c["args"][:3] == ["config", "set", "--secret"]]
    assert config_set["stdin"] == OPENAI_KEY
    for call in run.calls:
        assert OPENAI_KEY not in " ".join(call["args"])
        if call is not config_set:
            assert OPENAI_KEY not in call["stdin"]
    assert OPENAI_KEY not in run.output
    assert OPENAI_KEY not in (machine.project / "Pulumi.staging.yaml").read_text()


def test_a_second_run_changes_nothing_and_prints_the_url_and_key_again(machine: Machine) -> None:
    assert machine.bootstrap("--yes").code == 0

    rerun = machine.bootstrap("--yes")

    assert rerun.code == 0, rerun.output
    assert rerun.changes() == []
    assert "already up" in rerun.stdout
    assert "kept: SMOKE_API_KEY is already set in environment staging" in rerun.stdout
    assert first_key() in rerun.stdout


def test_the_dry_run_prints_every_action_the_real_run_then_takes_and_changes_nothing(machine: Machine) -> None:
    before = (machine.project / "Pulumi.staging.yaml").read_text()

    dry = machine.bootstrap("--dry-run")

    assert dry.code == 0, dry.output
    assert dry.changes() == []
    assert (machine.project / "Pulumi.staging.yaml").read_text() == before
    assert "Dry run: nothing was changed." in dry.stdout
    assert OPENAI_KEY not in dry.output
    real = machine.bootstrap("--yes")
    assert real.code == 0, real.output
    planned = [line.replace("'<stack output deploy_role_arn>'", "{role}") for line in dry.announced("would run")]
    role = f"arn:aws:iam::{fake_tools.ACCOUNT}:role/staging-github-role"
    assert planned == [line.replace(role, "{role}") for line in real.announced("running")]
    assert len(real.announced("running")) == len(real.changes())


def test_without_yes_and_without_a_terminal_it_shows_the_plan_and_changes_nothing(machine: Machine) -> None:
    run = machine.bootstrap()

    assert run.code == 1
    assert "would run: pulumi stack init staging" in run.stdout
    assert "YES=1" in run.stderr
    assert run.changes() == []


# --- what is missing is named with its fix, before anything is created --------------------------------


def test_a_missing_pulumi_cli_is_named_with_how_to_install_it(machine: Machine) -> None:
    machine.remove_tool("pulumi")

    run = machine.bootstrap("--yes")

    assert run.code == 1
    assert "pulumi is not installed" in run.stderr
    assert "https://get.pulumi.com" in run.stderr
    assert run.changes() == []


def test_an_old_pulumi_cli_and_missing_aws_credentials_are_reported_together(machine: Machine) -> None:
    def old_and_logged_out(world: dict[str, Any]) -> None:
        world["pulumi"]["version"] = "v3.100.2"
        world["aws"]["credentials"] = False

    machine.edit(old_and_logged_out)

    run = machine.bootstrap("--yes")

    assert run.code == 1
    assert "pulumi 3.100.2 is too old: version 3.140 or newer is needed" in run.stderr
    assert "AWS credentials are missing or expired" in run.stderr
    assert "aws sso login" in run.stderr
    assert run.changes() == []


def test_a_missing_docker_daemon_stops_before_the_stack_is_created(machine: Machine) -> None:
    machine.edit(lambda w: w["docker"].update(daemon=False))

    run = machine.bootstrap("--yes")

    assert run.code == 1
    assert "Docker" in run.stderr
    assert run.changes() == []


def test_no_openai_key_and_no_terminal_to_ask_on_stops_before_anything_is_created(machine: Machine) -> None:
    run = machine.bootstrap("--yes", OPENAI_API_KEY="")

    assert run.code == 1
    assert "export OPENAI_API_KEY=sk-..." in run.stderr
    assert run.changes() == []


def test_not_logged_in_to_pulumi_says_how(machine: Machine) -> None:
    machine.edit(lambda w: w["pulumi"].update(logged_in=False))

    run = machine.bootstrap("--yes")

    assert run.code == 1
    assert "pulumi login" in run.stderr
    assert "PULUMI_BACKEND_URL" in run.stderr


def test_prod_without_https_stops_naming_the_fix(machine: Machine) -> None:
    run = machine.bootstrap("--yes", stack="prod")

    assert run.code == 1
    assert "has no HTTPS" in run.stderr
    assert "DOMAIN_NAME=api.example.com" in run.stderr
    assert run.changes() == []


def test_prod_with_a_domain_finds_its_zone_and_asks_for_alarm_mail_confirmation(machine: Machine) -> None:
    zone = {"Id": "/hostedzone/Z0123EXAMPLE", "Name": "example.com.", "Config": {"PrivateZone": False}}
    machine.edit(lambda w: w["aws"].update(zones=[zone]))

    run = machine.bootstrap("--yes", stack="prod", DOMAIN_NAME="api.example.com", ALARM_EMAIL="ops@example.com")

    assert run.code == 0, run.output
    config = machine.stack_config("prod")
    assert config[f"{PROJECT}:domainName"] == "api.example.com"
    assert config[f"{PROJECT}:hostedZoneId"] == "Z0123EXAMPLE"
    assert config[f"{PROJECT}:alarmEmail"] == "ops@example.com"
    assert "pulumi up builds ./Dockerfile from abc1234 and runs it on prod" in run.stdout
    assert "Confirm the alarm subscription in the mail AWS sent to ops@example.com" in run.stdout


def test_https_on_staging_replaces_its_plain_http_opt_out(machine: Machine) -> None:
    run = machine.bootstrap("--yes", CERTIFICATE_ARN="arn:aws:acm:us-east-1:111111111111:certificate/abc")

    assert run.code == 0, run.output
    config = machine.stack_config("staging")
    assert f"{PROJECT}:allowPlainHttp" not in config
    assert config[f"{PROJECT}:certificateArn"].endswith("certificate/abc")


def test_prod_refuses_to_build_uncommitted_code(machine: Machine) -> None:
    machine.edit(lambda w: w["git"].update(dirty=["service/main.py"]))

    run = machine.bootstrap("--yes", stack="prod", CERTIFICATE_ARN="arn:aws:acm:us-east-1:111111111111:certificate/c")

    assert run.code == 1
    assert "uncommitted changes (service/main.py)" in run.stderr
    assert run.changes() == []


def test_a_stack_already_up_in_another_account_is_not_touched(machine: Machine) -> None:
    assert machine.bootstrap("--yes").code == 0

    def other_account(world: dict[str, Any]) -> None:
        outputs = world["pulumi"]["stacks"]["staging"]["outputs"]
        outputs["ecr_repository_url"] = "222222222222.dkr.ecr.us-east-1.amazonaws.com/repo"

    machine.edit(other_account)

    run = machine.bootstrap("--yes")

    assert run.code == 1
    assert "runs in AWS account 222222222222" in run.stderr
    assert run.changes() == []


def test_a_stack_already_up_is_not_reconfigured_behind_cis_back(machine: Machine) -> None:
    assert machine.bootstrap("--yes").code == 0

    run = machine.bootstrap("--yes", ALARM_EMAIL="ops@example.com")

    assert run.code == 1
    assert "already up" in run.stderr
    assert "alarmEmail" in run.stderr
    assert run.changes() == []


# --- a failure halfway, and the rerun that finishes ---------------------------------------------------


def test_a_failed_pulumi_up_stops_with_a_clear_message_and_the_rerun_finishes_without_redoing(
    machine: Machine,
) -> None:
    machine.edit(lambda w: w["fail"].update({"pulumi up": "error: waiting for ECS service to reach steady state"}))

    failed = machine.bootstrap("--yes")

    assert failed.code == 1
    assert "failed: `pulumi up --yes --stack staging" in failed.stderr
    assert "run `make bootstrap STACK=staging` again" in failed.stderr
    assert not [c for c in failed.calls if c["tool"] == "gh" and c["changed"]]
    machine.edit(lambda w: w["fail"].clear())

    rerun = machine.bootstrap("--yes")

    assert rerun.code == 0, rerun.output
    changes = rerun.changes()
    assert changes[0].startswith("pulumi up --yes --stack staging")
    assert not [c for c in changes if c.startswith(("pulumi stack init", "pulumi config"))]
    assert machine.world["gh"]["secrets"]["staging"] == {"SMOKE_API_KEY": first_key()}


def test_a_failure_setting_up_github_is_finished_by_the_rerun(machine: Machine) -> None:
    machine.edit(lambda w: w["fail"].update({"gh secret set SMOKE_API_KEY": "HTTP 502: Bad Gateway"}))

    failed = machine.bootstrap("--yes")

    assert failed.code == 1
    assert "HTTP 502" in failed.stderr
    machine.edit(lambda w: w["fail"].clear())

    rerun = machine.bootstrap("--yes")

    assert rerun.code == 0, rerun.output
    assert rerun.changes() == [
        "gh secret set SMOKE_API_KEY --env staging --repo acme/api",
        "gh secret set PULUMI_ACCESS_TOKEN --repo acme/api",
    ]


def test_stacks_of_a_pulumi_organisation_are_addressed_by_it_and_ci_is_told(machine: Machine) -> None:
    run = machine.bootstrap("--yes", PULUMI_ORG="acme-org")

    assert run.code == 0, run.output
    assert "pulumi stack init acme-org/staging" in run.changes()
    assert machine.world["gh"]["variables"][""] == {"PULUMI_ORG": "acme-org"}
    assert machine.stack_config("staging")[f"{PROJECT}:githubRepository"] == "acme/api"


def test_what_it_sets_in_github_is_what_the_workflows_read(machine: Machine) -> None:
    read = {
        m[1]
        for path in (REPO_ROOT / ".github" / "workflows").glob("*.yml")
        for m in re.finditer(r"\b(?:vars|secrets)\.([A-Z][A-Z0-9_]*)", path.read_text())
    }
    run = machine.bootstrap("--yes", PULUMI_ORG="acme-org")

    assert run.code == 0, run.output
    gh = machine.world["gh"]
    set_names = {name for scope in (gh["variables"], gh["secrets"]) for values in scope.values() for name in values}
    assert set_names <= read, set_names - read
    assert "PULUMI_BACKEND_URL" in read  # what the S3 backend run sets instead of the token
    # The two a stack's deploy job requires from its environment (docs/ci.md, "The prod gate").
    assert {"AWS_ROLE_ARN", "SMOKE_API_KEY"} <= set(gh["variables"]["staging"]) | set(gh["secrets"]["staging"])


# --- without gh, the exact commands ------------------------------------------------------------------


@pytest.mark.parametrize("gh", ["missing", "logged out"])
def test_without_a_logged_in_gh_it_prints_the_exact_commands(machine: Machine, gh: str) -> None:
    if gh == "missing":
        machine.remove_tool("gh")
    else:
        machine.edit(lambda w: w["gh"].update(authenticated=False))

    run = machine.bootstrap("--yes")

    assert run.code == 0, run.output
    assert not [c for c in run.calls if c["tool"] == "gh" and c["changed"]]
    role = f"arn:aws:iam::{fake_tools.ACCOUNT}:role/staging-github-role"
    assert f"gh variable set AWS_ROLE_ARN --env staging --repo acme/api --body {role}" in run.stdout
    assert (
        "pulumi stack output first_client_api_key --show-secrets --stack staging | "
        "gh secret set SMOKE_API_KEY --env staging --repo acme/api"
    ) in run.stdout
    assert "printenv PULUMI_ACCESS_TOKEN | gh secret set PULUMI_ACCESS_TOKEN --repo acme/api" in run.stdout
    assert "gh api -X PUT repos/acme/api/environments/staging" in run.stdout
    assert PULUMI_TOKEN not in run.output


# --- a self-managed S3 backend -----------------------------------------------------------------------


def test_an_s3_backend_is_created_with_its_key_and_the_deploy_role_is_given_both(machine: Machine) -> None:
    url = "s3://acme-pulumi-state?region=us-east-1"

    run = machine.bootstrap("--yes", PULUMI_BACKEND_URL=url, PULUMI_ACCESS_TOKEN="")

    assert run.code == 0, run.output
    changes = run.changes()
    assert changes[:5] == [
        "aws s3api create-bucket --bucket acme-pulumi-state --region us-east-1",
        "aws s3api put-bucket-versioning --bucket acme-pulumi-state --region us-east-1 "
        "--versioning-configuration Status=Enabled",
        "aws kms create-key --description Pulumi stack secrets (acme-pulumi-state) --region us-east-1 --output json",
        "aws kms create-alias --alias-name alias/pulumi-state --target-key-id key-1 --region us-east-1",
        "pulumi stack init staging --secrets-provider awskms://alias/pulumi-state?region=us-east-1",
    ]
    config = machine.stack_config("staging")  # the program grants the deploy role these two
    assert config[f"{PROJECT}:stateBucket"] == "acme-pulumi-state"
    assert config[f"{PROJECT}:stateKmsKeyArn"] == f"arn:aws:kms:us-east-1:{fake_tools.ACCOUNT}:key/key-1"
    world = machine.world
    assert world["gh"]["variables"][""] == {"PULUMI_BACKEND_URL": url}
    assert "PULUMI_ACCESS_TOKEN" not in world["gh"]["secrets"].get("", {})
    rerun = machine.bootstrap("--yes", PULUMI_BACKEND_URL=url, PULUMI_ACCESS_TOKEN="")
    assert rerun.code == 0, rerun.output
    assert rerun.changes() == []


def test_a_key_left_without_its_alias_is_deleted_so_the_rerun_starts_clean(machine: Machine) -> None:
    url = "s3://acme-pulumi-state?region=us-east-1"
    machine.edit(lambda w: w["fail"].update({"aws kms create-alias": "AccessDeniedException"}))

    failed = machine.bootstrap("--yes", PULUMI_BACKEND_URL=url)

    assert failed.code == 1
    assert "AccessDeniedException" in failed.stderr
    assert machine.world["aws"]["keys"] == []
    machine.edit(lambda w: w["fail"].clear())
    assert machine.bootstrap("--yes", PULUMI_BACKEND_URL=url).code == 0
    assert machine.world["aws"]["kms"] == {"alias/pulumi-state": "key-2"}


def test_no_tool_runs_with_the_openai_key_in_its_environment(machine: Machine, tmp_path: Path) -> None:
    spy = machine.bin / "pulumi"
    real = spy.read_text()
    spy.write_text(real.replace("exec ", f'env > "{tmp_path}/pulumi-env-$$"; exec ', 1))

    assert machine.bootstrap("--yes").code == 0

    dumps = list(tmp_path.glob("pulumi-env-*"))
    assert dumps
    assert not [d for d in dumps if OPENAI_KEY in d.read_text()]
    assert os.environ.get("OPENAI_API_KEY") != OPENAI_KEY  # the test itself did not leak it either
