"""`python -m evals.first_baseline staging`: write a deployed stack's first evaluation baseline.

The deploy workflow compares staging with `evals/baseline/<stack>.json` once that file exists; until
then its evaluation only fails on errors. Run this once after the stack's first deploy, read the report,
and commit the file. It asks Pulumi for the stack's URL and, unless `EVAL_API_KEY` is set, its first
client key; with `OPENAI_API_KEY` set the model-graded judge runs too, as it does in the deploy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from evals.__main__ import main as run_evals

BASELINE_DIR = Path(__file__).resolve().parent / "baseline"


def _stack_output(stack: str, name: str, *, secret: bool = False) -> str:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise SystemExit("pulumi is not on PATH: `make sync` installs it, or pass --target and set EVAL_API_KEY")
    command = [pulumi, "stack", "output", name, "--stack", stack, *(["--show-secrets"] if secret else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our own CLI call
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"`pulumi stack output {name} --stack {stack}` failed: {done.stderr.strip()}")
    return done.stdout.strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.first_baseline",
        description=__doc__.split("\n\n")[0],
        epilog="Other options go to `python -m evals` (e.g. --limit, --model, --out for the reports).",
        allow_abbrev=False,
    )
    parser.add_argument("stack", help="the deployed stack, e.g. staging")
    parser.add_argument("--target", help="the service URL (default: the stack's service_url output)")
    parser.add_argument("--baseline-file", type=Path, help="default: evals/baseline/<stack>.json")
    args, extra = parser.parse_known_args(argv)
    target = args.target or _stack_output(args.stack, "service_url")
    if not os.environ.get("EVAL_API_KEY"):
        os.environ["EVAL_API_KEY"] = _stack_output(args.stack, "first_client_api_key", secret=True)
    baseline = args.baseline_file or BASELINE_DIR / f"{args.stack}.json"
    evals_args = ["--target", target, "--write-baseline", str(baseline), *extra]
    if os.environ.get("OPENAI_API_KEY") and "--judge" not in extra:
        evals_args.append("--judge")
    code = run_evals(evals_args)
    if code == 0:
        print(f"next: read the report, then `git add {baseline}` and commit it")
    return code


if __name__ == "__main__":
    sys.exit(main())
