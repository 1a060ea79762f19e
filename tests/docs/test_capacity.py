"""docs/infrastructure.md's capacity arithmetic is the program's: the figure, and each stack's target."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.scenarios import SIZING_SCENARIO
from infra import capacity

DOC = (Path(__file__).resolve().parents[2] / "docs" / "infrastructure.md").read_text()
SECTION = DOC[DOC.index("## Capacity and autoscaling") : DOC.index("## Configuration")]


def test_the_doc_quotes_the_measured_figure_and_the_scenario_it_came_from() -> None:
    assert f"= {capacity.REQUESTS_PER_SECOND_PER_VCPU} req/s per vCPU" in SECTION
    assert f"REQUESTS_PER_SECOND_PER_VCPU = {capacity.REQUESTS_PER_SECOND_PER_VCPU}" in SECTION
    assert f"sizing (production, {SIZING_SCENARIO.label})" in SECTION
    assert capacity.MEASURED_ON in SECTION


@pytest.mark.parametrize(("cpu_units", "column"), [(512, 0), (1024, 1)])
def test_the_doc_targets_are_the_derived_ones(cpu_units: int, column: int) -> None:
    row = next(line for line in SECTION.splitlines() if line.startswith("| requests per task per minute"))
    shown = re.findall(r"\*\*(\d+)\*\*", row)
    assert int(shown[column]) == capacity.requests_per_target(cpu_units, 60)
