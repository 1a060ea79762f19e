"""Every stack's resources, replayed as the AWS API calls that create them, are accepted by AWS's
service models and by moto; and a broken input is refused (so the replay can fail)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from tests.infra.aws_replay import (
    NOT_MODELLED,
    TRANSLATORS,
    Key,
    Replay,
    ReplayRefused,
    key_of,
)
from tests.infra.conftest import VARIANTS, Programs, Run
from tests.support.moto import MotoServer

ALL = list(VARIANTS)


def _fresh_account() -> str:
    """A moto account of its own, so stacks (and tests) never see each other's resources."""
    return f"{uuid.uuid4().int % 10**12:012d}"


class Replays:
    """Each variant replayed once per session, on first use."""

    def __init__(self, programs: Programs, moto: MotoServer) -> None:
        self._programs = programs
        self._url = moto.url
        self._done: dict[str, Replay | ReplayRefused] = {}

    def __getitem__(self, variant: str) -> Replay:
        if variant not in self._done:
            run = self._programs[variant]
            replay = Replay(self._url, _fresh_account(), run.resources, run.config)
            try:
                replay.run()
            except ReplayRefused as exc:
                self._done[variant] = exc
            else:
                self._done[variant] = replay
        done = self._done[variant]
        if isinstance(done, ReplayRefused):
            raise ReplayRefused(str(done))
        return done


@pytest.fixture(scope="session")
def replays(programs: Programs, moto_server: MotoServer) -> Replays:
    return Replays(programs, moto_server)


def _modelled(run: Run) -> list[dict[str, Any]]:
    return [r for r in run.resources if r["custom"] and r["type"] not in NOT_MODELLED]


# --- every stack is accepted ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ALL)
def test_aws_models_and_moto_accept_every_recorded_resource(replays: Replays, programs: Programs, variant: str) -> None:
    replayed = replays[variant].replayed
    assert [(r.type, r.name) for r in replayed] == [(r["type"], r["name"]) for r in _modelled(programs[variant])]


@pytest.mark.parametrize("variant", ALL)
def test_every_recorded_resource_type_is_replayed_or_listed_as_not_modelled(programs: Programs, variant: str) -> None:
    run = programs[variant]
    types = {r["type"] for r in run.resources if r["custom"]}
    untranslated = types - set(TRANSLATORS) - set(NOT_MODELLED)
    assert untranslated == set(), "translate these in aws_replay.py, or list them in NOT_MODELLED with a reason"


@pytest.mark.parametrize("variant", ALL)
def test_each_replayed_type_made_at_least_one_aws_call(replays: Replays, variant: str) -> None:
    silent = {r.type for r in replays[variant].replayed if not r.operations}
    assert silent == set()


def test_replay_sends_the_settings_calls_not_only_the_create(replays: Replays) -> None:
    calls: dict[str, set[str]] = {}
    for r in replays["prod-full"].replayed:
        calls.setdefault(r.type, set()).update(r.operations)
    assert {"CreateLoadBalancer", "ModifyLoadBalancerAttributes"} <= calls["aws:lb/loadBalancer:LoadBalancer"]
    assert {"CreateTargetGroup", "ModifyTargetGroupAttributes"} <= calls["aws:lb/targetGroup:TargetGroup"]
    assert {"CreateListener", "DescribeSSLPolicies", "ModifyListenerAttributes"} <= calls["aws:lb/listener:Listener"]
    assert {"CreateKey", "EnableKeyRotation"} <= calls["aws:kms/key:Key"]
    assert {"CreateLogGroup", "PutRetentionPolicy"} <= calls["aws:cloudwatch/logGroup:LogGroup"]
    assert {"CreateRole", "UpdateAssumeRolePolicy"} <= calls["aws:iam/role:Role"]


def test_moto_holds_the_load_balancer_settings_the_program_asked_for(replays: Replays, programs: Programs) -> None:
    replay, run = replays["prod"], programs["prod"]
    asked = run.inputs("aws:lb/loadBalancer:LoadBalancer")
    elb = replay.client("elbv2")
    (balancer,) = elb.describe_load_balancers()["LoadBalancers"]
    attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=balancer["LoadBalancerArn"])["Attributes"]
    held = {a["Key"]: a["Value"] for a in attributes}
    assert held["idle_timeout.timeout_seconds"] == f"{asked['idleTimeout']:.0f}"
    assert held["deletion_protection.enabled"] == str(asked["enableDeletionProtection"]).lower()
    assert held["routing.http.drop_invalid_header_fields.enabled"] == str(asked["dropInvalidHeaderFields"]).lower()
    assert held["routing.http.desync_mitigation_mode"] == asked["desyncMitigationMode"]
    assert held["access_logs.s3.enabled"] == "true"
    buckets = {b["Name"] for b in replay.client("s3").list_buckets()["Buckets"]}
    assert held["access_logs.s3.bucket"] in buckets, "the log bucket reference resolved to the replayed bucket"


def test_moto_holds_the_cache_settings_the_program_asked_for(replays: Replays, programs: Programs) -> None:
    replay, run = replays["prod"], programs["prod"]
    asked = run.inputs("aws:elasticache/replicationGroup:ReplicationGroup")
    (group,) = replay.client("elasticache").describe_replication_groups()["ReplicationGroups"]
    assert group["CacheNodeType"] == asked["nodeType"]
    assert group["TransitEncryptionEnabled"] is True
    assert group["AtRestEncryptionEnabled"] is True
    assert group["AuthTokenEnabled"] is True
    assert group["MultiAZ"] == ("enabled" if asked["multiAzEnabled"] else "disabled")
    (key,) = replay.client("kms").list_keys()["Keys"]
    assert group["KmsKeyId"] == key["KeyArn"], "the cache's key reference resolved to the replayed KMS key"


def test_the_replay_talks_only_to_loopback() -> None:
    for url in ("http://10.0.0.1:5000", "http://localhost:5000", "http://[::ffff:10.0.0.1]:5000"):
        with pytest.raises(ValueError, match="local moto server only"):
            Replay(url, _fresh_account(), [], {})


# --- and can fail: real recorded inputs, broken one way each --------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _in_json(key: str, change: Callable[[Any], None]) -> Mutation:
    def mutate(inputs: dict[str, Any]) -> None:
        document = json.loads(inputs[key])
        change(document)
        inputs[key] = json.dumps(document)

    return mutate


def _container(change: Callable[[dict[str, Any]], None]) -> Mutation:
    return _in_json("containerDefinitions", lambda definitions: change(definitions[0]))


def _first_statement(change: Callable[[dict[str, Any]], None]) -> Callable[[Any], None]:
    return lambda document: change(document["Statement"][0])


class Broken(NamedTuple):
    what: str
    target: Key  # the resource it is broken in
    mutate: Mutation
    refusal: str  # a pattern the refusal's message matches


BROKEN = [
    Broken(
        "trust policy statement without Effect (moto IAM grammar)",
        ("aws:iam/role:Role", "api-task"),
        _in_json("assumeRolePolicy", _first_statement(lambda s: s.pop("Effect"))),
        "MalformedPolicyDocument",
    ),
    Broken(
        "permission policy action without a service prefix (moto IAM grammar)",
        ("aws:iam/rolePolicy:RolePolicy", "api-task-policy"),
        _in_json("policy", _first_statement(lambda s: s.update(Action="GetSecretValue"))),
        "must be prefaced by a vendor",
    ),
    Broken(
        "deregistration delay above an hour (moto ELBv2)",
        ("aws:lb/targetGroup:TargetGroup", "web-tg"),
        lambda inputs: inputs.update(deregistrationDelay=4000.0),
        "must be between '0-3600'",
    ),
    Broken(
        "health-check timeout not below the interval (moto ELBv2)",
        ("aws:lb/targetGroup:TargetGroup", "web-tg"),
        lambda inputs: inputs["healthCheck"].update(timeout=60.0),
        "must be smaller than the interval",
    ),
    Broken(
        "health-check interval above the model's maximum (AWS model)",
        ("aws:lb/targetGroup:TargetGroup", "web-tg"),
        lambda inputs: inputs["healthCheck"].update(interval=500.0),
        r"HealthCheckIntervalSeconds: 500 is above 300",
    ),
    Broken(
        "unknown SSL policy (the replay's DescribeSSLPolicies)",
        ("aws:lb/listener:Listener", "web-https"),
        lambda inputs: inputs.update(sslPolicy="ELBSecurityPolicy-TLS13-1-2-2099-01"),
        "SSL policy .* does not exist",
    ),
    Broken(
        "redirect with a status code ALB does not offer (AWS model enum)",
        ("aws:lb/listener:Listener", "web-http"),
        lambda inputs: inputs["defaultActions"][0]["redirect"].update(statusCode="HTTP_307"),
        "'HTTP_307' is not one of",
    ),
    Broken(
        "container without an image (moto ECS)",
        ("aws:ecs/taskDefinition:TaskDefinition", "api-task"),
        _container(lambda c: c.pop("image")),
        "Container.image should not be null",
    ),
    Broken(
        "misspelt container-definition field (AWS model, through botocore)",
        ("aws:ecs/taskDefinition:TaskDefinition", "api-task"),
        _container(lambda c: c.update(readOnlyRootFilesystem=c.pop("readonlyRootFilesystem"))),
        'Unknown parameter in containerDefinitions.*"readOnlyRootFilesystem"',
    ),
    Broken(
        "alarm statistic that is not a CloudWatch statistic (AWS model enum)",
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring-ecs-cpu-high"),
        lambda inputs: inputs.update(statistic="Avg"),
        "'Avg' is not one of",
    ),
    Broken(
        "extended statistic that is not a percentile (moto CloudWatch)",
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring-ttft-p99"),
        lambda inputs: inputs.update(extendedStatistic="x99"),
        "InvalidParameterValue",
    ),
    Broken(
        "scalable target for an ECS service that does not exist (moto Application Auto Scaling)",
        ("aws:appautoscaling/target:Target", "scaling-target"),
        lambda inputs: inputs.update(resourceId=inputs["resourceId"] + "-gone"),
        "ECS service doesn't exist",
    ),
    Broken(
        "ECR lifecycle rule with an unknown count type (moto ECR)",
        ("aws:ecr/lifecyclePolicy:LifecyclePolicy", "registry-lifecycle"),
        _in_json("policy", lambda p: p["rules"][0]["selection"].update(countType="sinceForever")),
        "LifecyclePolicyText",
    ),
    Broken(
        "subnet outside the VPC's range (moto EC2)",
        ("aws:ec2/subnet:Subnet", "net-private-0"),
        lambda inputs: inputs.update(cidrBlock="192.168.0.0/24"),
        r"InvalidSubnet\.Range",
    ),
    Broken(
        "an input the translation does not know (the replay's own strictness)",
        ("aws:lb/targetGroup:TargetGroup", "web-tg"),
        lambda inputs: inputs.update(slowStart=30.0),
        r"inputs \['slowStart'\] are not translated",
    ),
]


def _with_dependencies(run: Run, target: Key) -> list[dict[str, Any]]:
    """The recorded resources `target` needs (its dependency closure), in recording order, copied."""
    by_key = {(r["type"], r["name"]): r for r in run.resources}
    needed: set[Key] = set()
    todo = [target]
    while todo:
        key = todo.pop()
        if key in needed or key not in by_key:
            continue
        needed.add(key)
        todo.extend(key_of(urn) for urn in by_key[key].get("dependencies", []))
    keep = [r for r in run.resources if (r["type"], r["name"]) in needed or r["type"] == "pulumi:providers:aws"]
    return copy.deepcopy(keep)


@pytest.mark.parametrize("case", BROKEN, ids=[b.what for b in BROKEN])
def test_a_broken_recorded_input_is_refused(programs: Programs, moto_server: MotoServer, case: Broken) -> None:
    run = programs["prod-full"]
    resources = _with_dependencies(run, case.target)
    (record,) = [r for r in resources if (r["type"], r["name"]) == case.target]
    case.mutate(record["inputs"])
    with pytest.raises(ReplayRefused, match=case.refusal):
        Replay(moto_server.url, _fresh_account(), resources, run.config).run()


def test_a_resource_type_without_translation_is_refused(moto_server: MotoServer) -> None:
    stray = {"type": "aws:sqs/queue:Queue", "name": "jobs", "id": "jobs-id", "custom": True, "inputs": {}, "state": {}}
    with pytest.raises(ReplayRefused, match=r"aws:sqs/queue:Queue \(jobs\) has no translation"):
        Replay(moto_server.url, _fresh_account(), [stray], {}).run()
