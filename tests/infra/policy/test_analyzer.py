"""The harness hands rules what the analyzer hands them: checked with a probe policy on the same servicer.

These pin down the wrapping that plain-dict tests missed: arrays and objects as read-only proxies,
numbers as floats, secrets as plaintext, unknowns raising, and the engine's marshalling of
resource references and internal keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UnknownValueError

from tests.infra.conftest import Programs, Run
from tests.infra.policy.analyzer import (
    OUTPUT_VALUE_SIG,
    RESOURCE_SIG,
    UNKNOWN,
    Provider,
    Resource,
    analyze,
    engine_properties,
    registrations,
    secret,
)


def _seen(props: Mapping[str, Any], **resource: Any) -> ResourceValidationArgs:
    """The arguments a resource policy gets for `props`, through a servicer built like the pack's."""
    seen: list[ResourceValidationArgs] = []

    def probe(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        seen.append(args)

    servicer = _PolicyAnalyzerServicer(
        "probe",
        "0.0.1",
        [ResourceValidationPolicy("probe", "records its arguments", probe)],
        EnforcementLevel.MANDATORY,
    )
    analyze(Resource("aws:test/thing:Thing", "thing", props, **resource), servicer)
    (args,) = seen
    return args


def test_arrays_and_objects_arrive_as_read_only_proxies_not_lists_and_dicts() -> None:
    props = _seen({"settings": [{"name": "containerInsights", "value": "enabled"}]}).props
    settings = props["settings"]
    assert isinstance(settings, Sequence)
    assert not isinstance(settings, (list, tuple))
    assert isinstance(settings[0], Mapping)
    assert not isinstance(settings[0], dict)


def test_numbers_arrive_as_floats() -> None:
    props = _seen({"port": 443, "retentionInDays": 30}).props
    assert props["port"] == 443.0
    assert isinstance(props["port"], float)


def test_secrets_arrive_as_their_plaintext() -> None:
    assert _seen({"authToken": secret("hunter2")}).props["authToken"] == "hunter2"


def test_reading_an_unknown_raises_and_becomes_an_advisory_skip() -> None:
    props = _seen({"policy": UNKNOWN, "name": "known"}).props
    assert props["name"] == "known"
    with pytest.raises(UnknownValueError):
        props.get("policy")


def test_options_and_provider_reach_the_policy() -> None:
    provider = Provider("pulumi:providers:aws", "aws", "urn:pulumi:test::test::pulumi:providers:aws::aws", {})
    args = _seen({}, parent="urn:parent", protect=True, provider=provider)
    assert args.opts.protect is True
    assert args.opts.parent == "urn:parent"
    assert args.provider is not None
    assert args.provider.resource_type == "pulumi:providers:aws"


def test_the_engine_downgrades_resource_references_and_drops_internal_keys() -> None:
    custom = {SPECIAL_SIG_KEY: RESOURCE_SIG, "urn": "urn:pulumi:s::p::aws:s3/bucket:Bucket::b", "id": "b-123"}
    pending = {**custom, "id": ""}
    component = {SPECIAL_SIG_KEY: RESOURCE_SIG, "urn": "urn:pulumi:s::p::my:index:Thing::t"}
    unknown_output = {SPECIAL_SIG_KEY: OUTPUT_VALUE_SIG, "dependencies": []}
    secret_output = {SPECIAL_SIG_KEY: OUTPUT_VALUE_SIG, "value": "v", "secret": True}
    wire = {
        "bucket": custom,
        "pending": [pending],
        "thing": component,
        "later": unknown_output,
        "hidden": secret_output,
        "__defaults": [],
        "nested": {"__meta": "x", "kept": secret("s")},
    }
    assert engine_properties(wire) == {
        "bucket": "b-123",
        "pending": [UNKNOWN],
        "thing": "urn:pulumi:s::p::my:index:Thing::t",
        "later": UNKNOWN,
        "hidden": secret("v"),
        "nested": {"kept": secret("s")},
    }


def test_recorded_inputs_are_in_wire_form(prod: Run) -> None:
    cache = prod.one("aws:elasticache/replicationGroup:ReplicationGroup")["wire_inputs"]
    assert cache["authToken"][SPECIAL_SIG_KEY] == SPECIAL_SECRET_SIG
    assert isinstance(cache["port"], float)


def test_preview_inputs_carry_the_unknown_sentinel_where_up_knows_the_value(programs: Programs) -> None:
    preview, up = programs.preview("prod"), programs["prod"]
    policy = "aws:iam/rolePolicy:RolePolicy"
    assert {r["wire_inputs"]["policy"] for r in preview.of(policy)} == {UNKNOWN}
    assert UNKNOWN not in {r["wire_inputs"]["policy"] for r in up.of(policy)}
    assert all(r.urn for r in registrations(preview))
