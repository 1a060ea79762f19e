"""Network and firewall: what is private, what the internet reaches, which zones."""

from __future__ import annotations

from infra.mocks import DEFAULT_ACCOUNT
from infra.project import PROJECT
from service.contract import (
    CONTAINER_PORT,
)
from tests.infra.conftest import ACCOUNTS, FAKE_OPENAI_KEY, PROD_CERTIFICATE, Programs, Run, run_once


def _subnet_ids(run: Run, tier: str) -> set[str]:
    return {s["id"] for s in run.of("aws:ec2/subnet:Subnet") if s["inputs"]["tags"]["tier"] == tier}


def test_the_cache_is_private_and_no_subnet_hands_out_public_ips(run: Run) -> None:
    assert all(s["inputs"].get("mapPublicIpOnLaunch") is not True for s in run.of("aws:ec2/subnet:Subnet"))
    assert set(run.inputs("aws:elasticache/subnetGroup:SubnetGroup")["subnetIds"]) == _subnet_ids(run, "private")
    assert set(run.inputs("aws:lb/loadBalancer:LoadBalancer")["subnets"]) == _subnet_ids(run, "public")


def test_prod_tasks_are_private_behind_one_nat_per_zone(prod: Run) -> None:
    network = prod.inputs("aws:ecs/service:Service")["networkConfiguration"]
    assert network["assignPublicIp"] is False
    assert set(network["subnets"]) == _subnet_ids(prod, "private")
    nats = prod.of("aws:ec2/natGateway:NatGateway")
    assert len({n["inputs"]["subnetId"] for n in nats}) == len(nats) == 3
    routes = [r["inputs"] for r in prod.of("aws:ec2/route:Route") if "natGatewayId" in r["inputs"]]
    assert {r["natGatewayId"] for r in routes} == {n["id"] for n in nats}


def test_staging_has_no_nat_and_its_tasks_get_public_ips_in_the_public_subnets(staging: Run) -> None:
    assert staging.of("aws:ec2/natGateway:NatGateway") == []
    assert staging.of("aws:ec2/eip:Eip") == []
    network = staging.inputs("aws:ecs/service:Service")["networkConfiguration"]
    assert network["assignPublicIp"] is True
    assert set(network["subnets"]) == _subnet_ids(staging, "public")
    # The cache's subnets have no route out at all; only the public route table reaches the internet.
    defaults = [r["inputs"] for r in staging.of("aws:ec2/route:Route")]
    assert [(r["destinationCidrBlock"], "gatewayId" in r) for r in defaults] == [("0.0.0.0/0", True)]


def test_only_the_alb_is_open_to_the_internet_and_only_on_80_and_443(run: Run) -> None:
    alb_groups = set(run.inputs("aws:lb/loadBalancer:LoadBalancer")["securityGroups"])
    world = [
        r["inputs"]
        for r in run.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r["inputs"].get("cidrIpv4") == "0.0.0.0/0" or r["inputs"].get("cidrIpv6") == "::/0"
    ]
    assert all("cidrIpv6" not in w for w in world), "the ALB is IPv4-only; an IPv6 rule opens nothing it serves"
    assert {(w["fromPort"], w["toPort"]) for w in world} == {(80, 80), (443, 443)}
    assert {w["securityGroupId"] for w in world} == alb_groups
    assert all(not r["inputs"].get("ingress") for r in run.of("aws:ec2/securityGroup:SecurityGroup"))


def test_cache_admits_only_the_service_security_group(run: Run) -> None:
    cache_groups = run.inputs("aws:elasticache/replicationGroup:ReplicationGroup")["securityGroupIds"]
    service_groups = run.inputs("aws:ecs/service:Service")["networkConfiguration"]["securityGroups"]
    rules = [
        r["inputs"]
        for r in run.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r["inputs"]["securityGroupId"] in cache_groups
    ]
    assert rules
    assert all(r.get("referencedSecurityGroupId") in service_groups for r in rules)
    assert all(r["fromPort"] == r["toPort"] == 6379 for r in rules)


def test_service_admits_only_the_alb_on_the_container_port(run: Run) -> None:
    service_groups = run.inputs("aws:ecs/service:Service")["networkConfiguration"]["securityGroups"]
    alb_groups = run.inputs("aws:lb/loadBalancer:LoadBalancer")["securityGroups"]
    rules = [
        r["inputs"]
        for r in run.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r["inputs"]["securityGroupId"] in service_groups
    ]
    assert [(r["referencedSecurityGroupId"] in alb_groups, r["fromPort"], r["toPort"]) for r in rules] == [
        (True, CONTAINER_PORT, CONTAINER_PORT)
    ]


def test_vpc_endpoints_only_when_switched_on(staging: Run, programs: Programs) -> None:
    """prod-full: VPC endpoints, with the S3 gateway on the route tables of the subnets the tasks run in."""
    assert staging.of("aws:ec2/vpcEndpoint:VpcEndpoint") == []
    endpoints = [e["inputs"] for e in programs["prod-full"].of("aws:ec2/vpcEndpoint:VpcEndpoint")]
    services = sorted(e["serviceName"].removeprefix("com.amazonaws.us-east-1.") for e in endpoints)
    assert services == ["ecr.api", "ecr.dkr", "logs", "s3", "secretsmanager"]
    interface = [e for e in endpoints if e["vpcEndpointType"] == "Interface"]
    assert all(e["privateDnsEnabled"] is True for e in interface)
    (s3,) = [e for e in endpoints if e["vpcEndpointType"] == "Gateway"]
    private_tables = {
        r["id"] for r in programs["prod-full"].of("aws:ec2/routeTable:RouteTable") if "private" in r["name"]
    }
    assert set(s3["routeTableIds"]) == private_tables


def test_subnets_use_the_first_zones_that_need_no_opt_in(run: Run) -> None:
    standard = sorted(
        z["name"].format(region="us-east-1")
        for z in ACCOUNTS.get(run.variant, DEFAULT_ACCOUNT)["zones"]
        if z["optInStatus"] == "opt-in-not-required"
    )
    count = 3 if run.stack == "prod" else 2
    used = {s["inputs"]["availabilityZone"] for s in run.of("aws:ec2/subnet:Subnet")}
    assert used == set(standard[:count])


def test_a_region_with_too_few_standard_zones_stops_the_program_naming_azcount() -> None:
    two_zones = {
        "zones": [
            {"name": "{region}-bos-1a", "optInStatus": "opted-in"},
            {"name": "{region}a", "optInStatus": "opt-in-not-required"},
            {"name": "{region}b", "optInStatus": "opt-in-not-required"},
        ],
        "oidcProviders": [],
    }
    error = run_once("prod", {"openaiApiKey": FAKE_OPENAI_KEY, "certificateArn": PROD_CERTIFICATE}, two_zones)["error"]
    assert error.startswith(f"ConfigError: {PROJECT}:azCount: us-east-1 offers this account 2 ")
    assert "Fix: set azCount to 2 or less" in error


def test_without_nat_the_s3_endpoint_serves_the_public_route_table_the_tasks_use() -> None:
    resources = run_once("staging", {"openaiApiKey": FAKE_OPENAI_KEY, "vpcEndpoints": "true"})["resources"]
    tables = {r["name"]: r["id"] for r in resources if r["type"] == "aws:ec2/routeTable:RouteTable"}
    (s3,) = [r["inputs"] for r in resources if r["name"] == "net-s3"]
    assert s3["routeTableIds"] == [tables["net-public-rt"]]
