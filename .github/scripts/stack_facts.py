"""What a workflow needs to know about a stack before it can reach AWS, as `key=value` lines for $GITHUB_OUTPUT.

    uv run --frozen python .github/scripts/stack_facts.py staging >>"$GITHUB_OUTPUT"

region          the stack's `aws:region` (Pulumi.<stack>.yaml), so GitHub needs no AWS_REGION of its own
pulumi-version  the Pulumi SDK version uv.lock pins: the CLI every workflow installs is exactly this one
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def region(stack: str) -> str:
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise SystemExit(f"no stack file {path.name}: the stack must be committed (docs/deploying.md)")
    value = (yaml.safe_load(path.read_text()).get("config") or {}).get("aws:region")
    if not isinstance(value, str) or not value:
        raise SystemExit(f"{path.name} sets no aws:region: pulumi config set --stack {stack} aws:region us-east-1")
    return value


def pulumi_version() -> str:
    packages = tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    versions = {p["version"] for p in packages if p["name"] == "pulumi"}
    if len(versions) != 1:
        raise SystemExit(f"uv.lock should pin exactly one pulumi version, found {sorted(versions)}")
    return str(versions.pop())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: stack_facts.py <stack>", file=sys.stderr)
        return 2
    print(f"region={region(argv[0])}")
    print(f"pulumi-version={pulumi_version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
