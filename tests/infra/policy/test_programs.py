"""Both stacks through the pack, as `pulumi up --policy-pack infra/policy` runs it: preview, then update.

Each program run (tests/infra/conftest.py) is replayed to the analyzer servicer: `Analyze` with every
registration's inputs, then `AnalyzeStack` with every resource's outputs and the stack outputs. The
preview is a first deployment's: every resource is a create, so whatever a provider computes (ids,
ARNs) is unknown. On a stack that exists, unchanged resources' outputs are known and a preview skips
fewer rules.
"""

from __future__ import annotations

import pytest

from infra.policy import rules
from tests.infra.conftest import PHASES, VARIANTS, Phase, Programs, Run
from tests.infra.policy.analyzer import (
    Finding,
    Resource,
    analyze,
    analyze_run,
    analyze_stack,
    final_state,
    registrations,
)

# Advisory findings every stack has: no WAF (costs money), Secrets Manager cannot rotate an OpenAI key or
# the client keys (people rotate them), 30-day logs, no VPC flow logs.
EVERY_STACK = {"alb-waf", "secrets-rotation", "log-retention-one-year", "vpc-flow-logs"}
# Staging runs one cache node without snapshots and lets `pulumi destroy` remove its load balancer.
STAGING = EVERY_STACK | {"alb-deletion-protection", "elasticache-multi-az", "elasticache-backups"}
ADVISORIES = {
    "staging": STAGING | {"alb-https-only"},  # no certificate yet: the HTTP listener serves traffic
    "staging-reuse": STAGING,  # its certificate turns the HTTP listener into a redirect
    "prod": EVERY_STACK,
    "prod-full": EVERY_STACK,
}
# Stack rules that match resources by ids and ARNs, which a first preview does not know: the analyzer
# skips them there (an advisory "can't run policy during preview") and runs them at the update.
MATCH_BY_ID = {
    "secrets-rotation",
    "vpc-flow-logs",
    "s3-public-access-block",
    "s3-encryption",
    "s3-lifecycle",
    "s3-versioning",
    "world-ingress-alb-only",
    "world-ipv6-ingress-dualstack-only",
    "streaming-timeouts-agree",
}
# Resource rules that read a value built from other resources' outputs: the task definition's container
# definitions (image digest, log group, secret ARNs), the IAM policy documents (ARNs).
BUILT_FROM_OUTPUTS = {
    "ecs-container-logging",
    "ecs-non-root-user",
    "ecs-not-privileged",
    "ecs-read-only-root",
    "ecs-secrets-not-in-environment",
    "ecs-separate-roles",
    "iam-no-wildcard-actions",
    "iam-scoped-writes",
}
# Staging's tasks have public IPs (no NAT), so ecs-no-public-ip looks up their security group by its id.
PUBLIC_TASKS = {"ecs-no-public-ip"}
SKIPPED_IN_PREVIEW = {
    "staging": MATCH_BY_ID | BUILT_FROM_OUTPUTS | PUBLIC_TASKS,
    # Trusts an existing OIDC provider, by a known ARN.
    "staging-reuse": MATCH_BY_ID | BUILT_FROM_OUTPUTS | PUBLIC_TASKS,
    "prod": MATCH_BY_ID | BUILT_FROM_OUTPUTS,
    "prod-full": MATCH_BY_ID | BUILT_FROM_OUTPUTS | {"github-oidc-trust-bound"},  # trusts the provider it creates
}

RUNS = [(variant, phase) for variant in VARIANTS for phase in PHASES]


def _run(programs: Programs, variant: str, phase: Phase) -> Run:
    return programs.run(variant, phase)


def _findings(programs: Programs, variant: str, phase: Phase) -> list[Finding]:
    return analyze_run(_run(programs, variant, phase))


@pytest.mark.parametrize(("variant", "phase"), RUNS)
def test_no_mandatory_findings(programs: Programs, variant: str, phase: Phase) -> None:
    found = _findings(programs, variant, phase)
    assert [(f.policy, f.message, f.urn) for f in found if f.mandatory] == []


@pytest.mark.parametrize(("variant", "phase"), RUNS)
def test_only_the_expected_advisories(programs: Programs, variant: str, phase: Phase) -> None:
    reported = {f.policy for f in _findings(programs, variant, phase) if not f.skipped_in_preview}
    expected = ADVISORIES[variant] if phase == "up" else ADVISORIES[variant] - MATCH_BY_ID
    assert reported == expected


@pytest.mark.parametrize(("variant", "phase"), RUNS)
def test_rules_skip_only_in_preview_and_only_where_values_are_unknown(
    programs: Programs, variant: str, phase: Phase
) -> None:
    skipped = {f.policy for f in _findings(programs, variant, phase) if f.skipped_in_preview}
    assert skipped == (SKIPPED_IN_PREVIEW[variant] if phase == "preview" else set())


def test_every_resource_and_the_stack_reach_the_analyzer(staging: Run) -> None:
    analyzed = registrations(staging)
    assert len(analyzed) == len(staging.resources) + 1
    assert analyzed[0].type == "pulumi:pulumi:Stack"
    assert analyzed[0].urn == staging.stack_urn
    stack = final_state(staging)[0]
    # The SDK drops an output whose value is None before the engine sees it.
    assert set(stack.properties) == {k for k, v in staging.outputs.items() if v["value"] is not None}
    with_provider = [r for r in analyzed if r.provider is not None]
    assert {r.provider.type for r in with_provider if r.provider} == {"pulumi:providers:aws"}


# The rules that read arrays, on the real program's resources: the analyzer hands arrays over as
# read-only Sequence proxies, which a `list`/`tuple` check took for a single value.


def _registered(run: Run, typ: str) -> list[Finding]:
    (resource,) = [r for r in registrations(run) if r.type == typ]
    return analyze(resource)


@pytest.mark.parametrize(("variant", "mode"), [("staging", "enabled"), ("prod", "enhanced")])
def test_container_insights_on_the_recorded_cluster_passes(programs: Programs, variant: str, mode: str) -> None:
    run = programs[variant]
    inputs = run.one("aws:ecs/cluster:Cluster")["wire_inputs"]
    assert {"name": "containerInsights", "value": mode} in inputs["settings"]
    assert [f.policy for f in _registered(run, "aws:ecs/cluster:Cluster")] == []


def test_stagings_public_tasks_pass_because_their_group_admits_only_the_alb(staging: Run) -> None:
    assert staging.inputs("aws:ecs/service:Service")["networkConfiguration"]["assignPublicIp"] is True
    found = analyze_stack(final_state(staging))
    assert [f for f in found if f.policy == "ecs-no-public-ip"] == []


def test_a_rule_opening_stagings_public_tasks_to_anything_but_the_alb_is_blocked(staging: Run) -> None:
    (group,) = staging.inputs("aws:ecs/service:Service")["networkConfiguration"]["securityGroups"]
    debug = {"securityGroupId": group, "cidrIpv4": "203.0.113.7/32", "fromPort": 8000.0, "toPort": 8000.0}
    opened = Resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "debug", {**debug, "id": "r-1"})
    found = [f for f in analyze_stack([*final_state(staging), opened]) if f.policy == "ecs-no-public-ip"]
    assert [f.mandatory for f in found] == [True]
    assert "cidrIpv4 203.0.113.7/32 (debug)" in found[0].message


def test_ecr_encryption_on_the_recorded_repository_passes(staging: Run) -> None:
    assert [f.policy for f in _registered(staging, "aws:ecr/repository:Repository")] == []


def test_stagings_plain_http_listener_is_reported(staging: Run) -> None:
    assert {f.policy for f in _registered(staging, "aws:lb/listener:Listener")} == {"alb-https-only"}


def test_world_ingress_on_the_recorded_alb_group_passes(prod: Run) -> None:
    found = analyze_stack(final_state(prod))
    assert {f.policy for f in found} & {"world-ingress-alb-only", "world-ipv6-ingress-dualstack-only"} == set()


def test_first_client_key_output_reaches_the_rule_as_plaintext_and_only_the_allowance_passes_it(
    prod: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "first_client_api_key" in prod.wire_outputs, "the program no longer exports the first client key"
    assert prod.outputs["first_client_api_key"]["secret"]
    monkeypatch.setattr(rules, "SECRET_OUTPUTS_ALLOWED", frozenset())
    found = [f for f in analyze_stack(final_state(prod)) if f.policy == "no-secret-outputs"]
    assert [f.message.partition("\n")[2] for f in found] == [
        "stack output first_client_api_key looks like a secret; export its ARN instead"
    ]
    assert found[0].urn == prod.stack_urn
