"""Run the Pulumi program for one stack under mocks and print what it registered, as JSON.

Usage: python -m infra.mocks <stack> [<json of extra config>] [--preview] [--account <json>]

The infra tests (tests/infra/conftest.py) and the cost estimate (`infra.pricing`) both read the program
through this. It runs in its own process (one Pulumi runtime per process) and enters the program the way
Pulumi's Python language host does for `main: infra/`: working directory `infra/`, the directory run as
`__main__` with runpy. Config comes from the real `Pulumi.<stack>.yaml`, with project keys namespaced as
the CLI does. Nothing here talks to AWS or needs the Pulumi CLI.

Two phases, as `pulumi up` has them. "up" (the default): every resource is created, and the mocks
answer with full state. "preview" (`--preview`): a dry run, where a resource's state is its inputs and
every attribute the provider computes (its id, ARN, DNS name, ...) is unknown, so inputs that depend on
them carry the unknown sentinel, as in `pulumi preview`.

Besides the decoded `inputs`/`state`, each resource is recorded in wire form, the protobuf Struct as
JSON (`json_format.MessageToDict`): `wire_inputs` is `RegisterResourceRequest.object` as the SDK sent it
to the engine, `wire_state` the outputs the engine would store (the mock's state, serialized the way the
SDK serializes, plus `id`; a provider's is its inputs, a component's what it passed to
`register_outputs`). Secrets are secret signature objects, unknowns the sentinel strings, numbers
floats. `wire_outputs` are the stack outputs serialized the way the SDK's Stack registers them.
tests/infra/policy/analyzer.py feeds these to the policy pack the way the engine does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format  # type: ignore[import-untyped]  # no stubs in the lock file
from pulumi.output import Unknown
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.stack import Stack, massage, run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.project import PROJECT

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
OIDC_URL = "https://token.actions.githubusercontent.com"

# The AWS account the invokes answer for. Like an account that opted in to a Local Zone: `DescribeAvailability
# Zones` then lists it first (it sorts before the standard zones), which a program must not build subnets in.
# A run can describe another account with `--account <json>` (same keys).
DEFAULT_ACCOUNT: dict[str, Any] = {
    "zones": [
        {"name": "{region}-bos-1a", "optInStatus": "opted-in", "zoneType": "local-zone"},
        *({"name": f"{{region}}{z}", "optInStatus": "opt-in-not-required", "zoneType": "availability-zone"}
          for z in "abcdef"),
    ],
    "oidcProviders": [],
}  # fmt: skip


def stack_config(stack: str, extra: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()).get("config") or {}
    config: dict[str, str] = {}
    for key, value in {**raw, **extra}.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, bool):
            config[full] = "true" if value else "false"
        elif isinstance(value, (dict, list)):
            config[full] = json.dumps(value)
        else:
            config[full] = str(value)
    secret_keys = [k for k in config if k.endswith(":openaiApiKey")]
    return config, secret_keys


def _sentinels(value: Any) -> Any:
    """`value` with the SDK's decoded unknowns (`Unknown()`, in a dry run) back as the wire sentinel."""
    if isinstance(value, Unknown):
        return rpc.UNKNOWN
    if isinstance(value, dict):
        return {k: _sentinels(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sentinels(v) for v in value]
    return value


class Recorder(mocks.Mocks):
    """Answers every resource and invoke with plausible outputs and keeps what was registered."""

    def __init__(self, region: str, preview: bool = False, account: dict[str, Any] | None = None) -> None:
        self.region = region
        self.preview = preview
        self.account = account or DEFAULT_ACCOUNT
        self.resources: list[dict[str, Any]] = []
        self.invokes: list[str] = []

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        typ, name, inputs = args.typ, args.name, _sentinels(dict(args.inputs))
        rid, state = self._created(typ, name, inputs)
        recorded_id = rid
        if self.preview:
            # A dry run creates nothing: what the provider would compute is unknown, the id too (an
            # empty id tells the SDK so). Inputs pass through, as a provider's preview plan has them.
            state = {k: inputs.get(k, rpc.UNKNOWN) for k in state}
            rid, recorded_id = "", rpc.UNKNOWN
        self.resources.append(
            {
                "type": typ,
                "name": name,
                "id": recorded_id,
                "inputs": inputs,
                "state": {**state, "id": recorded_id},
                "provider": args.provider,
                "custom": args.custom,
            }
        )
        return rid, state

    def _created(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The id and state a real `up` would give this resource."""
        rid = f"{name}-id"
        service = typ.split(":", maxsplit=2)[1].split("/", maxsplit=1)[0] if typ.startswith("aws:") else "mock"
        state: dict[str, Any] = {
            "arn": f"arn:aws:{service}:{self.region}:{ACCOUNT}:{name}",
            **inputs,
        }
        state.setdefault("name", name)
        if typ == "aws:ec2/vpc:Vpc":
            state["cidrBlock"] = inputs.get("cidrBlock")
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            state |= {
                "arnSuffix": f"app/{name}/abc",
                "dnsName": f"{name}.elb.amazonaws.com",
                "zoneId": "Z35SXDOTRQ7X7K",
            }
        elif typ == "aws:lb/targetGroup:TargetGroup":
            state |= {"arnSuffix": f"targetgroup/{name}/def"}
        elif typ == "aws:ecr/repository:Repository":
            state |= {
                "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/{name}",
                "registryId": ACCOUNT,
                "arn": f"arn:aws:ecr:{self.region}:{ACCOUNT}:repository/{name}",
            }
        elif typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            rid = name
            state |= {"primaryEndpointAddress": f"master.{name}.cache.amazonaws.com", "memberClusters": []}
        elif typ == "aws:s3/bucket:Bucket":
            rid = f"{name}-20261121"  # a bucket's id is its (auto-generated) name
            state["bucket"] = rid
        elif typ == "aws:ec2/eip:Eip":
            state["allocationId"] = f"eipalloc-{name}"
        elif typ == "aws:secretsmanager/secret:Secret":
            state["arn"] = f"arn:aws:secretsmanager:{self.region}:{ACCOUNT}:secret:{name}-AbCdEf"
        elif typ == "aws:kms/key:Key":
            state["arn"] = f"arn:aws:kms:{self.region}:{ACCOUNT}:key/{name}"
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:{inputs.get('name', name)}"
        elif typ == "random:index/randomPassword:RandomPassword":
            # Distinct per password, named after it: "secrets-redis-auth-token" gives "MOCKREDISAUTHTOKEN0123...".
            stem = "MOCK" + re.sub(r"[^A-Za-z0-9]", "", name.split("-", 1)[-1]).upper()
            length = inputs.get("length")
            length = int(length) if isinstance(length, (int, float)) else 64
            state["result"] = ((stem + "0123456789abcdef") * 8)[:length]
        elif typ == "docker-build:index:Image":
            state |= {"ref": f"{inputs['tags'][0]}@sha256:{'a' * 64}", "digest": f"sha256:{'a' * 64}"}
        elif typ == "aws:acm/certificate:Certificate":
            state["domainValidationOptions"] = [
                {
                    "domainName": inputs["domainName"],
                    "resourceRecordName": f"_x.{inputs['domainName']}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": "_y.acm-validations.aws.",
                }
            ]
        elif typ == "aws:route53/record:Record":
            state["fqdn"] = inputs.get("name")
        elif typ == "aws:acm/certificateValidation:CertificateValidation":
            state["certificateArn"] = inputs["certificateArn"]
        return rid, state

    def _zones(self, args: dict[str, Any]) -> dict[str, Any]:
        """DescribeAvailabilityZones as AWS answers it: opted-in zones listed too, filters applied."""
        zones = [{**z, "name": z["name"].format(region=self.region)} for z in self.account["zones"]]
        for wanted in args.get("filters") or []:
            if wanted["name"] != "opt-in-status":
                raise ValueError(f"the mock account does not model the filter {wanted['name']}")
            zones = [z for z in zones if z["optInStatus"] in wanted["values"]]
        names = sorted(z["name"] for z in zones)
        return {"names": names, "zoneIds": [f"use1-az{i}" for i, _ in enumerate(names, 1)]}

    def _oidc_provider(self, args: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The data source fails when the account has no provider for the URL, as the provider's does."""
        url = args.get("url")
        if url in self.account["oidcProviders"]:
            host = str(url).removeprefix("https://")
            return {"arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}", "url": host}, []
        return {}, [("url", f"no IAM OIDC provider found with URL {url}")]

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        # `token` names the invoked function (its type token), not a credential.
        invoke = args.token
        self.invokes.append(invoke)
        if invoke == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return self._zones(dict(args.args)), []
        if invoke == "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider":
            return self._oidc_provider(dict(args.args))
        results: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
                "userId": "AIDEXAMPLE",
            },
            "aws:index/getRegion:getRegion": {"name": self.region, "region": self.region},
            "aws:index/getPartition:getPartition": {"partition": "aws", "dnsSuffix": "amazonaws.com"},
            "aws:ecr/getAuthorizationToken:getAuthorizationToken": {
                "userName": "AWS",
                "password": "mock-ecr-password",
                "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com",
                "authorizationToken": "bW9jaw==",
            },
        }
        return results.get(invoke, {}), []


class RecordingMonitor(mocks.MockMonitor):
    """Also keeps what the engine would see: options and wire forms (mocks.Mocks is shown neither)."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        self.recorder = recorder
        self.stack_urn = ""
        self.registered_outputs: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]  # pulumi's own is untyped
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response
        # Registrations run on several threads: find this one by its (type, name), unique in a stack.
        record = next(
            r for r in reversed(self.recorder.resources) if (r["type"], r["name"]) == (request.type, request.name)
        )
        wire_inputs = json_format.MessageToDict(request.object)
        if not request.custom:
            wire_state: dict[str, Any] = {}  # until the component registers its outputs
        elif request.type.startswith("pulumi:providers:"):
            wire_state = wire_inputs  # a provider's state is its configuration
        else:
            wire_state = {**json_format.MessageToDict(response.object), "id": response.id or rpc.UNKNOWN}
        timeouts = request.customTimeouts
        record |= {
            "urn": response.urn,
            "parent": request.parent,
            "ignoreChanges": list(request.ignoreChanges),
            "protect": bool(request.protect),
            "retainOnDelete": bool(request.retainOnDelete),
            "dependencies": list(request.dependencies),
            "propertyDependencies": {k: list(v.urns) for k, v in request.propertyDependencies.items()},
            "deleteBeforeReplace": request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
            "additionalSecretOutputs": list(request.additionalSecretOutputs),
            "customTimeouts": {"create": timeouts.create, "update": timeouts.update, "delete": timeouts.delete},
            "wire_inputs": wire_inputs,
            "wire_state": wire_state,
        }
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self.registered_outputs[request.urn] = json_format.MessageToDict(request.outputs)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


def resolve_outputs(outputs: dict[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in outputs.items():
        output = pulumi.Output.from_input(value)
        resolved[key] = {
            "value": _sync_await(output.future()),
            "secret": bool(_sync_await(output.is_secret())),
        }
    return resolved


def wire_stack_outputs(outputs: dict[str, Any]) -> dict[str, Any]:
    """Stack outputs serialized as the SDK's `Stack._finish` registers them (set_mocks registers none)."""
    struct = _sync_await(rpc.serialize_properties(massage(outputs, []), {}))
    return dict(json_format.MessageToDict(struct))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stack")
    parser.add_argument("config", nargs="?", type=json.loads, default={}, help="extra config, JSON")
    parser.add_argument("--preview", action="store_true", help="a dry run, as `pulumi preview`")
    parser.add_argument("--account", type=json.loads, default=None, help="the AWS account, as DEFAULT_ACCOUNT")
    options = parser.parse_args()
    preview, account, stack, extra = options.preview, options.account, options.stack, options.config
    config, secret_keys = stack_config(stack, extra)
    pulumi.runtime.set_all_config(config, secret_keys)
    recorder = Recorder(config.get("aws:region", "us-east-1"), preview, account)
    monitor = RecordingMonitor(recorder)
    mocks.set_mocks(recorder, project=PROJECT, stack=stack, preview=preview, monitor=monitor)

    program = ROOT / "infra"
    os.chdir(program)
    sys.argv = [str(program)]
    warnings: list[str] = []
    original_warn = pulumi.log.warn

    def warn(msg: str, *args: Any, **kwargs: Any) -> None:
        warnings.append(msg)
        original_warn(msg, *args, **kwargs)

    pulumi.log.warn = warn

    def run() -> None:
        runpy.run_path(str(program), run_name="__main__")

    error = None
    try:
        _sync_await(run_pulumi_func(run))
    except Exception as exc:  # reported as JSON so the caller shows the program's own message
        error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    root = settings.get_root_resource()
    stack_outputs = dict(root.outputs) if isinstance(root, Stack) and error is None else None
    outputs = resolve_outputs(stack_outputs) if stack_outputs is not None else {}
    for record in recorder.resources:
        if not record["custom"] and "urn" in record:
            record["wire_state"] = monitor.registered_outputs.get(record["urn"], {})
    json.dump(
        {
            "stack": stack,
            "phase": "preview" if preview else "up",
            "config": config,
            "error": error,
            "resources": recorder.resources,
            "invokes": recorder.invokes,
            "outputs": outputs,
            "warnings": warnings,
            "stack_urn": monitor.stack_urn,
            "wire_outputs": wire_stack_outputs(stack_outputs) if stack_outputs is not None else {},
        },
        sys.stdout,
        default=str,
    )


if __name__ == "__main__":
    main()
