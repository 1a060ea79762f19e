"""The policy pack as `pulumi preview/up --policy-pack infra/policy` runs it, without the CLI.

`pack()` runs infra/policy/__main__.py the way the analyzer plugin does (`python -m pulumi.policy`:
runpy, as `__main__`). `PolicyPack(...)` builds pulumi_policy's `_PolicyAnalyzerServicer` and would
then serve it over gRPC forever; we keep the servicer instead, so name, version, policies and
enforcement level are the ones `PolicyPack` gives it. `analyze` and `analyze_stack` call its
`Analyze`/`AnalyzeStack` with the protobuf requests the engine sends, so every rule gets its
properties through pulumi_policy's own `deserialize_properties` and unknown-checking proxies.

What the engine puts in a request, and what we put instead:

- `Analyze` (once per resource, as it is registered): the inputs the engine got from the SDK, after
  the provider's `Check`. We have the inputs as the SDK sent them (`wire_inputs`); mocks run no
  `Check`, so provider defaults and auto-names (a preview knows `name` once Check picks it) are
  missing, and nothing the provider would reject is rejected.
- `AnalyzeStack` (once, at the end): every resource's outputs, and the `pulumi:pulumi:Stack`
  resource whose properties are the stack outputs. We have the mock's state (`wire_state`): the
  inputs plus the attributes infra/mocks.py's Recorder invents; a real provider returns every
  attribute of its schema. In a preview, attributes we do not invent are absent where a real
  plan has them unknown, so a rule reading one sees None where the analyzer would report
  "can't run during preview".
- Both: `engine_properties` applies the engine's marshalling for analyzers (`MarshalProperties`
  with KeepUnknowns, KeepSecrets and SkipInternalKeys, without KeepResources). The default
  providers the engine creates (for `random`, `docker-build`) are not recorded, so resources using
  them come without a provider; aliases, stack tags and policy config are not sent.
"""

from __future__ import annotations

import contextlib
import functools
import re
import runpy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY
from pulumi_policy.policy import _PolicyAnalyzerServicer

from tests.infra.conftest import ROOT, Run

PACK_DIR = ROOT / "infra" / "policy"
UNKNOWN = rpc.UNKNOWN
"""The unknown-string sentinel, as a preview sends a value that is not known yet."""
RESOURCE_SIG = rpc._special_resource_sig
OUTPUT_VALUE_SIG = rpc._special_output_value_sig


def secret(value: Any) -> dict[str, Any]:
    """`value` as a Pulumi secret on the wire."""
    return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": value}


class _Captured(Exception):
    pass


@functools.cache
def pack() -> _PolicyAnalyzerServicer:
    """The servicer `PolicyPack(...)` in infra/policy/__main__.py builds, taken before it serves."""
    built: list[_PolicyAnalyzerServicer] = []

    def keep(servicer: _PolicyAnalyzerServicer, server: Any) -> None:
        built.append(servicer)
        raise _Captured

    with (
        mock.patch.object(analyzer_pb2_grpc, "add_AnalyzerServicer_to_server", keep),
        contextlib.suppress(_Captured),
    ):
        runpy.run_path(str(PACK_DIR), run_name="__main__")
    assert len(built) == 1, "infra/policy/__main__.py did not build exactly one PolicyPack"
    return built[0]


# --- what the engine sends ------------------------------------------------------------------------


def engine_properties(wire: Mapping[str, Any]) -> dict[str, Any]:
    """Properties received from the SDK (wire form) as the engine marshals them for an analyzer.

    Keys starting with `__` are dropped; a resource reference becomes its ID (unknown while the ID
    is) or, for a component, its URN; an output value becomes its value (a secret if it is one,
    unknown if it has none). Secrets, unknowns, assets and numbers pass through as they are.
    """
    return {k: _engine_value(v) for k, v in wire.items() if not k.startswith("__")}


def _engine_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_engine_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    signature = value.get(SPECIAL_SIG_KEY)
    if signature == RESOURCE_SIG:
        if "id" not in value:
            return value["urn"]
        return value["id"] if value["id"] not in ("", UNKNOWN) else UNKNOWN
    if signature == OUTPUT_VALUE_SIG:
        if "value" not in value:
            return UNKNOWN
        inner = _engine_value(value["value"])
        return secret(inner) if value.get("secret") else inner
    if signature is not None:
        return {k: v if k == SPECIAL_SIG_KEY else _engine_value(v) for k, v in value.items()}
    return engine_properties(value)


def struct(properties: Mapping[str, Any]) -> struct_pb2.Struct:
    """A protobuf Struct, as properties travel over gRPC (numbers become floats)."""
    message = struct_pb2.Struct()
    json_format.ParseDict(dict(properties), message)
    return message


@dataclass(frozen=True)
class Provider:
    type: str
    name: str
    urn: str
    properties: Mapping[str, Any]
    """The provider's inputs, in wire form."""


@dataclass(frozen=True)
class Resource:
    """One resource as the engine describes it to an analyzer; `properties` in wire form."""

    type: str
    name: str
    properties: Mapping[str, Any]
    urn: str = ""
    """Defaults to a URN in a stack named `test`."""
    parent: str = ""
    dependencies: Sequence[str] = ()
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)
    protect: bool = False
    ignore_changes: Sequence[str] = ()
    delete_before_replace: bool | None = None
    additional_secret_outputs: Sequence[str] = ()
    custom_timeouts: Mapping[str, str] = field(default_factory=dict)
    """Go durations (`"10m"`), as `RegisterResourceRequest.customTimeouts` has them."""
    provider: Provider | None = None

    def __post_init__(self) -> None:
        if not self.urn:
            object.__setattr__(self, "urn", f"urn:pulumi:test::test::{self.type}::{self.name}")


def _seconds(duration: str) -> float:
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|h|m|s)", duration))


def _options(r: Resource) -> analyzer_pb2.AnalyzerResourceOptions:
    timeouts = {k: _seconds(r.custom_timeouts.get(k, "")) for k in ("create", "update", "delete")}
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=r.protect,
        ignoreChanges=list(r.ignore_changes),
        deleteBeforeReplace=bool(r.delete_before_replace),
        deleteBeforeReplaceDefined=r.delete_before_replace is not None,
        additionalSecretOutputs=list(r.additional_secret_outputs),
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(**timeouts),
        parent=r.parent,
    )


def _provider(r: Resource) -> dict[str, Any]:
    if r.provider is None:
        return {}
    p = r.provider
    message = analyzer_pb2.AnalyzerProviderResource(
        type=p.type, name=p.name, urn=p.urn, properties=struct(engine_properties(p.properties))
    )
    return {"provider": message}


# --- what comes back --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One `AnalyzeDiagnostic`."""

    policy: str
    level: str
    """Either "advisory" or "mandatory"."""
    message: str
    """As the servicer builds it: the policy's description, a newline, the rule's message."""
    urn: str

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"

    @property
    def skipped_in_preview(self) -> bool:
        """The rule read a value a preview does not know yet; pulumi_policy reports that, as advisory."""
        return self.message.startswith(f"can't run policy '{self.policy}'")


def _findings(response: analyzer_pb2.AnalyzeResponse) -> list[Finding]:
    return [
        Finding(d.policyName, analyzer_pb2.EnforcementLevel.Name(d.enforcementLevel).lower(), d.message, d.urn)
        for d in response.diagnostics
    ]


def analyze_request(r: Resource) -> analyzer_pb2.AnalyzeRequest:
    return analyzer_pb2.AnalyzeRequest(
        type=r.type,
        name=r.name,
        urn=r.urn,
        properties=struct(engine_properties(r.properties)),
        options=_options(r),
        **_provider(r),
    )


def analyze_stack_request(resources: Sequence[Resource]) -> analyzer_pb2.AnalyzeStackRequest:
    return analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=r.type,
                name=r.name,
                urn=r.urn,
                properties=struct(engine_properties(r.properties)),
                options=_options(r),
                parent=r.parent,
                dependencies=list(r.dependencies),
                propertyDependencies={
                    k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
                    for k, v in r.property_dependencies.items()
                },
                **_provider(r),
            )
            for r in resources
        ]
    )


def analyze(r: Resource, servicer: _PolicyAnalyzerServicer | None = None) -> list[Finding]:
    """What the pack (or `servicer`) reports when the engine registers `r`: every resource rule."""
    return _findings((servicer or pack()).Analyze(analyze_request(r), None))


def analyze_stack(resources: Sequence[Resource], servicer: _PolicyAnalyzerServicer | None = None) -> list[Finding]:
    """What the pack reports at the end of an operation over these resources: every stack rule."""
    return _findings((servicer or pack()).AnalyzeStack(analyze_stack_request(resources), None))


# --- a program run, as the engine would have seen it ---------------------------------------------------

STACK = "pulumi:pulumi:Stack"


def _recorded(run: Run, record: Mapping[str, Any], properties: str) -> Resource:
    providers = {p["urn"]: p for p in run.resources if p["type"].startswith("pulumi:providers:")}
    # A provider reference is "<urn>::<id>".
    used = providers.get(str(record.get("provider") or "").rpartition("::")[0])
    provider = Provider(used["type"], used["name"], used["urn"], used["wire_inputs"]) if used else None
    return Resource(
        type=record["type"],
        name=record["name"],
        properties=record[properties],
        urn=record["urn"],
        parent=record["parent"],
        dependencies=record["dependencies"],
        property_dependencies=record["propertyDependencies"],
        protect=record["protect"],
        ignore_changes=record["ignoreChanges"],
        delete_before_replace=record["deleteBeforeReplace"],
        additional_secret_outputs=record["additionalSecretOutputs"],
        custom_timeouts=record["customTimeouts"],
        provider=provider,
    )


def _stack(run: Run, properties: Mapping[str, Any]) -> Resource:
    return Resource(STACK, run.stack_urn.rpartition("::")[2], properties, run.stack_urn)


def registrations(run: Run) -> list[Resource]:
    """Each resource with the inputs the SDK registered it with: what `Analyze` gets."""
    return [_stack(run, {}), *(_recorded(run, r, "wire_inputs") for r in run.resources)]


def final_state(run: Run) -> list[Resource]:
    """Each resource with its outputs, and the stack with the stack outputs: what `AnalyzeStack` gets."""
    return [_stack(run, run.wire_outputs), *(_recorded(run, r, "wire_state") for r in run.resources)]


def analyze_run(run: Run) -> list[Finding]:
    """Everything the pack reports over one program run: each registration, then the stack."""
    return [*(f for r in registrations(run) for f in analyze(r)), *analyze_stack(final_state(run))]
