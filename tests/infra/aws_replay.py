"""Replay the program's mock-recorded resources as the AWS API calls that create them, against moto.

The infra tests record what the program registers under Pulumi mocks. This module sends each recorded
resource to a local moto server as the create calls the Terraform AWS provider (behind pulumi-aws)
makes, in recording order, one function per resource type (`TRANSLATORS`). Where an input refers to
another resource's mock id, ARN or generated name, the value moto returned for that resource is sent
instead, looked up among the resource's recorded dependencies only. A resource passes when every call
is accepted. Each stack goes to a moto account of its own.

Three layers check each call:

1. botocore, against AWS's own service model: required parameters, types, unknown keys (a misspelt
   container-definition field is refused), minimum lengths and values.
2. `_conform`, against the same model, for what botocore leaves out: enums, maximum lengths and values,
   patterns (Smithy semantics, unanchored; patterns in Java-only syntax such as `\\p{L}` are skipped).
   It also turns Pulumi's float numbers into ints where the model says integer, as the provider does.
3. moto. What it refuses, each found by sending a mutated copy of a real recorded input (moto 5.2.5):
   - IAM: permission-policy grammar on PutRolePolicy (no Effect, unknown key, action without a service
     prefix, Resource not an ARN). CreateRole checks nothing, so the replay also sends the trust policy
     through UpdateAssumeRolePolicy, where moto checks it as AWS does on create. OIDC URL format.
   - ELBv2: unknown load-balancer attribute keys (not their values); deregistration delay 0-3600;
     health-check timeout below the interval; matcher syntax; a listener's load balancer, target group
     and ACM certificate must exist. The replay adds DescribeSSLPolicies for the listener's policy.
   - ECS: a container without image; a service's cluster and task definition must exist.
     Application Auto Scaling: the ECS service of a scalable target must exist.
   - CloudWatch: an extended statistic that is not a percentile. KMS: alias names start with alias/.
   - EC2: a subnet inside its VPC's range and in a real AZ; referenced security groups, gateways and
     route tables must exist. Secrets Manager, SNS: the secret or topic written to must exist.
     ECR: lifecycle-policy grammar. Route 53: the hosted zone exists and the name lies inside it.

What moto accepts, so this replay cannot catch (each confirmed by sending the bad value):
   - ECS: Fargate cpu/memory pairs, bridge mode on Fargate, health-check and stopTimeout bounds, a
     secret's valueFrom, a service's target group, container name, minimum healthy percent, alarm names
     and capacity provider; cluster setting values.
   - ELBv2: attribute values (idle timeout 5000, desync mode "bogus"), one subnet, an HTTPS listener
     without a certificate, listener attribute keys and values (the HSTS header).
   - ElastiCache: node type, engine, AUTH-token rules, failover with one node, snapshot window syntax,
     existence of the subnet group, its subnets and the KMS key.
   - CloudWatch: alarm period, treat-missing-data value, metric-math syntax and ids, ReturnData count,
     a metric query's stat, actions that are not ARNs, dashboard widget shape; log retention values.
   - Resource policies (KMS key, S3 bucket, SNS topic): only that they are JSON (the replay parses
     them). KMS keys named by Secrets Manager, SNS, ECR and Logs need not exist.
   - Application Auto Scaling: min above max, a missing resource label, a policy without a target.
   - Security-group rule protocol and port order, VPC endpoint service names, budget filter names,
     alias target zones, S3 lifecycle day counts, SNS subscription protocols.
Run-time checks (certificate issuance, ALB log delivery to the bucket) are out of reach entirely.

`NOT_MODELLED` lists the recorded types that are no AWS resource, with the reason. Inputs a translation
does not read fail the replay unless `PROVIDER_ONLY` says they never reach a create call.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.model import OperationModel, Shape, StringShape

REGION = "us-east-1"
# Pulumi's wire form of a secret value: {SECRET_SIG_KEY: SECRET_SIG, "value": ...}.
SECRET_SIG_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"

NOT_MODELLED: dict[str, str] = {
    "pulumi:providers:aws": "a provider configuration, not a resource",
    "random:index/randomPassword:RandomPassword": "generated locally by the random provider",
    "docker-build:index:Image": "built and pushed by Docker to the registry API, which moto does not serve",
}

# Inputs that never reach a create call: the provider uses them on update, delete or while waiting.
PROVIDER_ONLY: dict[str, set[str]] = {
    "aws:s3/bucket:Bucket": {"forceDestroy"},
    "aws:kms/key:Key": {"deletionWindowInDays"},  # ScheduleKeyDeletion, on delete
    "aws:ecr/repository:Repository": {"forceDelete"},
    "aws:secretsmanager/secret:Secret": {"recoveryWindowInDays"},
    "aws:elasticache/replicationGroup:ReplicationGroup": {"applyImmediately", "finalSnapshotIdentifier"},
    "aws:ecs/service:Service": {"waitForSteadyState", "forceNewDeployment", "forceDelete", "triggers"},
    "aws:cloudwatch/logGroup:LogGroup": {"skipDestroy"},
    "aws:acm/certificateValidation:CertificateValidation": {"validationRecordFqdns"},  # compared locally
}


class ReplayRefused(AssertionError):
    """A recorded resource that AWS's model or moto refused, or that the replay cannot translate."""


Key = tuple[str, str]  # (type, name): unique within a stack


@dataclass
class Recorded:
    """One resource as the mocks recorded it; tracks which inputs the translation read."""

    type: str
    name: str
    mock_id: str
    state: dict[str, Any]
    inputs: dict[str, Any]
    depends_on: list[Key] | None
    read: set[str] = field(default_factory=set)
    resolved: dict[str, str] = field(default_factory=dict)  # its mock id/ARN/name -> what moto returned

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Recorded:
        deps = raw.get("dependencies")
        return cls(
            raw["type"],
            raw["name"],
            raw["id"],
            unsecret(raw["state"]),
            unsecret(raw["inputs"]),
            None if deps is None else [key_of(urn) for urn in deps],
        )

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return self.inputs[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.inputs.get(key, default)

    def unread(self) -> set[str]:
        return set(self.inputs) - self.read - PROVIDER_ONLY.get(self.type, set())


@dataclass
class Created:
    """What moto returned: the resource's Pulumi id, its ARN, and any other mock value it replaces."""

    id: str
    arn: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass
class Replayed:
    type: str
    name: str
    operations: list[str]


def key_of(urn: str) -> Key:
    """urn:pulumi:<stack>::<project>::<parent types>$<type>::<name> -> (type, name)."""
    _, _, types, name = urn.split("::", 3)
    return types.rpartition("$")[2], name


def unsecret(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return unsecret(value["value"])
        return {k: unsecret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsecret(v) for v in value]
    return value


def pascal(value: Any, renames: Mapping[str, str] | None = None) -> Any:
    """camelCase keys to the API's PascalCase, recursively; `renames` for keys that differ otherwise."""
    if isinstance(value, dict):
        names = renames or {}
        return {names.get(k, k[:1].upper() + k[1:]): pascal(v, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal(v, renames) for v in value]
    return value


# --- the model checks botocore leaves out ----------------------------------------------------------


def _conform(value: Any, shape: Shape, path: str, problems: list[str]) -> Any:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        for key in value:
            if key in members:
                value[key] = _conform(value[key], members[key], f"{path}.{key}", problems)
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} items, at most {meta['max']}")
        value[:] = [_conform(v, shape.member, f"{path}[{i}]", problems) for i, v in enumerate(value)]  # type: ignore[attr-defined]
    elif kind == "map" and isinstance(value, dict):
        for key in list(value):
            _conform(key, shape.key, f"{path} key", problems)  # type: ignore[attr-defined]
            value[key] = _conform(value[key], shape.value, f"{path}[{key}]", problems)  # type: ignore[attr-defined]
    elif isinstance(shape, StringShape) and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.enum}")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} characters, at most {meta['max']}")
        if "pattern" in meta and not _matches(meta["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {meta['pattern']!r}")
    elif kind in ("integer", "long") and isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # Pulumi sends every number as a float; the provider's schema says int
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path}: {value} is above {meta['max']}")
    return value


def _matches(pattern: str, value: str) -> bool:
    try:
        compiled = re.compile(pattern, re.DOTALL)
    except re.error:
        return True  # Java-only syntax (\p{L}, ...): not checkable with Python's re
    return compiled.search(value) is not None


def _check_model(params: dict[str, Any], model: OperationModel, **_: Any) -> None:
    if model.input_shape is None:
        return
    problems: list[str] = []
    _conform(params, model.input_shape, model.name, problems)
    if problems:
        raise ReplayRefused("AWS's model refuses " + "; ".join(problems))


# --- the replay ----------------------------------------------------------------------------------------

Translator = Callable[["Replay", Recorded], Created]


class Replay:
    """Replays one program run into one moto account (one account per run keeps stacks apart)."""

    def __init__(
        self,
        endpoint_url: str,
        account_id: str,
        resources: Sequence[Mapping[str, Any]],
        config: Mapping[str, str],
    ) -> None:
        if not _is_loopback(urlparse(endpoint_url).hostname or ""):
            raise ValueError(f"the replay talks to a local moto server only, not {endpoint_url}")
        self.account_id = account_id
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self._operations: list[str] = []
        self._resources = resources
        self._config = {key.rpartition(":")[2]: value for key, value in config.items()}
        self._default_tags = _default_tags(resources)
        self._existing: dict[str, str] = {}  # configured ids of reused resources -> their stand-ins
        self._made: dict[Key, dict[str, str]] = {}
        self._scope: dict[str, str] = {}  # what the resource being replayed may refer to
        self.replayed: list[Replayed] = []

    def client(self, service: str) -> Any:
        if service not in self._clients:
            client = _session().client(
                service,  # type: ignore[call-overload]
                endpoint_url=self._endpoint_url,
                config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}),
            )
            client.meta.events.register("before-parameter-build", _check_model)
            client.meta.events.register("before-call", self._before_call)
            self._clients[service] = client
        return self._clients[service]

    def _before_call(self, model: OperationModel, params: dict[str, Any], **_: Any) -> None:
        params.setdefault("headers", {})["x-moto-account-id"] = self.account_id
        self._operations.append(model.name)

    def ref(self, value: Any) -> Any:
        """A value recorded against the mocks, resolved to what moto created for it.

        Only the resource's recorded dependencies are searched: mock ids are "<name>-id", so two
        resources of different types with the same name (a role and a task definition, say) share one.
        """
        if isinstance(value, list):
            return [self.ref(v) for v in value]
        return self._scope.get(value, value) if isinstance(value, str) else value

    def refs_in(self, document: str) -> str:
        """A JSON document (policy, container definitions, dashboard) with mock values replaced."""

        def walk(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v) for v in value]
            return self.ref(value)

        return json.dumps(walk(json.loads(document)))

    def autoname(self, rec: Recorded, key: str = "name") -> str:
        """The input `key`, or the name Pulumi would generate: the resource name plus 7 random hex."""
        explicit = rec.get(key)
        if explicit is not None:
            return str(explicit)
        prefix = rec.get(f"{key}Prefix")
        digest = hashlib.sha256(f"{self.account_id}/{rec.type}/{rec.name}".encode()).hexdigest()
        generated = f"{prefix}{digest[:26]}" if prefix is not None else f"{rec.name}-{digest[:7]}"
        rec.resolved[rec.state.get(key, rec.name)] = generated
        return generated

    def tags(self, rec: Recorded) -> dict[str, str]:
        return {**self._default_tags, **(rec.get("tags") or {})}

    def run(self) -> list[Replayed]:
        for key, stand_in in EXISTING.items():
            if key in self._config:
                self._existing[self._config[key]] = stand_in(self, self._config)
        # Recording order is a dependency order: the engine registers a resource only after the
        # resources its inputs come from were registered (and answered by the mocks).
        for raw in self._resources:
            if raw["custom"] and raw["type"] not in NOT_MODELLED:
                self._replay(Recorded.of(raw))
        return self.replayed

    def _replay(self, rec: Recorded) -> None:
        translate = TRANSLATORS.get(rec.type)
        if translate is None:
            raise ReplayRefused(f"{rec.type} ({rec.name}) has no translation; add one or list it in NOT_MODELLED")
        self._operations = []
        deps = self._made if rec.depends_on is None else {k: self._made[k] for k in rec.depends_on if k in self._made}
        self._scope = dict(self._existing)
        for resolved in deps.values():
            self._scope |= resolved
        try:
            created = translate(self, rec)
        except ReplayRefused as exc:
            raise ReplayRefused(f"{rec.type} {rec.name!r}: {exc}") from exc
        except Exception as exc:  # botocore's validation and moto's refusals, named by resource
            raise ReplayRefused(f"{rec.type} {rec.name!r} refused: {type(exc).__name__}: {exc}") from exc
        if unread := rec.unread():
            raise ReplayRefused(
                f"{rec.type} {rec.name!r}: inputs {sorted(unread)} are not translated; translate them in "
                f"{translate.__name__} or, if they never reach AWS, list them in PROVIDER_ONLY"
            )
        rec.resolved[rec.mock_id] = created.id
        if created.arn is not None and "arn" in rec.state:
            rec.resolved[rec.state["arn"]] = created.arn
        rec.resolved |= created.aliases
        self._made[(rec.type, rec.name)] = rec.resolved
        self.replayed.append(Replayed(rec.type, rec.name, self._operations))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network("127.0.0.0/8")
    except ValueError:  # a name: even "localhost" could resolve elsewhere
        return False


@functools.cache
def _session() -> boto3.session.Session:
    """One session for every replay: it caches the service models, which are slow to load."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


def _default_tags(resources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    for raw in resources:
        if raw["type"] == "pulumi:providers:aws" and "defaultTags" in raw["inputs"]:
            tags = raw["inputs"]["defaultTags"]
            return dict((json.loads(tags) if isinstance(tags, str) else tags).get("tags", {}))
    return {}


def _ec2_tags(r: Replay, rec: Recorded, resource_type: str) -> list[dict[str, Any]]:
    tags = r.tags(rec)
    return [{"ResourceType": resource_type, "Tags": _kv(tags)}] if tags else []


def _kv(tags: Mapping[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]


def _drop_none(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


# --- EC2: network and firewall ---------------------------------------------------------------------------


def vpc(r: Replay, rec: Recorded) -> Created:
    ec2 = r.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock=rec["cidrBlock"], TagSpecifications=_ec2_tags(r, rec, "vpc"))["Vpc"]["VpcId"]
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        if rec.get(attribute) is not None:
            ec2.modify_vpc_attribute(VpcId=vpc_id, **{attribute[:1].upper() + attribute[1:]: {"Value": rec[attribute]}})
    return Created(vpc_id)


def eip(r: Replay, rec: Recorded) -> Created:
    out = r.client("ec2").allocate_address(Domain=rec["domain"], TagSpecifications=_ec2_tags(r, rec, "elastic-ip"))
    # NAT gateways name the address by its allocation id, which the mocks record as a state attribute.
    return Created(out["AllocationId"], aliases={rec.state["allocationId"]: out["AllocationId"]})


def default_security_group(r: Replay, rec: Recorded) -> Created:
    """The provider adopts the VPC's default group and revokes every rule it has."""
    ec2 = r.client("ec2")
    filters = [{"Name": "vpc-id", "Values": [r.ref(rec["vpcId"])]}, {"Name": "group-name", "Values": ["default"]}]
    group = ec2.describe_security_groups(Filters=filters)["SecurityGroups"][0]
    if group["IpPermissions"]:
        ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=group["IpPermissions"])
    if group["IpPermissionsEgress"]:
        ec2.revoke_security_group_egress(GroupId=group["GroupId"], IpPermissions=group["IpPermissionsEgress"])
    if tags := r.tags(rec):
        ec2.create_tags(Resources=[group["GroupId"]], Tags=_kv(tags))
    return Created(group["GroupId"])


def internet_gateway(r: Replay, rec: Recorded) -> Created:
    ec2 = r.client("ec2")
    igw = ec2.create_internet_gateway(TagSpecifications=_ec2_tags(r, rec, "internet-gateway"))["InternetGateway"]
    ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=r.ref(rec["vpcId"]))
    return Created(igw["InternetGatewayId"])


def route_table(r: Replay, rec: Recorded) -> Created:
    out = r.client("ec2").create_route_table(
        VpcId=r.ref(rec["vpcId"]), TagSpecifications=_ec2_tags(r, rec, "route-table")
    )
    return Created(out["RouteTable"]["RouteTableId"])


def security_group(r: Replay, rec: Recorded) -> Created:
    """Created, then stripped of AWS's allow-all egress rule, as the provider does; rules come separately."""
    ec2 = r.client("ec2")
    group_id = ec2.create_security_group(
        GroupName=r.autoname(rec),
        Description=rec.get("description", "Managed by Pulumi"),
        VpcId=r.ref(rec["vpcId"]),
        TagSpecifications=_ec2_tags(r, rec, "security-group"),
    )["GroupId"]
    allow_all = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[allow_all])
    return Created(group_id)


def subnet(r: Replay, rec: Recorded) -> Created:
    ec2 = r.client("ec2")
    subnet_id = ec2.create_subnet(
        VpcId=r.ref(rec["vpcId"]),
        CidrBlock=rec["cidrBlock"],
        AvailabilityZone=rec["availabilityZone"],
        TagSpecifications=_ec2_tags(r, rec, "subnet"),
    )["Subnet"]["SubnetId"]
    if rec.get("mapPublicIpOnLaunch"):
        ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    return Created(subnet_id)


_ROUTE_TARGETS = {"gatewayId": "GatewayId", "natGatewayId": "NatGatewayId", "vpcEndpointId": "VpcEndpointId"}


def route(r: Replay, rec: Recorded) -> Created:
    targets = {api: r.ref(rec[key]) for key, api in _ROUTE_TARGETS.items() if rec.get(key) is not None}
    r.client("ec2").create_route(
        RouteTableId=r.ref(rec["routeTableId"]), DestinationCidrBlock=rec["destinationCidrBlock"], **targets
    )
    return Created(f"r-{r.ref(rec['routeTableId'])}{rec['destinationCidrBlock']}")


def route_table_association(r: Replay, rec: Recorded) -> Created:
    out = r.client("ec2").associate_route_table(
        RouteTableId=r.ref(rec["routeTableId"]), SubnetId=r.ref(rec["subnetId"])
    )
    return Created(out["AssociationId"])


def vpc_endpoint(r: Replay, rec: Recorded) -> Created:
    params = _drop_none(
        VpcId=r.ref(rec["vpcId"]),
        ServiceName=rec["serviceName"],
        VpcEndpointType=rec.get("vpcEndpointType"),
        SubnetIds=r.ref(rec.get("subnetIds")),
        SecurityGroupIds=r.ref(rec.get("securityGroupIds")),
        RouteTableIds=r.ref(rec.get("routeTableIds")),
        PrivateDnsEnabled=rec.get("privateDnsEnabled"),
        Policy=rec.get("policy"),
    )
    out = r.client("ec2").create_vpc_endpoint(TagSpecifications=_ec2_tags(r, rec, "vpc-endpoint"), **params)
    return Created(out["VpcEndpoint"]["VpcEndpointId"])


def _permission(r: Replay, rec: Recorded) -> dict[str, Any]:
    description = rec.get("description")
    permission: dict[str, Any] = _drop_none(
        IpProtocol=rec["ipProtocol"], FromPort=rec.get("fromPort"), ToPort=rec.get("toPort")
    )
    if rec.get("cidrIpv4") is not None:
        permission["IpRanges"] = [_drop_none(CidrIp=rec["cidrIpv4"], Description=description)]
    if rec.get("cidrIpv6") is not None:
        permission["Ipv6Ranges"] = [_drop_none(CidrIpv6=rec["cidrIpv6"], Description=description)]
    if rec.get("referencedSecurityGroupId") is not None:
        group = r.ref(rec["referencedSecurityGroupId"])
        permission["UserIdGroupPairs"] = [_drop_none(GroupId=group, Description=description)]
    if rec.get("prefixListId") is not None:
        permission["PrefixListIds"] = [_drop_none(PrefixListId=rec["prefixListId"], Description=description)]
    return permission


def security_group_ingress_rule(r: Replay, rec: Recorded) -> Created:
    out = r.client("ec2").authorize_security_group_ingress(
        GroupId=r.ref(rec["securityGroupId"]),
        IpPermissions=[_permission(r, rec)],
        TagSpecifications=_ec2_tags(r, rec, "security-group-rule"),
    )
    return Created(out["SecurityGroupRules"][0]["SecurityGroupRuleId"])


def security_group_egress_rule(r: Replay, rec: Recorded) -> Created:
    out = r.client("ec2").authorize_security_group_egress(
        GroupId=r.ref(rec["securityGroupId"]),
        IpPermissions=[_permission(r, rec)],
        TagSpecifications=_ec2_tags(r, rec, "security-group-rule"),
    )
    return Created(out["SecurityGroupRules"][0]["SecurityGroupRuleId"])


def nat_gateway(r: Replay, rec: Recorded) -> Created:
    params = _drop_none(
        SubnetId=r.ref(rec["subnetId"]),
        AllocationId=r.ref(rec.get("allocationId")),
        ConnectivityType=rec.get("connectivityType"),
    )
    out = r.client("ec2").create_nat_gateway(TagSpecifications=_ec2_tags(r, rec, "natgateway"), **params)
    return Created(out["NatGateway"]["NatGatewayId"])


# --- S3: the access-log bucket ---------------------------------------------------------------------------


def bucket(r: Replay, rec: Recorded) -> Created:
    s3 = r.client("s3")
    name = r.autoname(rec, "bucket")
    s3.create_bucket(Bucket=name)
    if tags := r.tags(rec):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _kv(tags)})
    return Created(name, f"arn:aws:s3:::{name}")


def bucket_public_access_block(r: Replay, rec: Recorded) -> Created:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    config = pascal({k: rec.get(k, False) for k in keys})
    r.client("s3").put_public_access_block(Bucket=r.ref(rec["bucket"]), PublicAccessBlockConfiguration=config)
    return Created(r.ref(rec["bucket"]))


def bucket_ownership_controls(r: Replay, rec: Recorded) -> Created:
    rules = [pascal(rec["rule"])]
    r.client("s3").put_bucket_ownership_controls(Bucket=r.ref(rec["bucket"]), OwnershipControls={"Rules": rules})
    return Created(r.ref(rec["bucket"]))


def bucket_encryption(r: Replay, rec: Recorded) -> Created:
    rules = pascal(r.ref(rec["rules"]), {"sseAlgorithm": "SSEAlgorithm", "kmsMasterKeyId": "KMSMasterKeyID"})
    r.client("s3").put_bucket_encryption(
        Bucket=r.ref(rec["bucket"]), ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return Created(r.ref(rec["bucket"]))


def bucket_versioning(r: Replay, rec: Recorded) -> Created:
    config = pascal(rec["versioningConfiguration"], {"mfaDelete": "MFADelete"})
    r.client("s3").put_bucket_versioning(Bucket=r.ref(rec["bucket"]), VersioningConfiguration=config)
    return Created(r.ref(rec["bucket"]))


def bucket_lifecycle(r: Replay, rec: Recorded) -> Created:
    rules = pascal(rec["rules"], {"id": "ID"})
    r.client("s3").put_bucket_lifecycle_configuration(
        Bucket=r.ref(rec["bucket"]), LifecycleConfiguration={"Rules": rules}
    )
    return Created(r.ref(rec["bucket"]))


def bucket_policy(r: Replay, rec: Recorded) -> Created:
    r.client("s3").put_bucket_policy(Bucket=r.ref(rec["bucket"]), Policy=r.refs_in(rec["policy"]))
    return Created(r.ref(rec["bucket"]))


# --- KMS, Secrets Manager, IAM ------------------------------------------------------------------------


def kms_key(r: Replay, rec: Recorded) -> Created:
    kms = r.client("kms")
    params = _drop_none(
        Description=rec.get("description"),
        Policy=rec.get("policy") and r.refs_in(rec["policy"]),
        KeyUsage=rec.get("keyUsage"),
        KeySpec=rec.get("customerMasterKeySpec"),
        MultiRegion=rec.get("multiRegion"),
        BypassPolicyLockoutSafetyCheck=rec.get("bypassPolicyLockoutSafetyCheck"),
    )
    key = kms.create_key(Tags=_kv(r.tags(rec), "TagKey", "TagValue"), **params)["KeyMetadata"]
    if rec.get("enableKeyRotation"):
        period = _drop_none(RotationPeriodInDays=rec.get("rotationPeriodInDays"))
        kms.enable_key_rotation(KeyId=key["KeyId"], **period)
    return Created(key["KeyId"], key["Arn"])


def kms_alias(r: Replay, rec: Recorded) -> Created:
    name = r.autoname(rec)
    r.client("kms").create_alias(AliasName=name, TargetKeyId=r.ref(rec["targetKeyId"]))
    return Created(name)


def secret(r: Replay, rec: Recorded) -> Created:
    params = _drop_none(Description=rec.get("description"), KmsKeyId=r.ref(rec.get("kmsKeyId")))
    out = r.client("secretsmanager").create_secret(Name=r.autoname(rec), Tags=_kv(r.tags(rec)), **params)
    return Created(out["ARN"], out["ARN"])


def secret_version(r: Replay, rec: Recorded) -> Created:
    out = r.client("secretsmanager").put_secret_value(SecretId=r.ref(rec["secretId"]), SecretString=rec["secretString"])
    return Created(f"{out['ARN']}|{out['VersionId']}")


def role(r: Replay, rec: Recorded) -> Created:
    params = _drop_none(
        Description=rec.get("description"),
        MaxSessionDuration=rec.get("maxSessionDuration"),
        Path=rec.get("path"),
        PermissionsBoundary=rec.get("permissionsBoundary"),
    )
    iam = r.client("iam")
    trust = r.refs_in(rec["assumeRolePolicy"])
    out = iam.create_role(RoleName=r.autoname(rec), AssumeRolePolicyDocument=trust, Tags=_kv(r.tags(rec)), **params)
    # AWS checks the trust policy on CreateRole; moto only on UpdateAssumeRolePolicy, so send it there too.
    iam.update_assume_role_policy(RoleName=out["Role"]["RoleName"], PolicyDocument=trust)
    return Created(out["Role"]["RoleName"], out["Role"]["Arn"])


def role_policy(r: Replay, rec: Recorded) -> Created:
    role_name, policy_name = r.ref(rec["role"]), r.autoname(rec)
    r.client("iam").put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=r.refs_in(rec["policy"]))
    return Created(f"{role_name}:{policy_name}")


def oidc_provider(r: Replay, rec: Recorded) -> Created:
    params = _drop_none(ThumbprintList=rec.get("thumbprintLists"))
    out = r.client("iam").create_open_id_connect_provider(
        Url=rec["url"], ClientIDList=rec["clientIdLists"], Tags=_kv(r.tags(rec)), **params
    )
    return Created(out["OpenIDConnectProviderArn"], out["OpenIDConnectProviderArn"])


# --- ACM and Route 53 ------------------------------------------------------------------------------------


def certificate(r: Replay, rec: Recorded) -> Created:
    params = _drop_none(
        SubjectAlternativeNames=rec.get("subjectAlternativeNames"), KeyAlgorithm=rec.get("keyAlgorithm")
    )
    arn = r.client("acm").request_certificate(
        DomainName=rec["domainName"],
        ValidationMethod=rec["validationMethod"],
        Tags=_kv(r.tags(rec)),
        **params,
    )["CertificateArn"]
    return Created(arn, arn)


def certificate_validation(r: Replay, rec: Recorded) -> Created:
    """No create call: the provider waits for the certificate to be issued. Moto only confirms it exists."""
    arn = r.ref(rec["certificateArn"])
    r.client("acm").describe_certificate(CertificateArn=arn)
    return Created(arn, aliases={rec["certificateArn"]: arn})  # its certificateArn output, read by listeners


def dns_record(r: Replay, rec: Recorded) -> Created:
    record: dict[str, Any] = {"Name": rec["name"], "Type": rec["type"]}
    if rec.get("ttl") is not None:
        record["TTL"] = rec["ttl"]
    if rec.get("records") is not None:
        record["ResourceRecords"] = [{"Value": v} for v in rec["records"]]
    if aliases := rec.get("aliases"):
        (alias,) = aliases
        record["AliasTarget"] = {
            "HostedZoneId": r.ref(alias["zoneId"]),
            "DNSName": r.ref(alias["name"]),
            "EvaluateTargetHealth": alias["evaluateTargetHealth"],
        }
    action = "UPSERT" if rec.get("allowOverwrite") else "CREATE"
    zone = r.ref(rec["zoneId"])
    r.client("route53").change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": record}]}
    )
    return Created(f"{zone}_{rec['name']}_{rec['type']}")


# --- ECR, ECS, Application Auto Scaling ----------------------------------------------------------------


def ecr_repository(r: Replay, rec: Recorded) -> Created:
    params: dict[str, Any] = _drop_none(imageTagMutability=rec.get("imageTagMutability"))
    if scanning := rec.get("imageScanningConfiguration"):
        params["imageScanningConfiguration"] = scanning
    if encryption := rec.get("encryptionConfigurations"):
        (config,) = encryption
        params["encryptionConfiguration"] = {**config, "kmsKey": r.ref(config.get("kmsKey"))}
    repo = r.client("ecr").create_repository(repositoryName=r.autoname(rec), tags=_kv(r.tags(rec)), **params)
    repo = repo["repository"]
    return Created(repo["repositoryName"], repo["repositoryArn"])


def ecr_lifecycle_policy(r: Replay, rec: Recorded) -> Created:
    name = r.ref(rec["repository"])
    r.client("ecr").put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=rec["policy"])
    return Created(name)


def ecs_cluster(r: Replay, rec: Recorded) -> Created:
    params = _drop_none(settings=rec.get("settings"), configuration=rec.get("configuration"))
    out = r.client("ecs").create_cluster(clusterName=r.autoname(rec), tags=_kv(r.tags(rec), "key", "value"), **params)[
        "cluster"
    ]
    return Created(out["clusterArn"], out["clusterArn"])


def ecs_capacity_providers(r: Replay, rec: Recorded) -> Created:
    cluster = r.ref(rec["clusterName"])
    r.client("ecs").put_cluster_capacity_providers(
        cluster=cluster,
        capacityProviders=rec.get("capacityProviders", []),
        defaultCapacityProviderStrategy=rec.get("defaultCapacityProviderStrategies", []),
    )
    return Created(cluster)


def ecs_task_definition(r: Replay, rec: Recorded) -> Created:
    params = _drop_none(
        taskRoleArn=r.ref(rec.get("taskRoleArn")),
        executionRoleArn=r.ref(rec.get("executionRoleArn")),
        networkMode=rec.get("networkMode"),
        requiresCompatibilities=rec.get("requiresCompatibilities"),
        cpu=rec.get("cpu"),
        memory=rec.get("memory"),
        volumes=rec.get("volumes"),
        runtimePlatform=rec.get("runtimePlatform"),
        ephemeralStorage=rec.get("ephemeralStorage"),
        pidMode=rec.get("pidMode"),
        ipcMode=rec.get("ipcMode"),
    )
    out = r.client("ecs").register_task_definition(
        family=rec["family"],
        containerDefinitions=json.loads(r.refs_in(rec["containerDefinitions"])),
        tags=_kv(r.tags(rec), "key", "value"),
        **params,
    )["taskDefinition"]
    return Created(out["family"], out["taskDefinitionArn"])


def ecs_service(r: Replay, rec: Recorded) -> Created:
    deployment: dict[str, Any] = _drop_none(
        maximumPercent=rec.get("deploymentMaximumPercent"),
        minimumHealthyPercent=rec.get("deploymentMinimumHealthyPercent"),
        deploymentCircuitBreaker=rec.get("deploymentCircuitBreaker"),
        alarms=rec.get("alarms"),
    )
    params = _drop_none(
        cluster=r.ref(rec.get("cluster")),
        taskDefinition=r.ref(rec.get("taskDefinition")),
        desiredCount=rec.get("desiredCount"),
        launchType=rec.get("launchType"),
        platformVersion=rec.get("platformVersion"),
        healthCheckGracePeriodSeconds=rec.get("healthCheckGracePeriodSeconds"),
        enableECSManagedTags=rec.get("enableEcsManagedTags"),
        propagateTags=rec.get("propagateTags"),
        enableExecuteCommand=rec.get("enableExecuteCommand"),
        availabilityZoneRebalancing=rec.get("availabilityZoneRebalancing"),
        deploymentConfiguration=deployment or None,
    )
    if strategies := rec.get("capacityProviderStrategies"):
        params["capacityProviderStrategy"] = strategies
    if balancers := rec.get("loadBalancers"):
        params["loadBalancers"] = [{**b, "targetGroupArn": r.ref(b.get("targetGroupArn"))} for b in balancers]
    if network := rec.get("networkConfiguration"):
        params["networkConfiguration"] = {
            "awsvpcConfiguration": {
                "subnets": r.ref(network["subnets"]),
                "securityGroups": r.ref(network.get("securityGroups", [])),
                "assignPublicIp": "ENABLED" if network.get("assignPublicIp") else "DISABLED",
            }
        }
    out = r.client("ecs").create_service(serviceName=rec["name"], tags=_kv(r.tags(rec), "key", "value"), **params)[
        "service"
    ]
    return Created(out["serviceArn"], out["serviceArn"])


def scalable_target(r: Replay, rec: Recorded) -> Created:
    params = _drop_none(RoleARN=rec.get("roleArn"))
    r.client("application-autoscaling").register_scalable_target(
        ServiceNamespace=rec["serviceNamespace"],
        ResourceId=rec["resourceId"],
        ScalableDimension=rec["scalableDimension"],
        MinCapacity=rec["minCapacity"],
        MaxCapacity=rec["maxCapacity"],
        **params,
    )
    return Created(rec["resourceId"])


def scaling_policy(r: Replay, rec: Recorded) -> Created:
    params: dict[str, Any] = {}
    if tracking := rec.get("targetTrackingScalingPolicyConfiguration"):
        tracking = pascal(tracking)
        predefined = tracking.get("PredefinedMetricSpecification", {})
        if "ResourceLabel" in predefined:  # "<load balancer arn suffix>/<target group arn suffix>"
            lb, _, tg = predefined["ResourceLabel"].partition("/targetgroup/")
            predefined["ResourceLabel"] = f"{r.ref(lb)}/{r.ref('targetgroup/' + tg)}"
        params["TargetTrackingScalingPolicyConfiguration"] = tracking
    out = r.client("application-autoscaling").put_scaling_policy(
        PolicyName=r.autoname(rec),
        ServiceNamespace=rec["serviceNamespace"],
        ResourceId=rec["resourceId"],
        ScalableDimension=rec["scalableDimension"],
        PolicyType=rec.get("policyType", "StepScaling"),
        **params,
    )
    return Created(out["PolicyARN"], out["PolicyARN"])


# --- ELBv2 -------------------------------------------------------------------------------------------


def _suffix(arn: str) -> str:
    """An ELB ARN's suffix as CloudWatch dimensions use it: "app/<name>/<id>", "targetgroup/<name>/<id>"."""
    return arn.split(":", 5)[5].removeprefix("loadbalancer/")


_LB_ATTRIBUTES = {  # input -> ModifyLoadBalancerAttributes key
    "idleTimeout": "idle_timeout.timeout_seconds",
    "dropInvalidHeaderFields": "routing.http.drop_invalid_header_fields.enabled",
    "desyncMitigationMode": "routing.http.desync_mitigation_mode",
    "enableDeletionProtection": "deletion_protection.enabled",
    "enableHttp2": "routing.http2.enabled",
    "preserveHostHeader": "routing.http.preserve_host_header.enabled",
    "xffHeaderProcessingMode": "routing.http.xff_header_processing.mode",
    "clientKeepAlive": "client_keep_alive.seconds",
}


def _attribute(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def load_balancer(r: Replay, rec: Recorded) -> Created:
    elb = r.client("elbv2")
    params = _drop_none(IpAddressType=rec.get("ipAddressType"))
    lb = elb.create_load_balancer(
        Name=r.autoname(rec),
        Subnets=r.ref(rec["subnets"]),
        SecurityGroups=r.ref(rec.get("securityGroups", [])),
        Scheme="internal" if rec.get("internal") else "internet-facing",
        Type=rec.get("loadBalancerType", "application"),
        Tags=_kv(r.tags(rec)),
        **params,
    )["LoadBalancers"][0]
    attributes = {key: _attribute(rec[name]) for name, key in _LB_ATTRIBUTES.items() if rec.get(name) is not None}
    if logs := rec.get("accessLogs"):
        attributes |= {
            "access_logs.s3.enabled": _attribute(logs.get("enabled", False)),
            "access_logs.s3.bucket": r.ref(logs["bucket"]),
            "access_logs.s3.prefix": logs.get("prefix", ""),
        }
    if attributes:
        elb.modify_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"], Attributes=_kv(attributes))
    aliases = {
        rec.state.get("arnSuffix", ""): _suffix(lb["LoadBalancerArn"]),
        rec.state.get("dnsName", ""): lb["DNSName"],
        rec.state.get("zoneId", ""): lb["CanonicalHostedZoneId"],
    }
    return Created(lb["LoadBalancerArn"], lb["LoadBalancerArn"], aliases)


_HEALTH_CHECK = {  # healthCheck input -> CreateTargetGroup parameter
    "enabled": "HealthCheckEnabled",
    "path": "HealthCheckPath",
    "port": "HealthCheckPort",
    "protocol": "HealthCheckProtocol",
    "interval": "HealthCheckIntervalSeconds",
    "timeout": "HealthCheckTimeoutSeconds",
    "healthyThreshold": "HealthyThresholdCount",
    "unhealthyThreshold": "UnhealthyThresholdCount",
}


def target_group(r: Replay, rec: Recorded) -> Created:
    elb = r.client("elbv2")
    check = dict(rec.get("healthCheck") or {})
    params = {api: check.pop(key) for key, api in _HEALTH_CHECK.items() if key in check}
    if "matcher" in check:
        params["Matcher"] = {"HttpCode": check.pop("matcher")}
    if check:
        raise ReplayRefused(f"healthCheck fields {sorted(check)} are not translated")
    tg = elb.create_target_group(
        Name=r.autoname(rec),
        Protocol=rec["protocol"],
        Port=rec["port"],
        VpcId=r.ref(rec["vpcId"]),
        TargetType=rec.get("targetType", "instance"),
        Tags=_kv(r.tags(rec)),
        **_drop_none(ProtocolVersion=rec.get("protocolVersion")),
        **params,
    )["TargetGroups"][0]
    if rec.get("deregistrationDelay") is not None:
        delay = {"deregistration_delay.timeout_seconds": _attribute(rec["deregistrationDelay"])}
        elb.modify_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"], Attributes=_kv(delay))
    aliases = {rec.state.get("arnSuffix", ""): _suffix(tg["TargetGroupArn"])}
    return Created(tg["TargetGroupArn"], tg["TargetGroupArn"], aliases)


_RESPONSE_HEADER = re.compile(r"routingHttpResponse(\w+?)(HeaderValue|Enabled)")


def _listener_attribute(name: str) -> str | None:
    """routingHttpResponseStrictTransportSecurityHeaderValue -> routing.http.response.strict_..._value."""
    match = _RESPONSE_HEADER.fullmatch(name)
    if match is None:
        return None
    header, kind = (re.sub(r"(?<!^)(?=[A-Z])", "_", part).lower() for part in match.groups())
    return f"routing.http.response.{header}.{kind}"


def _action(r: Replay, action: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"Type": action["type"]}
    if "targetGroupArn" in action:
        converted["TargetGroupArn"] = r.ref(action["targetGroupArn"])
    for key, api in (("redirect", "RedirectConfig"), ("fixedResponse", "FixedResponseConfig")):
        if key in action:
            converted[api] = pascal(action[key])
    if "forward" in action:
        raise ReplayRefused("weighted forward actions are not translated")
    return converted


def listener(r: Replay, rec: Recorded) -> Created:
    elb = r.client("elbv2")
    params = _drop_none(SslPolicy=rec.get("sslPolicy"), AlpnPolicy=rec.get("alpnPolicy"))
    if rec.get("certificateArn") is not None:
        params["Certificates"] = [{"CertificateArn": r.ref(rec["certificateArn"])}]
    if "AlpnPolicy" in params:
        params["AlpnPolicy"] = [params["AlpnPolicy"]]
    out = elb.create_listener(
        LoadBalancerArn=r.ref(rec["loadBalancerArn"]),
        Protocol=rec["protocol"],
        Port=rec["port"],
        DefaultActions=[_action(r, a) for a in rec["defaultActions"]],
        Tags=_kv(r.tags(rec)),
        **params,
    )["Listeners"][0]
    if "SslPolicy" in params:  # moto does not check it on create; AWS does
        found = elb.describe_ssl_policies(Names=[params["SslPolicy"]])["SslPolicies"]
        if not found:
            raise ReplayRefused(f"SSL policy {params['SslPolicy']!r} does not exist")
    attributes = {key: _attribute(rec[name]) for name in rec.inputs if (key := _listener_attribute(name))}
    if attributes:
        elb.modify_listener_attributes(ListenerArn=out["ListenerArn"], Attributes=_kv(attributes))
    return Created(out["ListenerArn"], out["ListenerArn"])


# --- ElastiCache ---------------------------------------------------------------------------------------


def cache_subnet_group(r: Replay, rec: Recorded) -> Created:
    name = r.autoname(rec)
    r.client("elasticache").create_cache_subnet_group(
        CacheSubnetGroupName=name,
        CacheSubnetGroupDescription=rec.get("description", "Managed by Pulumi"),
        SubnetIds=r.ref(rec["subnetIds"]),
        Tags=_kv(r.tags(rec)),
    )
    return Created(name)


_REPLICATION_GROUP = {  # input -> CreateReplicationGroup parameter, for the plain values
    "engine": "Engine",
    "engineVersion": "EngineVersion",
    "nodeType": "CacheNodeType",
    "numCacheClusters": "NumCacheClusters",
    "port": "Port",
    "automaticFailoverEnabled": "AutomaticFailoverEnabled",
    "multiAzEnabled": "MultiAZEnabled",
    "transitEncryptionEnabled": "TransitEncryptionEnabled",
    "transitEncryptionMode": "TransitEncryptionMode",
    "authToken": "AuthToken",
    "atRestEncryptionEnabled": "AtRestEncryptionEnabled",
    "snapshotRetentionLimit": "SnapshotRetentionLimit",
    "snapshotWindow": "SnapshotWindow",
    "maintenanceWindow": "PreferredMaintenanceWindow",
    "autoMinorVersionUpgrade": "AutoMinorVersionUpgrade",
    "parameterGroupName": "CacheParameterGroupName",
    "dataTieringEnabled": "DataTieringEnabled",
    "networkType": "NetworkType",
    "ipDiscovery": "IpDiscovery",
}


def replication_group(r: Replay, rec: Recorded) -> Created:
    params = {api: rec[key] for key, api in _REPLICATION_GROUP.items() if rec.get(key) is not None}
    params |= _drop_none(
        CacheSubnetGroupName=r.ref(rec.get("subnetGroupName")),
        SecurityGroupIds=r.ref(rec.get("securityGroupIds")),
        KmsKeyId=r.ref(rec.get("kmsKeyId")),
        NotificationTopicArn=r.ref(rec.get("notificationTopicArn")),
    )
    group_id = r.autoname(rec, "replicationGroupId")
    out = r.client("elasticache").create_replication_group(
        ReplicationGroupId=group_id,
        ReplicationGroupDescription=rec.get("description", "Managed by Pulumi"),
        Tags=_kv(r.tags(rec)),
        **params,
    )["ReplicationGroup"]
    return Created(group_id, out["ARN"])


# --- SNS, CloudWatch, Budgets ------------------------------------------------------------------------


def topic(r: Replay, rec: Recorded) -> Created:
    attributes = _drop_none(KmsMasterKeyId=r.ref(rec.get("kmsMasterKeyId")), Policy=rec.get("policy"))
    arn = r.client("sns").create_topic(Name=r.autoname(rec), Attributes=attributes, Tags=_kv(r.tags(rec)))
    return Created(arn["TopicArn"], arn["TopicArn"])


def topic_policy(r: Replay, rec: Recorded) -> Created:
    arn = r.ref(rec["arn"])
    r.client("sns").set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=r.refs_in(rec["policy"]))
    return Created(arn)


def topic_subscription(r: Replay, rec: Recorded) -> Created:
    out = r.client("sns").subscribe(
        TopicArn=r.ref(rec["topic"]),
        Protocol=rec["protocol"],
        Endpoint=rec["endpoint"],
        ReturnSubscriptionArn=True,
    )
    return Created(out["SubscriptionArn"], out["SubscriptionArn"])


def log_group(r: Replay, rec: Recorded) -> Created:
    logs = r.client("logs")
    name = r.autoname(rec)
    params = _drop_none(kmsKeyId=r.ref(rec.get("kmsKeyId")), logGroupClass=rec.get("logGroupClass"))
    logs.create_log_group(logGroupName=name, tags=r.tags(rec), **params)
    if rec.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=rec["retentionInDays"])
    return Created(name, f"arn:aws:logs:{REGION}:{r.account_id}:log-group:{name}")


def _dimensions(r: Replay, dimensions: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"Name": k, "Value": r.ref(v)} for k, v in (dimensions or {}).items()]


def _metric_query(r: Replay, query: Mapping[str, Any]) -> dict[str, Any]:
    converted = _drop_none(
        Id=query["id"],
        Expression=query.get("expression"),
        Label=query.get("label"),
        ReturnData=query.get("returnData", False),  # the provider sends false, not nothing
        Period=query.get("period"),
        AccountId=query.get("accountId"),
    )
    if metric := query.get("metric"):
        stat = {
            "Metric": {
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": _dimensions(r, metric.get("dimensions")),
            },
            "Period": metric["period"],
            "Stat": metric["stat"],
        }
        converted["MetricStat"] = stat | _drop_none(Unit=metric.get("unit"))
    return converted


def metric_alarm(r: Replay, rec: Recorded) -> Created:
    name = r.autoname(rec)
    params = _drop_none(
        AlarmDescription=rec.get("alarmDescription"),
        ActionsEnabled=rec.get("actionsEnabled"),
        AlarmActions=r.ref(rec.get("alarmActions")),
        OKActions=r.ref(rec.get("okActions")),
        InsufficientDataActions=r.ref(rec.get("insufficientDataActions")),
        MetricName=rec.get("metricName"),
        Namespace=rec.get("namespace"),
        Statistic=rec.get("statistic"),
        ExtendedStatistic=rec.get("extendedStatistic"),
        Period=rec.get("period"),
        Unit=rec.get("unit"),
        EvaluationPeriods=rec.get("evaluationPeriods"),
        DatapointsToAlarm=rec.get("datapointsToAlarm"),
        Threshold=rec.get("threshold"),
        ThresholdMetricId=rec.get("thresholdMetricId"),
        ComparisonOperator=rec.get("comparisonOperator"),
        TreatMissingData=rec.get("treatMissingData"),
        EvaluateLowSampleCountPercentile=rec.get("evaluateLowSampleCountPercentile"),
    )
    if rec.get("dimensions"):
        params["Dimensions"] = _dimensions(r, rec["dimensions"])
    if queries := rec.get("metricQueries"):
        params["Metrics"] = [_metric_query(r, q) for q in queries]
    r.client("cloudwatch").put_metric_alarm(AlarmName=name, Tags=_kv(r.tags(rec)), **params)
    return Created(name, f"arn:aws:cloudwatch:{REGION}:{r.account_id}:alarm:{name}")


def dashboard(r: Replay, rec: Recorded) -> Created:
    name = rec["dashboardName"]
    r.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=r.refs_in(rec["dashboardBody"]))
    return Created(name)


def budget(r: Replay, rec: Recorded) -> Created:
    name = r.autoname(rec)
    spec: dict[str, Any] = {
        "BudgetName": name,
        "BudgetType": rec["budgetType"],
        "TimeUnit": rec["timeUnit"],
        "BudgetLimit": {"Amount": rec["limitAmount"], "Unit": rec["limitUnit"]},
    }
    if filters := rec.get("costFilters"):
        spec["CostFilters"] = {f["name"]: f["values"] for f in filters}
    notifications = [
        {
            "Notification": {
                "NotificationType": n["notificationType"],
                "ComparisonOperator": n["comparisonOperator"],
                "Threshold": n["threshold"],
                "ThresholdType": n.get("thresholdType", "PERCENTAGE"),
            },
            "Subscribers": [{"SubscriptionType": "EMAIL", "Address": a} for a in n.get("subscriberEmailAddresses", [])]
            + [{"SubscriptionType": "SNS", "Address": r.ref(a)} for a in n.get("subscriberSnsTopicArns", [])],
        }
        for n in rec.get("notifications", [])
    ]
    r.client("budgets").create_budget(AccountId=r.account_id, Budget=spec, NotificationsWithSubscribers=notifications)
    return Created(f"{r.account_id}:{name}", f"arn:aws:budgets::{r.account_id}:budget/{name}")


# --- what a stack reuses rather than creates -------------------------------------------------------------


def _existing_certificate(r: Replay, config: Mapping[str, str]) -> str:
    domain = config.get("domainName", "api.example.com")
    arn: str = r.client("acm").request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"]
    return arn


def _existing_hosted_zone(r: Replay, config: Mapping[str, str]) -> str:
    domain = config.get("domainName", "api.example.com")
    zone = r.client("route53").create_hosted_zone(Name=domain.partition(".")[2], CallerReference=r.account_id)
    return str(zone["HostedZone"]["Id"]).rpartition("/")[2]


# Config keys that name a resource the account already has: moto gets a stand-in first, and the
# configured id or ARN resolves to it. Existing resources referenced only inside policy documents or
# environment variables (the OpenAI key secret, the GitHub OIDC provider) need none: moto resolves neither.
EXISTING: dict[str, Callable[[Replay, Mapping[str, str]], str]] = {
    "certificateArn": _existing_certificate,
    "hostedZoneId": _existing_hosted_zone,
}


TRANSLATORS: dict[str, Translator] = {
    "aws:ec2/vpc:Vpc": vpc,
    "aws:ec2/eip:Eip": eip,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": default_security_group,
    "aws:ec2/internetGateway:InternetGateway": internet_gateway,
    "aws:ec2/routeTable:RouteTable": route_table,
    "aws:ec2/securityGroup:SecurityGroup": security_group,
    "aws:ec2/subnet:Subnet": subnet,
    "aws:ec2/route:Route": route,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": route_table_association,
    "aws:ec2/vpcEndpoint:VpcEndpoint": vpc_endpoint,
    "aws:ec2/natGateway:NatGateway": nat_gateway,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": security_group_ingress_rule,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": security_group_egress_rule,
    "aws:s3/bucket:Bucket": bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": bucket_public_access_block,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": bucket_ownership_controls,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": bucket_encryption,
    "aws:s3/bucketVersioning:BucketVersioning": bucket_versioning,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": bucket_lifecycle,
    "aws:s3/bucketPolicy:BucketPolicy": bucket_policy,
    "aws:kms/key:Key": kms_key,
    "aws:kms/alias:Alias": kms_alias,
    "aws:secretsmanager/secret:Secret": secret,
    "aws:secretsmanager/secretVersion:SecretVersion": secret_version,
    "aws:iam/role:Role": role,
    "aws:iam/rolePolicy:RolePolicy": role_policy,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": oidc_provider,
    "aws:acm/certificate:Certificate": certificate,
    "aws:acm/certificateValidation:CertificateValidation": certificate_validation,
    "aws:route53/record:Record": dns_record,
    "aws:ecr/repository:Repository": ecr_repository,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ecr_lifecycle_policy,
    "aws:ecs/cluster:Cluster": ecs_cluster,
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": ecs_capacity_providers,
    "aws:ecs/taskDefinition:TaskDefinition": ecs_task_definition,
    "aws:ecs/service:Service": ecs_service,
    "aws:appautoscaling/target:Target": scalable_target,
    "aws:appautoscaling/policy:Policy": scaling_policy,
    "aws:lb/loadBalancer:LoadBalancer": load_balancer,
    "aws:lb/targetGroup:TargetGroup": target_group,
    "aws:lb/listener:Listener": listener,
    "aws:elasticache/subnetGroup:SubnetGroup": cache_subnet_group,
    "aws:elasticache/replicationGroup:ReplicationGroup": replication_group,
    "aws:sns/topic:Topic": topic,
    "aws:sns/topicPolicy:TopicPolicy": topic_policy,
    "aws:sns/topicSubscription:TopicSubscription": topic_subscription,
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": dashboard,
    "aws:budgets/budget:Budget": budget,
}
