"""`make cost` as people run it: the command's own output on the real stack files, and the docs it writes."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from infra.pricing.__main__ import STAND_IN_CERTIFICATE, stand_ins
from infra.pricing.estimate import estimate
from infra.pricing.prices import load
from infra.pricing.report import render
from tests.infra.conftest import ROOT, Programs

# The targets (issue 10): what each stack may cost a month at its minimum size.
CEILINGS = {"staging": 60.0, "prod": 300.0}


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


class Commands:
    """`python -m infra.pricing` and its `--check`, started together (each runs the program under mocks)."""

    def __init__(self) -> None:
        self._procs = {
            name: subprocess.Popen(
                [sys.executable, "-m", "infra.pricing", *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for name, args in {"cost": [], "check": ["--check"]}.items()
        }
        self._done: dict[str, Done] = {}

    def __getitem__(self, name: str) -> Done:
        if name not in self._done:
            out, err = self._procs[name].communicate(timeout=300)
            self._done[name] = Done(self._procs[name].returncode, out, err)
        return self._done[name]

    def close(self) -> None:
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.fixture(scope="module")
def commands() -> Iterator[Commands]:
    started = Commands()
    yield started
    started.close()


def totals(output: str) -> dict[str, float]:
    return {m["stack"]: float(m["usd"].replace(",", "")) for m in re.finditer(
        r"^(?P<stack>\w+): \$(?P<usd>[\d,.]+) a month at minimum size", output, re.MULTILINE)}  # fmt: skip


def test_make_cost_prints_each_stack_within_its_ceiling(commands: Commands) -> None:
    done = commands["cost"]
    assert done.returncode == 0, done.stderr[-3000:]
    printed = totals(done.stdout)
    assert set(printed) == set(CEILINGS)
    for stack, ceiling in CEILINGS.items():
        assert printed[stack] <= ceiling, f"{stack} costs ${printed[stack]:.2f} a month, above ${ceiling:.0f}"


def test_the_output_names_each_billable_resource_the_price_date_and_the_per_use_prices(commands: Commands) -> None:
    staging, prod = commands["cost"].stdout.split("\n\nprod: ")
    assert f"prices taken on {load().taken_on}" in staging
    for line in ("api-service", "task public IP", "web-alb", "load balancer public IP", "cache-rg", "secrets-key"):
        assert line in staging
    assert "NAT gateway" not in staging
    assert prod.count("NAT gateway ") == 3
    assert "Per use, not in the total:" in staging
    assert re.search(r"^ +total +\d+\.\d\d$", staging, re.MULTILINE)


def test_the_stand_ins_do_not_change_the_price(commands: Commands, programs: Programs) -> None:
    """The tests give prod its certificate as an operator would; the command stands one in."""
    printed = totals(commands["cost"].stdout)
    for stack in CEILINGS:
        assert estimate(stack, programs[stack].resources, load()).total == pytest.approx(printed[stack], abs=0.005)


def test_only_what_an_operator_types_is_stood_in() -> None:
    assert stand_ins("staging") == {"openaiApiKey": "sk-stand-in-for-the-cost-estimate"}
    assert stand_ins("prod")["certificateArn"] == STAND_IN_CERTIFICATE


def test_the_docs_carry_the_figures_the_command_prints(commands: Commands) -> None:
    done = commands["check"]
    assert done.returncode == 0, done.stderr[-3000:] or "run `make docs`"
    printed = totals(commands["cost"].stdout)
    readme = (ROOT / "README.md").read_text()
    assert f"<!-- cost:staging -->${printed['staging']:,.2f}/month<!-- /cost -->" in readme


def test_a_stale_figure_or_an_unknown_one_is_caught() -> None:
    document = "<!-- cost:prod -->$1.00/month<!-- /cost -->\n<!-- cost-table:start -->\nold\n<!-- cost-table:end -->\n"
    rendered = render(document, "new\n", {"prod": "$2.00/month"})
    assert (
        rendered
        == "<!-- cost:prod -->$2.00/month<!-- /cost -->\n<!-- cost-table:start -->\nnew\n<!-- cost-table:end -->\n"
    )
    with pytest.raises(KeyError, match="unknown cost figure 'qa'"):
        render("<!-- cost:qa -->x<!-- /cost -->", "", {"prod": "$2.00/month"})
