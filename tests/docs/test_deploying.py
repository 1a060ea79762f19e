"""docs/deploying.md holds what it promises: at most ten steps, each a command or a click, and every
command it names exists: make targets in the Makefile, scripts on disk, `python -m` modules that import,
and every other tool in its prerequisites table, which says what scripts/prerequisites.py checks."""

from __future__ import annotations

import importlib
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from scripts import bootstrap, prerequisites

REPO_ROOT = Path(__file__).resolve().parents[2]
GUIDE = (REPO_ROOT / "docs" / "deploying.md").read_text()
# Shell builtins and POSIX utilities a command line may use besides the listed tools.
SHELL = {"export", "cd", "cat", "echo", "printenv"}


def section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", GUIDE, re.M | re.S)
    assert found, f"docs/deploying.md has no section {title!r}"
    return found[1]


def steps() -> list[str]:
    return re.findall(r"^\d+\. .*?(?=^\d+\. |\Z)", section("The ten steps"), re.M | re.S)


def prerequisite_rows() -> dict[str, str]:
    """Tool name -> its Version cell, from the table under "Before you start"."""
    rows = re.findall(r"^\| `([\w.-]+)` \| ([^|]+) \|", section("Before you start"), re.M)
    return {name: version.strip() for name, version in rows}


def command_lines() -> list[str]:
    """Every command the guide shows: lines of its `sh` blocks, and inline code in the steps with a space."""
    blocks = re.findall(r"```sh\n(.*?)```", GUIDE, re.S)
    lines = [line for block in blocks for line in block.splitlines()]
    # A here-document's body is data, not commands.
    lines = re.sub(r"<<'EOF'\n.*?\nEOF", "<<'EOF'", "\n".join(lines), flags=re.S).splitlines()
    inline = [span for step in steps() for span in re.findall(r"`([^`]+)`", step) if " " in span]
    return [line for line in lines + inline if line.strip() and not line.lstrip().startswith("#")]


def commands(line: str) -> list[list[str]]:
    """The simple commands of a line: those in $(...) and those joined by && || | ;, leading VAR=value dropped."""
    line = re.sub(r"\s+#.*$", "", line)
    inner: list[str] = []
    while (found := re.search(r"\$\(([^()]*)\)", line)) is not None:
        inner.append(found[1])
        line = line[: found.start()] + "SUBSTITUTION" + line[found.end() :]
    simple = []
    for part in [*re.split(r"&&|\|\||\||;", line), *inner]:
        words = shlex.split(part)
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            words = words[1:]
        if words:
            simple.append(words)
    return simple


def all_commands() -> list[list[str]]:
    return [words for line in command_lines() for words in commands(line)]


def test_there_are_at_most_ten_numbered_steps_in_order() -> None:
    numbers = [int(step.split(".", 1)[0]) for step in steps()]
    assert 1 <= len(numbers) <= 10
    assert numbers == list(range(1, len(numbers) + 1))


def test_each_step_is_a_command_or_a_click() -> None:
    for step in steps():
        # A command in code, or a click: a button or a path through GitHub's pages (A → B).
        assert re.match(r"\d+\. \*\*[^*]+\*\*: (`[^`]+`|[^\n]*(\bclick\b|→))", step), step.splitlines()[0]


def test_the_path_covers_https_alerts_troubleshooting_and_teardown() -> None:
    path = "\n".join(steps())
    assert "DOMAIN_NAME=" in path
    assert "ALARM_EMAIL=" in path
    assert "Confirm subscription" in path
    assert "#when-the-first-deploy-fails" in path
    for title in ("When the first deploy fails", "Teardown", "Changing the infrastructure"):
        assert section(title)


def test_every_tool_a_command_starts_with_is_a_prerequisite() -> None:
    listed = set(prerequisite_rows()) | SHELL
    unlisted = {words[0] for words in all_commands() if words[0] not in listed}
    assert unlisted == set(), f"commands use tools missing from the prerequisites table: {unlisted}"


def test_every_make_target_it_names_exists() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    named = {words[1] for words in all_commands() if words[0] == "make"}
    named |= set(re.findall(r"`make ([a-z-]+)", GUIDE))
    assert named
    assert named <= targets, named - targets


def test_every_python_module_it_runs_imports() -> None:
    modules = set(re.findall(r"python3? -m ([\w.]+)", GUIDE))
    assert "scripts.client_keys" in modules
    for module in modules:
        importlib.import_module(module)


def test_every_script_it_names_exists() -> None:
    paths = set(re.findall(r"\b((?:scripts|infra|service|docs)/[\w./-]+\.(?:py|md|yml))\b", GUIDE))
    paths |= {f"docs/{name}" for name in re.findall(r"\]\(([\w-]+\.md)", GUIDE)}
    missing = {p for p in paths if not (REPO_ROOT / p).exists()}
    assert missing == set()


def test_the_prerequisites_table_is_what_the_bootstrap_checks() -> None:
    rows = prerequisite_rows()
    for tool in prerequisites.TOOLS:
        assert tool.name in rows, f"{tool.name} is checked by the bootstrap but not listed"
        if tool.minimum is not None:
            assert rows[tool.name].startswith(".".join(map(str, tool.minimum)) + " or newer"), tool.name
        assert ("optional" in rows[tool.name]) == (not tool.required), tool.name


def test_the_pulumi_cli_minimum_is_the_sdk_floor_of_pyproject() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    [floor] = [re.sub(r"^pulumi>=", "", d) for d in project["dependency-groups"]["infra"] if d.startswith("pulumi>=")]
    assert prerequisites.PULUMI.minimum == tuple(int(part) for part in floor.split(".")[:2])


@pytest.mark.parametrize("anchor", ["when-the-first-deploy-fails", "changing-the-infrastructure"])
def test_the_sections_the_bootstrap_points_to_exist(anchor: str) -> None:
    source = (REPO_ROOT / "scripts" / "bootstrap.py").read_text()
    assert f"{bootstrap.DOCS}#{anchor}" in source or f"#{anchor}" in source
    headings = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^## (.+)$", GUIDE, re.M)}
    assert anchor in headings
