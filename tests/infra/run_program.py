"""Run the Pulumi program for one stack under mocks and print what it registered, as JSON.

Usage: python tests/infra/run_program.py <stack> [<json of extra config, "key": "value">]

Runs in its own process (one Pulumi runtime per process) and enters the program the way Pulumi's
Python language host does for `main: infra/`: working directory `infra/`, the directory run as
`__main__` with runpy. Config comes from the real `Pulumi.<stack>.yaml`, with project keys
namespaced as the CLI does. Imports of `infra` resolve through the installed project, not through
this test directory, so a program that only works under pytest fails here too.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parents[2]
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]
ACCOUNT = "123456789012"


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


class Recorder(mocks.Mocks):
    """Answers every resource and invoke with plausible outputs and keeps what was registered."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.resources: list[dict[str, Any]] = []
        self.invokes: list[str] = []

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        typ, name, inputs = args.typ, args.name, dict(args.inputs)
        rid = f"{name}-id"
        service = typ.split(":")[1].split("/")[0] if typ.startswith("aws:") else "mock"
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
        elif typ == "aws:secretsmanager/secret:Secret":
            state["arn"] = f"arn:aws:secretsmanager:{self.region}:{ACCOUNT}:secret:{name}-AbCdEf"
        elif typ == "aws:kms/key:Key":
            state["arn"] = f"arn:aws:kms:{self.region}:{ACCOUNT}:key/{name}"
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:{inputs.get('name', name)}"
        elif typ == "random:index/randomPassword:RandomPassword":
            state["result"] = "MOCKREDISAUTHTOKEN0123456789abcdefMOCKREDISAUTHTOKEN0123456789ab"
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
        self.resources.append(
            {
                "type": typ,
                "name": name,
                "id": rid,
                "inputs": inputs,
                "state": {**state, "id": rid},
                "provider": args.provider,
                "custom": args.custom,
            }
        )
        return rid, state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.invokes.append(args.token)
        results: dict[str, dict[str, Any]] = {
            "aws:index/getAvailabilityZones:getAvailabilityZones": {
                "names": [f"{self.region}{z}" for z in "abc"],
                "zoneIds": ["use1-az1", "use1-az2", "use1-az4"],
            },
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
        return results.get(args.token, {}), []


class RecordingMonitor(mocks.MockMonitor):
    """Also keeps the resource options the engine would see (mocks.Mocks is not shown them)."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        self.recorder = recorder

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            # Registrations run on several threads: find this one by its (type, name), unique in a stack.
            record = next(
                r for r in reversed(self.recorder.resources) if (r["type"], r["name"]) == (request.type, request.name)
            )
            record |= {
                "parent": request.parent,
                "ignoreChanges": list(request.ignoreChanges),
                "protect": bool(request.protect),
                "dependencies": list(request.dependencies),
            }
        return response


def resolve_outputs(outputs: dict[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in outputs.items():
        output = pulumi.Output.from_input(value)
        resolved[key] = {
            "value": _sync_await(output.future()),
            "secret": bool(_sync_await(output.is_secret())),
        }
    return resolved


def main() -> None:
    stack = sys.argv[1]
    extra = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    config, secret_keys = stack_config(stack, extra)
    pulumi.runtime.set_all_config(config, secret_keys)
    recorder = Recorder(config.get("aws:region", "us-east-1"))
    mocks.set_mocks(recorder, project=PROJECT, stack=stack, preview=False, monitor=RecordingMonitor(recorder))

    program = ROOT / "infra"
    os.chdir(program)
    sys.argv = [str(program)]
    warnings: list[str] = []
    original_warn = pulumi.log.warn

    def warn(msg: str, *args: Any, **kwargs: Any) -> None:
        warnings.append(msg)
        original_warn(msg, *args, **kwargs)

    pulumi.log.warn = warn  # type: ignore[assignment]
    error = None
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__") and None))
    except Exception as exc:  # reported as JSON so the test shows the program's own message
        error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    root = settings.get_root_resource()
    outputs = resolve_outputs(dict(root.outputs)) if root is not None and error is None else {}
    json.dump(
        {
            "stack": stack,
            "config": config,
            "error": error,
            "resources": recorder.resources,
            "invokes": recorder.invokes,
            "outputs": outputs,
            "warnings": warnings,
        },
        sys.stdout,
        default=str,
    )


if __name__ == "__main__":
    main()
