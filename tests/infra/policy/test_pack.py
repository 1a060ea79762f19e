"""The pack itself: what infra/policy/__main__.py builds, the rules it holds and their levels."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from infra.policy import rules
from infra.policy.rules import RULES, ResourceRule
from tests.infra.policy.analyzer import PACK_DIR, pack


def test_main_builds_the_pack_with_every_rule_at_its_level() -> None:
    main = importlib.import_module("infra.policy.__main__")  # importing serves nothing
    info = pack().GetAnalyzerInfo(empty_pb2.Empty(), None)
    assert info.name == main.NAME
    levels = {p.name: analyzer_pb2.EnforcementLevel.Name(p.enforcementLevel).lower() for p in info.policies}
    assert levels == {rule.name: rule.level.value for rule in RULES}


def test_pack_has_at_least_25_rules_with_unique_names_and_checkov_ids() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) >= 25
    assert len(set(names)) == len(names)
    cited = {c.strip() for rule in RULES if rule.checkov for c in rule.checkov.split(",")}
    for checkov in ["CKV_AWS_2", "CKV_AWS_65", "CKV_AWS_91", "CKV_AWS_103", "CKV_AWS_131", "CKV_AWS_150",
                    "CKV_AWS_29", "CKV_AWS_30", "CKV_AWS_31", "CKV_AWS_149", "CKV_AWS_51", "CKV_AWS_163",
                    "CKV_AWS_66", "CKV_AWS_249", "CKV_AWS_333", "CKV_AWS_336"]:  # fmt: skip
        assert checkov in cited
    for ours in ["us-region-only", "streaming-timeouts-agree", "world-ingress-alb-only", "no-secret-outputs"]:
        assert ours in names


def test_rules_that_cost_money_or_cannot_apply_are_advisory() -> None:
    advisory = {rule.name for rule in RULES if rule.level == EnforcementLevel.ADVISORY}
    assert {"alb-waf", "log-retention-one-year", "secrets-rotation", "world-ipv6-ingress-dualstack-only"} <= advisory
    assert "us-region-only" not in advisory


def test_policies_are_crossguard_objects_with_their_level() -> None:
    for rule, policy in zip(RULES, rules.policies(), strict=True):
        expected = ResourceValidationPolicy if isinstance(rule, ResourceRule) else StackValidationPolicy
        assert isinstance(policy, expected)
        assert policy.enforcement_level == rule.level
        assert policy.name == rule.name
        if rule.checkov:
            assert rule.checkov in policy.description


def test_policy_pack_project_file_runs_the_pack_with_python() -> None:
    project = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"


def test_the_docs_state_the_packs_rule_count() -> None:
    root = Path(__file__).resolve().parents[3]
    for doc in ("README.md", "docs/infrastructure.md"):
        counts = set(re.findall(r"\b(\d+) rules\b", (root / doc).read_text()))
        assert counts == {str(len(RULES))}, f"{doc} gives {counts} rules; the pack has {len(RULES)}"
