"""`make rename NAME=...`: the project's name is set in one place, and a renamed fork still runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.project import PROJECT
from scripts import rename

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(rf"(?<![\w-]){re.escape(PROJECT)}(?![\w])")


def _repository_files(root: Path) -> list[str]:
    """Tracked files and untracked ones git does not ignore, as a fork's clone would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [path for path in listed.split("\0") if path and (root / path).is_file()]


def _holding_the_name(root: Path, name: re.Pattern[str]) -> set[str]:
    found = set()
    for path in _repository_files(root):
        try:
            text = (root / path).read_text()
        except UnicodeDecodeError:
            continue
        if name.search(text):
            found.add(path)
    return found


def test_only_the_files_the_rename_rewrites_hold_the_name() -> None:
    holding = _holding_the_name(ROOT, NAME)
    assert holding, "the name is found nowhere: the search is broken"
    assert holding <= set(rename.LITERAL), f"hardcoded elsewhere; derive it from infra/project.py: {holding}"


@pytest.mark.parametrize("bad", ["Acme", "a", "acme_api", "-acme", "acme-", "x" * 41, "acme api"])
def test_a_name_aws_would_refuse_is_refused_before_anything_changes(bad: str) -> None:
    with pytest.raises(ValueError, match="not a usable name"):
        rename.rename(bad, dry_run=True)


def test_a_renamed_copy_holds_no_trace_of_the_old_name_and_its_program_runs(tmp_path: Path) -> None:
    copy = tmp_path / "fork"
    for path in _repository_files(ROOT):
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, copy / path)
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    subprocess.run(["git", "add", "-A"], cwd=copy, check=True)

    done = subprocess.run(
        [sys.executable, "scripts/rename.py", "acme-api"], cwd=copy, capture_output=True, text=True, check=True
    )
    assert "Renamed" in done.stdout
    assert _holding_the_name(copy, NAME) == set()
    again = subprocess.run(
        [sys.executable, "scripts/rename.py", "acme-api"], cwd=copy, capture_output=True, text=True, check=True
    )
    assert "already named acme-api" in again.stdout

    # The copy's own program, config namespaces and component types, under mocks.
    env = {**os.environ, "PYTHONPATH": str(copy)}
    config = json.dumps({"openaiApiKey": "sk-test-rename-0123456789"})
    ran = subprocess.run(
        [sys.executable, "-m", "infra.mocks", "staging", config],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    result = json.loads(ran.stdout)
    assert result["error"] is None, result["error"]
    types = {r["type"] for r in result["resources"]}
    assert "acme-api:index:Network" in types
    assert not any(PROJECT in t for t in types)
    cluster = next(r for r in result["resources"] if r["type"] == "aws:ecs/cluster:Cluster")
    assert cluster["inputs"]["name"] == "acme-api-staging"
