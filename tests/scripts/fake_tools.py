"""Fake `pulumi`, `aws`, `gh`, `docker` and `git` executables for the operator scripts' tests.

`install()` puts one executable per tool in a directory meant to be the whole PATH. Each runs this file
with its own name; the answers come from a JSON "world" (FAKE_WORLD), which calls that change something
update, and every call is appended to a JSON-lines log (FAKE_CALLS) with its argv, its stdin and
whether it changed the world. `world["fail"]` maps a command prefix ("pulumi up") to an error message:
while it is there, that command fails as the real one would.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.project import PROJECT

TOOLS = ("pulumi", "aws", "gh", "docker", "git")
ACCOUNT = "111111111111"
FIRST_KEY = "svc-fake-first-client-key-0123456789"
REGION = "us-east-1"

World = dict[str, Any]


def default_world() -> World:
    return {
        "pulumi": {"version": "v3.150.0", "backend": "https://api.pulumi.com", "logged_in": True, "stacks": {}},
        "aws": {
            "version": "aws-cli/2.17.0 Python/3.11.9 Linux/6.8 exe/x86_64",
            "credentials": True,
            "buckets": {},
            "kms": {},
            "zones": [],
        },
        "gh": {"authenticated": True, "repo": "acme/api", "environments": {}, "variables": {}, "secrets": {}},
        "docker": {"daemon": True},
        "git": {"head": "abc1234", "dirty": [], "remote": "https://github.com/acme/api.git"},
        "fail": {},
        "client_api_keys_secret_arn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:client-keys",
    }


def install(bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        path = bin_dir / tool
        path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" {tool} "$@"\n')
        path.chmod(0o755)


class Failed(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Call:
    tool: str
    args: list[str]
    stdin: str
    world: World
    changed: bool = False

    def opt(self, flag: str) -> str | None:
        return self.args[self.args.index(flag) + 1] if flag in self.args else None

    def words(self) -> list[str]:
        """Positional arguments: flags and the values of flags that take one are left out."""
        takes_value = {
            "--stack", "--secrets-provider", "--policy-pack", "--message", "--page-size", "--output", "--region",
            "--bucket", "--key-id", "--jq", "--repo", "--env", "--body", "--input", "-X", "-f",
            "--alias-name", "--target-key-id", "--description",
            "--versioning-configuration", "--create-bucket-configuration", "--pending-window-in-days", "--format",
        }  # fmt: skip
        if self.tool == "gh":
            takes_value.add("--json")  # gh's --json names fields; pulumi's is a switch
        found: list[str] = []
        skip = False
        for arg in self.args:
            if skip:
                skip = False
            elif arg in takes_value:
                skip = True
            elif not arg.startswith("-"):
                found.append(arg)
        return found

    def change(self) -> None:
        self.changed = True


# --- pulumi -------------------------------------------------------------------------------------------


def pulumi(call: Call) -> str:
    p = call.world["pulumi"]
    words = call.words()
    if words == ["version"]:
        return str(p["version"])
    if words == ["whoami"]:
        url = os.environ.get("PULUMI_BACKEND_URL") or (p["backend"] if p["logged_in"] else None)
        if url is None:
            raise Failed("error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions", 255)
        return json.dumps({"user": "me", "url": url})
    if words[:2] == ["stack", "ls"]:
        return json.dumps([{"name": name} for name in p["stacks"]])
    if words[:2] == ["stack", "init"]:
        if words[2] in p["stacks"]:
            raise Failed(f"error: stack '{words[2]}' already exists", 255)
        p["stacks"][words[2]] = {"history": [], "outputs": {}, "secrets_provider": call.opt("--secrets-provider")}
        call.change()
        return f"Created stack '{words[2]}'"
    stack = _stack(call)
    if words[:2] == ["stack", "output"]:
        secret = set(stack.get("secret_outputs", []))
        shown = "--show-secrets" in call.args
        return json.dumps({k: v if shown or k not in secret else "[secret]" for k, v in stack["outputs"].items()})
    if words[:2] == ["stack", "history"]:
        return json.dumps(stack["history"])
    if words[:2] == ["config", "set"]:
        value = call.stdin if "--secret" in call.args else words[3]
        if not value:
            raise Failed("error: value is required", 255)
        _edit_stack_file(call, words[2], {"secure": "v1:ZmFrZQ=="} if "--secret" in call.args else value)
        return ""
    if words[:2] == ["config", "rm"]:
        _edit_stack_file(call, words[2], None)
        return ""
    if words == ["up"]:
        return _up(call, stack)
    raise Failed(f"fake pulumi: unsupported {call.args}", 2)


def _stack(call: Call) -> dict[str, Any]:
    name = call.opt("--stack") or ""
    stacks: dict[str, Any] = call.world["pulumi"]["stacks"]
    if name not in stacks:
        raise Failed(f"error: no stack named '{name}' found", 255)
    found: dict[str, Any] = stacks[name]
    return found


def _edit_stack_file(call: Call, key: str, value: Any) -> None:
    path = Path.cwd() / f"Pulumi.{(call.opt('--stack') or '').rsplit('/', 1)[-1]}.yaml"
    document = yaml.safe_load(path.read_text()) or {}
    config = document.setdefault("config", {})
    qualified = key if ":" in key else f"{PROJECT}:{key}"
    if value is None:
        config.pop(qualified, None)
    else:
        config[qualified] = value
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    call.change()


def _up(call: Call, stack: dict[str, Any]) -> str:
    short = (call.opt("--stack") or "").rsplit("/", 1)[-1]
    config = (yaml.safe_load((Path.cwd() / f"Pulumi.{short}.yaml").read_text()) or {}).get("config", {})
    stack["history"].insert(0, {"version": len(stack["history"]) + 1, "kind": "update", "result": "failed"})
    call.change()
    if "pulumi up" in call.world["fail"]:
        raise Failed(call.world["fail"]["pulumi up"], 255)
    if f"{PROJECT}:openaiApiKey" not in config:
        raise Failed(f"error: {PROJECT}:openaiApiKey: no OpenAI API key is configured", 255)
    stack["outputs"] = {
        "service_url": f"http://api-{short}.elb.example",
        "ecr_repository_url": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{PROJECT}-{short}",
        "deploy_role_arn": f"arn:aws:iam::{ACCOUNT}:role/{short}-github-role",
        "first_client_api_key": f"{FIRST_KEY}-{short}",
        "client_api_keys_secret_arn": call.world["client_api_keys_secret_arn"],
        "cluster_name": f"{PROJECT}-{short}",
        "service_name": "api",
    }
    stack["secret_outputs"] = ["first_client_api_key"]
    stack["history"][0]["result"] = "succeeded"
    return "Resources: 120 created"


# --- aws ----------------------------------------------------------------------------------------------


def aws(call: Call) -> str:
    a = call.world["aws"]
    words = call.words()
    if call.args == ["--version"]:
        return str(a["version"])
    if not a["credentials"]:
        raise Failed('Unable to locate credentials. You can configure credentials by running "aws configure".', 253)
    if words == ["sts", "get-caller-identity"]:
        return json.dumps({"UserId": "AIDEXAMPLE", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/admin"})
    bucket = call.opt("--bucket") or ""
    if words == ["s3api", "head-bucket"]:
        if bucket not in a["buckets"]:
            raise Failed("An error occurred (404) when calling the HeadBucket operation: Not Found", 254)
        return ""
    if words == ["s3api", "create-bucket"]:
        a["buckets"][bucket] = {"versioning": None}
        call.change()
        return json.dumps({"Location": f"/{bucket}"})
    if words == ["s3api", "get-bucket-versioning"]:
        status = a["buckets"][bucket]["versioning"]
        return json.dumps({"Status": status} if status else {})
    if words == ["s3api", "put-bucket-versioning"]:
        a["buckets"][bucket]["versioning"] = "Enabled"
        call.change()
        return ""
    return _aws_kms_route53(call, a, words)


def _aws_kms_route53(call: Call, a: dict[str, Any], words: list[str]) -> str:
    if words == ["kms", "describe-key"]:
        alias = call.opt("--key-id")
        if alias not in a["kms"]:
            raise Failed(f"An error occurred (NotFoundException) when calling the DescribeKey operation: {alias}", 254)
        return json.dumps({"KeyMetadata": {"KeyId": a["kms"][alias], "Arn": _key_arn(a["kms"][alias])}})
    if words == ["kms", "create-key"]:
        a["created_keys"] = a.get("created_keys", 0) + 1
        key_id = f"key-{a['created_keys']}"
        a.setdefault("keys", []).append(key_id)
        call.change()
        return json.dumps({"KeyMetadata": {"KeyId": key_id, "Arn": _key_arn(key_id)}})
    if words == ["kms", "create-alias"]:
        a["kms"][call.opt("--alias-name")] = call.opt("--target-key-id")
        call.change()
        return ""
    if words == ["kms", "schedule-key-deletion"]:
        a["keys"].remove(call.opt("--key-id"))
        call.change()
        return ""
    if words == ["route53", "list-hosted-zones"]:
        return json.dumps({"HostedZones": a["zones"]})
    raise Failed(f"fake aws: unsupported {call.args}", 2)


def _key_arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


# --- gh, docker, git ----------------------------------------------------------------------------------


def gh(call: Call) -> str:
    g = call.world["gh"]
    words = call.words()
    if call.args == ["--version"]:
        return "gh version 2.60.0 (2024-10-01)"
    if words == ["auth", "status"]:
        if not g["authenticated"]:
            raise Failed("You are not logged into any GitHub hosts. To log in, run: gh auth login", 1)
        return "Logged in to github.com"
    if words == ["repo", "view"]:
        return str(g["repo"])
    if words[:1] == ["api"]:
        return _gh_api(call, g, words[1], call.opt("-X") or "GET")
    scope = call.opt("--env") or ""
    if words[:2] == ["variable", "list"]:
        return json.dumps([{"name": k, "value": v} for k, v in g["variables"].get(scope, {}).items()])
    if words[:2] == ["variable", "set"]:
        g["variables"].setdefault(scope, {})[words[2]] = call.opt("--body")
        call.change()
        return ""
    if words[:2] == ["secret", "list"]:
        return json.dumps([{"name": k} for k in g["secrets"].get(scope, {})])
    if words[:2] == ["secret", "set"]:
        if not call.stdin:
            raise Failed("no value on stdin", 1)
        g["secrets"].setdefault(scope, {})[words[2]] = call.stdin
        call.change()
        return ""
    raise Failed(f"fake gh: unsupported {call.args}", 2)


def _gh_api(call: Call, g: dict[str, Any], path: str, method: str) -> str:
    parts = path.split("/")  # repos/<owner>/<repo>/environments/<env>[/deployment-branch-policies]
    environments: dict[str, Any] = g["environments"]
    name = parts[4]
    if len(parts) == 5 and method == "GET":
        if name not in environments:
            raise Failed("gh: Not Found (HTTP 404)", 1)
        return json.dumps(environments[name])
    if len(parts) == 5 and method == "PUT":
        environments[name] = {**json.loads(call.stdin), "branch_policies": []}
        call.change()
        return "{}"
    if method == "GET":
        return json.dumps({"branch_policies": [{"name": n} for n in environments[name]["branch_policies"]]})
    fields = dict(arg.split("=", 1) for arg in call.args if "=" in arg)
    environments[name]["branch_policies"].append(fields["name"])
    call.change()
    return "{}"


def docker(call: Call) -> str:
    if call.args[:1] == ["info"] and not call.world["docker"]["daemon"]:
        raise Failed(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
        )
    return "27.1.0"


def git(call: Call) -> str:
    g = call.world["git"]
    words = call.words()
    if words[:3] == ["remote", "get-url", "origin"]:
        return str(g["remote"])
    if words[:1] == ["status"]:
        return "\n".join(f" M {path}" for path in g["dirty"])
    if words[:1] == ["rev-parse"]:
        return str(g["head"])
    raise Failed(f"fake git: unsupported {call.args}", 2)


HANDLERS: dict[str, Callable[[Call], str]] = {"pulumi": pulumi, "aws": aws, "gh": gh, "docker": docker, "git": git}


def _answer(call: Call) -> str:
    command = " ".join([call.tool, *call.args])
    # `pulumi up` fails in `_up`, after recording the failed update as Pulumi does.
    for prefix, message in call.world["fail"].items():
        if prefix != "pulumi up" and command.startswith(prefix):
            raise Failed(message, 255)
    return HANDLERS[call.tool](call)


def main() -> int:
    tool, args = sys.argv[1], sys.argv[2:]
    world_path = Path(os.environ["FAKE_WORLD"])
    world = json.loads(world_path.read_text())
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    call = Call(tool, args, stdin, world)
    code, out, err = 0, "", ""
    try:
        out = _answer(call)
    except Failed as e:
        code, err = e.code, str(e)
    world_path.write_text(json.dumps(world, indent=1))
    record = {"tool": tool, "args": args, "stdin": stdin, "changed": call.changed, "code": code}
    with Path(os.environ["FAKE_CALLS"]).open("a") as log:
        log.write(json.dumps(record) + "\n")
    if out:
        print(out)
    if err:
        print(err, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
