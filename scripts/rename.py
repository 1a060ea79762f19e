"""Rename the project (`make rename NAME=acme-api`): the one command a fork runs to take its own name.

The name lives in `Pulumi.yaml`; the program, the policy pack and the tests read it from there
(`infra/project.py`). Only the files below hold it literally, because their tools need it so: the
stack files namespace every key with it, pyproject.toml and uv.lock name the Python project, and the
docs show real resource names in their commands. This rewrites exactly those files (the lock file's
entry for the project too, so no `uv lock` is needed). `tests/scripts/test_rename.py` checks that no
other file holds the name and that a renamed copy of the repository still runs.

Rename before the first deploy: every resource's URN and many AWS names derive from the name, so a
deployed project that is renamed would be replaced, not renamed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# The files that hold the name literally, and why.
LITERAL: tuple[str, ...] = (
    "Pulumi.yaml",  # the name itself
    "Pulumi.staging.yaml",  # `<name>:<key>` config namespaces
    "Pulumi.prod.yaml",
    "pyproject.toml",  # the Python project's name
    "uv.lock",  # the locked entry for that project
    "README.md",  # commands and resource names people copy
    "docs/deploying.md",
    "docs/infrastructure.md",
    "docs/ci.md",
)

# What AWS accepts in every name the program derives from it (cluster, alarms, dashboard, snapshot,
# KMS alias), with room for the stack and the suffixes it adds.
VALID = re.compile(r"[a-z][a-z0-9-]{1,38}[a-z0-9]")


def current_name(root: Path = ROOT) -> str:
    return str(yaml.safe_load((root / "Pulumi.yaml").read_text())["name"])


def rename(new: str, root: Path = ROOT, dry_run: bool = False) -> list[Path]:
    """Rewrite the literal files under `root` from the current name to `new`; the files changed."""
    if not VALID.fullmatch(new):
        raise ValueError(
            f"{new!r} is not a usable name: use 3-40 lower-case letters, digits and dashes, starting with a "
            "letter (AWS resource names are derived from it)"
        )
    old = current_name(root)
    if new == old:
        return []
    # Whole-word only: a name must not match inside a longer one (`acme` inside `acme-2`).
    pattern = re.compile(rf"(?<![\w-]){re.escape(old)}(?![\w])")
    changed = []
    for relative in LITERAL:
        path = root / relative
        if not path.exists():
            continue
        text = path.read_text()
        updated = pattern.sub(new, text)
        if updated != text:
            changed.append(path)
            if not dry_run:
                path.write_text(updated)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make rename NAME=<name>", description=__doc__.split("\n")[0])
    parser.add_argument("name", help="the new project name, e.g. acme-api")
    parser.add_argument("--dry-run", action="store_true", help="list the files that would change")
    args = parser.parse_args(argv)
    old = current_name()
    try:
        changed = rename(args.name, dry_run=args.dry_run)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verb = "would rewrite" if args.dry_run else "rewrote"
    for path in changed:
        print(f"{verb} {path.relative_to(ROOT)}")
    if changed and not args.dry_run:
        print(f"Renamed {old} to {args.name}. Stacks already deployed under {old} would be replaced, not renamed.")
    elif not changed:
        print(f"The project is already named {args.name}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
