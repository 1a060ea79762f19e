"""Run the command-line tools the operator scripts drive (pulumi, aws, gh, docker, git).

Two kinds of call: `query` reads and runs even in a dry run; `change` alters something, is announced
before it runs, and in a dry run is only announced. Secrets travel on stdin as `Secret`, never on
argv, and are shown by their label only.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

REPO_ROOT = Path(__file__).resolve().parents[1]
STDERR_TAIL_CHARS = 2000


@dataclass(frozen=True)
class Secret:
    """A value that must not be shown: printed as its label, passed to a command on stdin."""

    value: str = field(repr=False)
    label: str

    def __str__(self) -> str:
        return f"<{self.label}>"


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class CommandFailed(RuntimeError):
    """A command exited non-zero; the message says what it was for, what ran and what it printed."""

    def __init__(self, purpose: str, argv: Sequence[str], result: Result | None) -> None:
        detail = ""
        if result is not None:
            tail = (result.stderr.strip() or result.stdout.strip())[-STDERR_TAIL_CHARS:]
            detail = f" (exit {result.returncode})" + (f":\n{tail}" if tail else ": see its output above")
        super().__init__(f"{purpose} failed: `{shlex.join(argv)}`{detail}")


class Shell:
    """Runs commands (in the repository root by default); records every change it makes or, in a dry run, would make."""

    def __init__(
        self,
        *,
        dry_run: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: Path = REPO_ROOT,
        out: TextIO | None = None,
    ) -> None:
        self.dry_run = dry_run
        self.cwd = cwd
        self.env = dict(os.environ if env is None else env)
        self.out = out or sys.stdout
        self.changes: list[str] = []

    def which(self, tool: str) -> str | None:
        return shutil.which(tool, path=self.env.get("PATH"))

    def query(self, *argv: str, stdin: str | Secret | None = None) -> Result:
        """Run a read-only command and capture its output (dry runs too). A missing tool is exit 127."""
        if self.which(argv[0]) is None:
            return Result(127, "", f"{argv[0]}: command not found")
        return self._run(argv, stdin, capture=True)

    def change(self, purpose: str, *argv: str, stdin: str | Secret | None = None, stream: bool = False) -> Result:
        """Announce and run a command that changes something; raise `CommandFailed` if it fails.
        `stream` passes the command's output straight through (long runs such as `pulumi up`)."""
        shown = shlex.join(argv) + (f" < {stdin}" if isinstance(stdin, Secret) else "")
        self.changes.append(shown)
        self.say(f"{'would run' if self.dry_run else 'running'}: {shown}    # {purpose}")
        if self.dry_run:
            return Result(0, "", "")
        if self.which(argv[0]) is None:
            raise CommandFailed(purpose, argv, Result(127, "", f"{argv[0]}: command not found"))
        result = self._run(argv, stdin, capture=not stream)
        if not result.ok:
            raise CommandFailed(purpose, argv, result)
        return result

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def _run(self, argv: Sequence[str], stdin: str | Secret | None, *, capture: bool) -> Result:
        text = stdin.value if isinstance(stdin, Secret) else stdin
        completed = subprocess.run(
            list(argv),
            cwd=self.cwd,
            env=self.env,
            input=text,
            stdin=None if text is not None else subprocess.DEVNULL,
            capture_output=capture,
            text=True,
            check=False,
        )
        return Result(completed.returncode, completed.stdout or "", completed.stderr or "")
