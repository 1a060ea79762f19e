"""What each resource the program records costs a month, at its minimum size and idle.

`estimate()` takes the resources `python -m infra.mocks <stack>` recorded (the update phase, so every
input is known) and prices them from the dated table in aws_prices.json. Every recorded AWS type is in
exactly one of three places: `PRICED` (a function giving its monthly lines), `PER_USE` (it costs only
with traffic: its prices are listed next to the total, not added) or `FREE` (no charge, and why). A type
in none of them stops the estimate, and a test runs every program variant through it, so a new billable
resource cannot go unpriced.

Minimum size, idle: the task count is `minTasks`, nothing scales out, and no traffic flows, so load
balancer capacity units, NAT and endpoint data, data out, log volume and API requests are per use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from infra.pricing.prices import MissingPrice, Price, PriceTable

Resource = Mapping[str, Any]
"""One recorded resource (infra/mocks.py documents the fields): `type`, `name`, `id`, `inputs`, `state`."""

SERVICE: Final = "aws:ecs/service:Service"


@dataclass(frozen=True)
class Line:
    """One billed thing: `count` units of `what` at `unit_usd` a month each."""

    resource: str
    category: str
    what: str
    count: float
    unit_usd: float
    prices: tuple[Price, ...]
    """The list prices `unit_usd` comes from (the report names them and their sources)."""
    basis: str = ""
    """How `unit_usd` follows from `prices`, when it is more than price x hours."""

    @property
    def monthly(self) -> float:
        return self.count * self.unit_usd


@dataclass(frozen=True)
class Estimate:
    stack: str
    lines: list[Line]
    per_use: list[Price]
    table: PriceTable
    overrides: Mapping[str, str] = field(default_factory=dict)
    """Config set on top of the stack file (`--set`), to price a change."""

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)


class UnpricedResource(MissingPrice):
    """A recorded type that is neither priced, per use, nor known to be free."""


class Recorded:
    """A stack's recorded AWS resources, with lookups by the references one resource holds to another."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources = [r for r in resources if r["custom"] and not r["type"].startswith("pulumi:providers:")]

    def of(self, typ: str) -> list[Resource]:
        return [r for r in self.resources if r["type"] == typ]

    def find(self, ref: Any) -> Resource:
        """The resource an input refers to, by its id or ARN."""
        for r in self.resources:
            if ref in (r["id"], r["state"].get("arn")):
                return r
        raise LookupError(f"no recorded resource has the id or ARN {ref!r}")


Pricer = Callable[[Resource, Recorded, PriceTable], list[Line]]


def _hourly(table: PriceTable, key: str) -> tuple[float, Price]:
    price = table.price(key)
    return price.usd * table.hours, price


# --- compute -----------------------------------------------------------------------------------------


def capacity_split(tasks: int, strategies: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Tasks per capacity provider, as ECS places them: each provider's base first, the rest by weight.

    With no strategy the service runs on FARGATE. Shares can be fractional (1 task at weights 1:1 is half
    a task on each): an expected cost, where ECS would round one way or the other.
    """
    strategies = list(strategies)
    if not strategies:
        return {"FARGATE": float(tasks)}
    placed = {str(s["capacityProvider"]): 0.0 for s in strategies}
    remaining = float(tasks)
    for s in strategies:
        take = min(float(s.get("base") or 0), remaining)
        placed[str(s["capacityProvider"])] += take
        remaining -= take
    weights = {str(s["capacityProvider"]): float(s.get("weight") or 0) for s in strategies}
    total = sum(weights.values())
    for provider, weight in weights.items():
        placed[provider] += remaining * weight / total if total else 0.0
    return placed


def _fargate(service: Resource, stack: Recorded, table: PriceTable) -> list[Line]:
    inputs = service["inputs"]
    task = stack.find(inputs["taskDefinition"])["inputs"]
    vcpu, gb = int(task["cpu"]) / 1024, int(task["memory"]) / 1024
    vcpu_price, gb_price = table.price("fargate_vcpu_hour"), table.price("fargate_gb_hour")
    task_month = (vcpu * vcpu_price.usd + gb * gb_price.usd) * table.hours
    tasks = int(inputs.get("desiredCount") or 0)
    placed = capacity_split(tasks, inputs.get("capacityProviderStrategies") or [])
    size = f"{vcpu:g} vCPU / {gb:g} GB"
    lines = []
    prices = (vcpu_price, gb_price)
    if placed.get("FARGATE"):
        lines.append(Line(service["name"], "Fargate", f"task, {size}", placed["FARGATE"], task_month, prices))
    if placed.get("FARGATE_SPOT"):
        discount = table.assumption("fargate_spot_discount")
        spot_month = task_month * (1 - discount)
        what, basis = f"Spot task, {size}", f"Spot: {discount:.0%} off"
        lines.append(Line(service["name"], "Fargate", what, placed["FARGATE_SPOT"], spot_month, prices, basis))
    if (inputs.get("networkConfiguration") or {}).get("assignPublicIp") is True:
        # Each task's ENI gets its own public IPv4 address, billed like any other.
        month, ipv4 = _hourly(table, "public_ipv4_hour")
        lines.append(Line(service["name"], "Public IPv4 addresses", "task public IP", tasks, month, (ipv4,)))
    return lines


def _container_insights(cluster: Resource, stack: Recorded, table: PriceTable) -> list[Line]:
    settings = {s["name"]: s["value"] for s in cluster["inputs"].get("settings") or []}
    mode = settings.get("containerInsights", "disabled")
    if mode not in ("enabled", "enhanced"):
        return []
    refs = {cluster["id"], cluster["state"].get("arn"), cluster["inputs"].get("name")}
    services = [s for s in stack.of(SERVICE) if s["inputs"].get("cluster") in refs]
    tasks = {s["name"]: int(s["inputs"].get("desiredCount") or 0) for s in services}
    definitions = {s["name"]: stack.find(s["inputs"]["taskDefinition"])["inputs"] for s in services}
    families = {d["family"] for d in definitions.values()}
    containers = sum(len(_json_list(definitions[name]["containerDefinitions"])) * n for name, n in tasks.items())
    metric = table.price("custom_metric_month")

    def per(key: str) -> float:
        return table.assumption(f"container_insights_{key}_metrics")

    name = cluster["name"]
    count = per("cluster") + per("service") * len(services) + per("task_family") * len(families)
    lines = [Line(name, "CloudWatch", f"Container Insights metric ({mode})", count, metric.usd, (metric,))]
    if mode == "enhanced":
        extra = per("enhanced_task") * sum(tasks.values()) + per("enhanced_container") * containers
        what, basis = "Container Insights task and container metric", "AWS bills these per observation"
        lines.append(Line(name, "CloudWatch", what, extra, metric.usd, (metric,), basis))
    logs = table.price("logs_ingest_gb")
    gb = table.assumption("container_insights_log_gb_per_task_month") * sum(tasks.values())
    lines.append(Line(name, "CloudWatch", "GB of Container Insights performance logs", gb, logs.usd, (logs,)))
    return lines


def _json_list(value: Any) -> list[Any]:
    decoded = json.loads(value) if isinstance(value, str) else value
    return list(decoded or [])


# --- network -----------------------------------------------------------------------------------------


def _load_balancer(alb: Resource, stack: Recorded, table: PriceTable) -> list[Line]:
    inputs = alb["inputs"]
    if inputs.get("loadBalancerType", "application") != "application":
        raise MissingPrice(f"{alb['name']}: only Application Load Balancers are priced (add the others' prices)")
    month, hour = _hourly(table, "alb_hour")
    lines = [Line(alb["name"], "Load balancer", "Application Load Balancer", 1, month, (hour,))]
    if not inputs.get("internal"):
        # An internet-facing ALB holds one public IPv4 address per zone (more while it scales up).
        month, ipv4 = _hourly(table, "public_ipv4_hour")
        zones = len(inputs.get("subnets") or inputs.get("subnetMappings") or [])
        lines.append(Line(alb["name"], "Public IPv4 addresses", "load balancer public IP", zones, month, (ipv4,)))
    return lines


def _nat_gateway(nat: Resource, stack: Recorded, table: PriceTable) -> list[Line]:
    month, hour = _hourly(table, "nat_gateway_hour")
    return [Line(nat["name"], "NAT gateways", "NAT gateway", 1, month, (hour,))]


def _elastic_ip(eip: Resource, stack: Recorded, table: PriceTable) -> list[Line]:
    month, ipv4 = _hourly(table, "public_ipv4_hour")
    return [Line(eip["name"], "Public IPv4 addresses", "Elastic IP (NAT)", 1, month, (ipv4,))]


def _vpc_endpoint(endpoint: Resource, stack: Recorded, table: PriceTable) -> list[Line]:
    inputs = endpoint["inputs"]
    if inputs.get("vpcEndpointType", "Gateway") != "Interface":
        return []  # gateway endpoints (S3, DynamoDB) have no charge
    month, hour = _hourly(table, "interface_endpoint_hour")
    zones = len(inputs.get("subnetIds") or [])
    return [Line(endpoint["name"], "VPC endpoints", "interface endpoint, per zone", zones, month, (hour,))]


# --- data, secrets, monitoring -----------------------------------------------------------------------


def _cache(group: Resource, stack: Recorded, table: PriceTable) -> list[Line]:
    inputs = group["inputs"]
    engine, node_type = str(inputs.get("engine", "redis")), str(inputs["nodeType"])
    price = table.cache_node_hour(engine, node_type)
    nodes = int(inputs.get("numCacheClusters") or 1)
    what = f"{node_type} node ({engine})"
    return [Line(group["name"], "Cache", what, nodes, price.usd * table.hours, (price,))]


def _kms_key(key: Resource, stack: Recorded, table: PriceTable) -> list[Line]:
    price = table.price("kms_key_month")
    return [Line(key["name"], "KMS and Secrets Manager", "KMS key", 1, price.usd, (price,))]


def _secret(secret: Resource, stack: Recorded, table: PriceTable) -> list[Line]:
    price = table.price("secret_month")
    return [Line(secret["name"], "KMS and Secrets Manager", "secret", 1, price.usd, (price,))]


def _alarm(alarm: Resource, stack: Recorded, table: PriceTable) -> list[Line]:
    inputs = alarm["inputs"]
    queries = [q for q in inputs.get("metricQueries") or [] if q.get("metric")]
    # A metric-math alarm pays for each metric it reads; periods under a minute are high resolution.
    periods = [inputs.get("period")] + [q["metric"].get("period") for q in queries]
    high = any(p is not None and float(p) < 60 for p in periods)
    price = table.price("alarm_metric_month_high_resolution" if high else "alarm_metric_month")
    return [Line(alarm["name"], "CloudWatch", "alarm metric", max(1, len(queries)), price.usd, (price,))]


def _dashboard(dashboard: Resource, stack: Recorded, table: PriceTable) -> list[Line]:
    price = table.price("dashboard_month")
    return [Line(dashboard["name"], "CloudWatch", "dashboard", 1, price.usd, (price,))]


def _repository(repository: Resource, stack: Recorded, table: PriceTable) -> list[Line]:
    price = table.price("ecr_storage_gb_month")
    gb = table.assumption("ecr_image_storage_gb")
    return [Line(repository["name"], "ECR", "GB of images", gb, price.usd, (price,))]


PRICED: Final[Mapping[str, Pricer]] = {
    SERVICE: _fargate,
    "aws:ecs/cluster:Cluster": _container_insights,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/eip:Eip": _elastic_ip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:elasticache/replicationGroup:ReplicationGroup": _cache,
    "aws:kms/key:Key": _kms_key,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:ecr/repository:Repository": _repository,
}

# What each type costs once traffic flows (keys of aws_prices.json's per_use); some types cost only this.
PER_USE: Final[Mapping[str, tuple[str, ...]]] = {
    "aws:lb/loadBalancer:LoadBalancer": ("alb_lcu_hour", "data_transfer_out_gb"),
    "aws:alb/loadBalancer:LoadBalancer": ("alb_lcu_hour", "data_transfer_out_gb"),
    "aws:ec2/natGateway:NatGateway": ("nat_gateway_gb",),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("interface_endpoint_gb",),
    # The service's EMF lines go to its log group; CloudWatch bills the metrics it extracts from them.
    "aws:cloudwatch/logGroup:LogGroup": ("logs_ingest_gb", "logs_storage_gb_month", "service_metric_month"),
    "aws:s3/bucket:Bucket": ("s3_gb_month",),
    "aws:s3/bucketV2:BucketV2": ("s3_gb_month",),
    "aws:sns/topic:Topic": ("sns_publish_million",),
    "aws:secretsmanager/secret:Secret": ("secrets_api_10k",),
    "aws:kms/key:Key": ("kms_requests_10k",),
}

_NETWORK = "no charge for the VPC's own plumbing"
_S3 = "bucket configuration; the bucket's storage is per use"
_IAM = "IAM has no charge"
FREE: Final[Mapping[str, str]] = {
    "aws:ec2/vpc:Vpc": _NETWORK,
    "aws:ec2/subnet:Subnet": _NETWORK,
    "aws:ec2/routeTable:RouteTable": _NETWORK,
    "aws:ec2/route:Route": _NETWORK,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _NETWORK,
    "aws:ec2/internetGateway:InternetGateway": "no hourly charge; data out is per use, on the load balancer",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "security groups have no charge",
    "aws:ec2/securityGroup:SecurityGroup": "security groups have no charge",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "security groups have no charge",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "security groups have no charge",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "security groups have no charge",
    "aws:ecs/taskDefinition:TaskDefinition": "priced through the service that runs it (Fargate)",
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": "no charge; the tasks are priced on the service",
    "aws:elasticache/subnetGroup:SubnetGroup": "no charge; the nodes are priced on the replication group",
    "aws:lb/targetGroup:TargetGroup": "included in the load balancer's hours and capacity units",
    "aws:lb/listener:Listener": "included in the load balancer's hours and capacity units",
    "aws:lb/listenerRule:ListenerRule": "included in the load balancer's hours and capacity units",
    "aws:iam/role:Role": _IAM,
    "aws:iam/rolePolicy:RolePolicy": _IAM,
    "aws:iam/policy:Policy": _IAM,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _IAM,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _IAM,
    "aws:kms/alias:Alias": "aliases have no charge",
    "aws:secretsmanager/secretVersion:SecretVersion": "versions are part of the secret's monthly price",
    "aws:s3/bucketPolicy:BucketPolicy": _S3,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _S3,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _S3,
    "aws:s3/bucketVersioning:BucketVersioning": _S3,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _S3,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _S3,
    "aws:sns/topicPolicy:TopicPolicy": "no charge; notifications are per use, on the topic",
    "aws:sns/topicSubscription:TopicSubscription": "no charge; notifications are per use, on the topic",
    "aws:appautoscaling/target:Target": "Application Auto Scaling has no charge",
    "aws:appautoscaling/policy:Policy": "Application Auto Scaling has no charge (its alarms are AWS-managed)",
    "aws:budgets/budget:Budget": "budgets without actions or reports have no charge",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "no charge; image storage is priced on the repository",
    "aws:acm/certificate:Certificate": "public ACM certificates have no charge",
    "aws:acm/certificateValidation:CertificateValidation": "not an AWS resource: Pulumi waits for validation",
    "aws:route53/record:Record": "no charge, nor for queries to alias records; the zone is not this stack's",
    "docker-build:index:Image": "a local build; its storage is priced on the ECR repository",
    "random:index/randomPassword:RandomPassword": "generated by Pulumi, not AWS",
}


def estimate(
    stack: str, resources: Iterable[Resource], table: PriceTable, overrides: Mapping[str, str] | None = None
) -> Estimate:
    """Price what one program run recorded. Raises `UnpricedResource` on a type the tables do not cover."""
    recorded = Recorded(resources)
    lines: list[Line] = []
    per_use: dict[str, Price] = {}
    for resource in recorded.resources:
        typ = resource["type"]
        if typ not in PRICED and typ not in PER_USE and typ not in FREE:
            raise UnpricedResource(
                f"{typ} ({resource['name']}) has no price: add a pricer to PRICED in infra/pricing/estimate.py, "
                "its per-use prices to PER_USE, or, if AWS charges nothing for it, the reason to FREE"
            )
        if typ in PRICED:
            lines += PRICED[typ](resource, recorded, table)
        for key in PER_USE.get(typ, ()):
            per_use.setdefault(key, table.per_use(key))
    return Estimate(stack, lines, list(per_use.values()), table, dict(overrides or {}))
