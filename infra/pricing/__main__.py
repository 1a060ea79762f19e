"""`make cost`: what a stack's own resources cost a month at minimum size, from the dated price table.

    python -m infra.pricing [STACK ...] [--set KEY=VALUE ...]   each billable resource and the total
    python -m infra.pricing --markdown                         the docs' cost section, levers included
    python -m infra.pricing --write | --check                  rewrite the docs' figures / fail if stale

The program runs under Pulumi's mocks (infra/mocks.py, one process per stack, as the tests run it) with
the real stack files; nothing talks to AWS. What only an operator types is stood in for: an OpenAI key,
and a certificate for a stack that needs one (prod), as the tests do. Neither changes the price.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final

from infra.mocks import ROOT, stack_config
from infra.pricing import report
from infra.pricing.estimate import Estimate, estimate
from infra.pricing.prices import load

STACKS: Final = ("staging", "prod")
DOCS: Final = (ROOT / "docs" / "infrastructure.md", ROOT / "README.md")
STAND_IN_KEY: Final = "sk-stand-in-for-the-cost-estimate"
STAND_IN_CERTIFICATE: Final = "arn:aws:acm:us-east-1:000000000000:certificate/cost-estimate"

# (stack, change, trade-off): the docs price each one against the stack as committed.
LEVERS: Final[tuple[tuple[str, Mapping[str, str], str], ...]] = (
    ("staging", {"natGateways": "single"}, "tasks private behind one NAT instead of public IPs"),
    ("staging", {"containerInsights": "enhanced"}, "per-task and per-container metrics, as prod has"),
    ("prod", {"natGateways": "single"}, "one zone's NAT carries every zone's egress: a zone outage cuts it"),
    ("prod", {"onDemandBase": "1", "spotPercent": "100"}, "the second task on Spot: it can be reclaimed"),
    ("prod", {"containerInsights": "enabled"}, "no per-task or per-container metrics"),
    (
        "prod",
        {"vpcEndpoints": "true"},
        "image pulls, logs and secrets stay off the NAT; pays only with terabytes a month of it",
    ),
)


def stand_ins(stack: str) -> dict[str, str]:
    """Config an operator sets from the command line (never in the stack file) that the program needs to run."""
    config = {k.split(":", 1)[1]: v for k, v in stack_config(stack, {})[0].items() if not k.startswith("aws:")}
    extra = {} if "openaiApiKeySecretArn" in config else {"openaiApiKey": STAND_IN_KEY}
    https = {"domainName", "certificateArn"} & set(config)
    if not https and config.get("allowPlainHttp") != "true":
        extra["certificateArn"] = STAND_IN_CERTIFICATE
    return extra


def record(runs: Sequence[tuple[str, Mapping[str, str]]]) -> list[list[dict[str, Any]]]:
    """What the program registers for each (stack, config changes), one process each, run side by side."""
    procs = [
        subprocess.Popen(  # noqa: S603 (this interpreter, our own module; the stack name is an argument, no shell)
            [sys.executable, "-m", "infra.mocks", stack, json.dumps({**stand_ins(stack), **changes})],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for stack, changes in runs
    ]
    recorded = []
    for (stack, changes), proc in zip(runs, procs, strict=True):
        out, err = proc.communicate(timeout=300)
        data = json.loads(out) if proc.returncode == 0 and out else {"error": err.strip()[-2000:]}
        if data["error"] is not None:
            raise SystemExit(f"the program failed for {stack} {dict(changes)}: {data['error']}")
        recorded.append(list(data["resources"]))
    return recorded


def estimates(runs: Sequence[tuple[str, Mapping[str, str]]]) -> list[Estimate]:
    table = load()
    return [
        estimate(stack, resources, table, changes)
        for (stack, changes), resources in zip(runs, record(runs), strict=True)
    ]


def docs_section() -> tuple[str, dict[str, str]]:
    """The docs' generated cost block, and the inline figures (`<!-- cost:prod -->`) around the docs."""
    runs: list[tuple[str, Mapping[str, str]]] = [(stack, {}) for stack in STACKS]
    runs += [(stack, change) for stack, change, _ in LEVERS]
    priced = estimates(runs)
    base = dict(zip(STACKS, priced, strict=False))
    levers = [
        report.Lever(", ".join(f"{k}: {v}" for k, v in change.items()), trade_off, base[stack], after)
        for (stack, change, trade_off), after in zip(LEVERS, priced[len(STACKS) :], strict=True)
    ]
    figures = {stack: f"${e.total:,.2f}/month" for stack, e in base.items()}
    figures["date"] = load().taken_on
    return report.markdown(list(base.values()), levers), figures


def _changes(pairs: Sequence[str]) -> dict[str, str]:
    changes = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set {pair}: write KEY=VALUE, e.g. --set natGateways=single")
        changes[key] = value
    return changes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.pricing", description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", metavar="STACK", help=f"default: {' '.join(STACKS)}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="price a config change")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--markdown", action="store_true", help="print the docs' cost section")
    mode.add_argument("--write", action="store_true", help="rewrite the cost figures in the docs and README")
    mode.add_argument("--check", action="store_true", help="fail if the docs' cost figures are stale")
    options = parser.parse_args(argv)
    if options.markdown or options.write or options.check:
        body, figures = docs_section()
        if options.markdown:
            print(body, end="")
            return 0
        stale = [path for path in DOCS if report.render(path.read_text(), body, figures) != path.read_text()]
        if options.check:
            for path in stale:
                print(f"{path.relative_to(ROOT)}: the cost figures are stale; run `make docs`", file=sys.stderr)
            return 1 if stale else 0
        for path in stale:
            path.write_text(report.render(path.read_text(), body, figures))
        return 0
    changes = _changes(options.set)
    for stack in options.stacks:
        if not (ROOT / f"Pulumi.{stack}.yaml").is_file():
            raise SystemExit(f"no stack file Pulumi.{stack}.yaml: STACK is one of {', '.join(STACKS)}")
    for priced in estimates([(stack, changes) for stack in options.stacks or STACKS]):
        print(report.text(priced), end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
