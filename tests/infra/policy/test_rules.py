"""Every rule, through the analyzer servicer: it reports a case that breaks it and passes one that keeps it."""

from __future__ import annotations

import pytest

from infra.policy.rules import RULES, ResourceRule
from tests.infra.policy.analyzer import Resource
from tests.infra.policy.cases import BY_NAME, COMPLIANT, VIOLATING, findings


def test_every_rule_has_a_violating_and_a_compliant_case() -> None:
    assert set(VIOLATING) == set(BY_NAME)
    assert set(COMPLIANT) == set(BY_NAME)


@pytest.mark.parametrize("name", sorted(VIOLATING))
def test_rule_reports_a_case_that_breaks_it_at_its_level(name: str) -> None:
    found = findings(name, VIOLATING[name])
    assert found, f"{name} did not fire"
    assert {f.level for f in found} == {BY_NAME[name].level.value}
    assert not any(f.skipped_in_preview for f in found)


@pytest.mark.parametrize("name", sorted(COMPLIANT))
def test_rule_passes_a_case_that_keeps_it(name: str) -> None:
    assert findings(name, COMPLIANT[name]) == []


TYPED_RULES = sorted(r.name for r in RULES if isinstance(r, ResourceRule) and r.types is not None)


@pytest.mark.parametrize("name", TYPED_RULES)
def test_resource_rule_ignores_other_resource_types(name: str) -> None:
    case = VIOLATING[name]
    assert isinstance(case, Resource)
    assert findings(name, Resource("aws:unrelated/thing:Thing", "r", case.properties)) == []
