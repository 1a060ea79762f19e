"""Pricing what the program records: every type covered, and each rule on the smallest case that shows it."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest

from infra.pricing.estimate import FREE, PER_USE, PRICED, UnpricedResource, capacity_split, estimate
from infra.pricing.prices import PRICES_FILE, MissingPrice, load
from tests.infra.conftest import Run

TABLE = load()


def res(typ: str, name: str, inputs: dict[str, Any], rid: str | None = None) -> dict[str, Any]:
    """A resource as infra/mocks.py records it (the update phase: the state holds the ARN)."""
    rid = rid or f"{name}-id"
    return {"type": typ, "name": name, "id": rid, "inputs": inputs, "state": {"arn": f"arn:{rid}"}, "custom": True}


def task_definition(cpu: int = 512, memory: int = 1024, containers: int = 1) -> dict[str, Any]:
    definitions = json.dumps([{"name": f"c{i}"} for i in range(containers)])
    inputs = {"cpu": str(cpu), "memory": str(memory), "family": "api", "containerDefinitions": definitions}
    return res("aws:ecs/taskDefinition:TaskDefinition", "task", inputs)


def service(tasks: int, *, public_ip: bool = False, strategies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    inputs = {
        "cluster": "arn:cluster-id",
        "taskDefinition": "arn:task-id",
        "desiredCount": tasks,
        "networkConfiguration": {"assignPublicIp": public_ip},
        "capacityProviderStrategies": strategies or [],
    }
    return res("aws:ecs/service:Service", "service", inputs)


def monthly(*resources: dict[str, Any]) -> dict[str, float]:
    """Each billed `what` and its monthly dollars, for these resources alone."""
    totals: dict[str, float] = {}
    for line in estimate("test", resources, TABLE).lines:
        totals[line.what] = totals.get(line.what, 0.0) + line.monthly
    return totals


# --- coverage ----------------------------------------------------------------------------------------------


def test_every_type_the_program_records_is_priced_per_use_or_free(run: Run) -> None:
    priced = estimate(run.stack, run.resources, TABLE)
    assert priced.total > 0
    recorded = {r["type"] for r in run.resources if r["custom"] and not r["type"].startswith("pulumi:providers:")}
    assert recorded <= set(PRICED) | set(PER_USE) | set(FREE)


def test_a_billable_type_nobody_priced_stops_the_estimate() -> None:
    database = res("aws:rds/instance:Instance", "db", {"instanceClass": "db.t4g.micro"})
    with pytest.raises(UnpricedResource, match=r"aws:rds/instance:Instance \(db\) has no price.*FREE"):
        estimate("test", [database], TABLE)


def test_free_types_say_why_and_are_not_also_billed() -> None:
    assert all(reason.strip() for reason in FREE.values())
    assert set(FREE).isdisjoint(set(PRICED) | set(PER_USE))


def test_the_price_table_is_dated_and_every_price_names_its_source() -> None:
    raw = json.loads(PRICES_FILE.read_text())
    assert date.fromisoformat(raw["taken_on"]) <= date.today()
    assert raw["region"] == "us-east-1"
    assert "re-check" in raw["checked"]
    for section in ("prices", "per_use"):
        for key, entry in raw[section].items():
            assert entry["usd"] > 0, key
            assert entry["per"], key
            assert re.match(r"https://aws\.amazon\.com/\S+/pricing/", entry["source"]), key
    for key, entry in raw["assumptions"].items():
        assert entry["why"], key
    assert raw["elasticache_node_hour"]["source"].startswith("https://aws.amazon.com/elasticache/pricing/")


# --- the rules -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tasks", "strategies", "expected"),
    [
        (2, [], {"FARGATE": 2}),
        # staging: everything above a base of 0 on Spot
        (1, [{"capacityProvider": "FARGATE_SPOT", "weight": 100}], {"FARGATE_SPOT": 1}),
        # prod: an on-demand base of 2 covers both tasks
        (2, [{"capacityProvider": "FARGATE", "base": 2, "weight": 100}], {"FARGATE": 2}),
        # the base first, then the rest by weight
        (
            4,
            [
                {"capacityProvider": "FARGATE", "base": 1, "weight": 0},
                {"capacityProvider": "FARGATE_SPOT", "weight": 100},
            ],
            {"FARGATE": 1, "FARGATE_SPOT": 3},
        ),
        (
            4,
            [{"capacityProvider": "FARGATE", "weight": 1}, {"capacityProvider": "FARGATE_SPOT", "weight": 1}],
            {"FARGATE": 2, "FARGATE_SPOT": 2},
        ),
    ],
)
def test_tasks_split_between_on_demand_and_spot_as_ecs_places_them(
    tasks: int, strategies: list[dict[str, Any]], expected: dict[str, float]
) -> None:
    assert {k: v for k, v in capacity_split(tasks, strategies).items() if v} == expected


def test_fargate_prices_vcpu_and_memory_hours_with_the_spot_discount() -> None:
    hours = TABLE.hours
    on_demand = (0.5 * TABLE.price("fargate_vcpu_hour").usd + 1 * TABLE.price("fargate_gb_hour").usd) * hours
    spot = [{"capacityProvider": "FARGATE_SPOT", "weight": 100}]
    assert monthly(task_definition(), service(1)) == {"task, 0.5 vCPU / 1 GB": pytest.approx(on_demand)}
    discounted = monthly(task_definition(), service(1, strategies=spot))["Spot task, 0.5 vCPU / 1 GB"]
    assert discounted == pytest.approx(on_demand * (1 - TABLE.assumption("fargate_spot_discount")))


def test_each_task_with_a_public_ip_pays_for_its_address() -> None:
    address = TABLE.price("public_ipv4_hour").usd * TABLE.hours
    assert "task public IP" not in monthly(task_definition(), service(3))
    assert monthly(task_definition(), service(3, public_ip=True))["task public IP"] == pytest.approx(3 * address)


def test_an_internet_facing_load_balancer_pays_for_one_address_per_zone() -> None:
    public = res("aws:lb/loadBalancer:LoadBalancer", "alb", {"subnets": ["a", "b", "c"]})
    internal = res("aws:lb/loadBalancer:LoadBalancer", "alb", {"subnets": ["a", "b"], "internal": True})
    address = TABLE.price("public_ipv4_hour").usd * TABLE.hours
    assert monthly(public)["load balancer public IP"] == pytest.approx(3 * address)
    assert "load balancer public IP" not in monthly(internal)
    network = res("aws:lb/loadBalancer:LoadBalancer", "nlb", {"loadBalancerType": "network", "subnets": ["a"]})
    with pytest.raises(MissingPrice, match="only Application Load Balancers"):
        estimate("test", [network], TABLE)


def test_alarms_pay_per_metric_and_more_below_a_minute() -> None:
    metric = {"metric": {"metricName": "m", "namespace": "n", "period": 60, "stat": "Sum"}}
    math = {"metricQueries": [metric, metric, metric, {"id": "rate", "expression": "m1 / m2"}]}
    alarm = "aws:cloudwatch/metricAlarm:MetricAlarm"
    assert monthly(res(alarm, "a", math))["alarm metric"] == pytest.approx(3 * TABLE.price("alarm_metric_month").usd)
    fast = monthly(res(alarm, "a", {"metricName": "m", "period": 10}))["alarm metric"]
    assert fast == TABLE.price("alarm_metric_month_high_resolution").usd


def test_interface_endpoints_pay_per_zone_and_gateway_endpoints_nothing() -> None:
    endpoint = "aws:ec2/vpcEndpoint:VpcEndpoint"
    interface = {"vpcEndpointType": "Interface", "serviceName": "com.amazonaws.us-east-1.logs", "subnetIds": ["a", "b"]}
    gateway = {"vpcEndpointType": "Gateway", "serviceName": "com.amazonaws.us-east-1.s3"}
    hourly = TABLE.price("interface_endpoint_hour").usd * TABLE.hours
    assert monthly(res(endpoint, "logs", interface)) == {"interface endpoint, per zone": pytest.approx(2 * hourly)}
    assert monthly(res(endpoint, "s3", gateway)) == {}


def test_cache_nodes_are_priced_by_engine_and_an_unknown_node_type_names_the_file() -> None:
    group = "aws:elasticache/replicationGroup:ReplicationGroup"
    valkey = monthly(res(group, "c", {"engine": "valkey", "nodeType": "cache.t4g.small", "numCacheClusters": 2}))
    redis = monthly(res(group, "c", {"engine": "redis", "nodeType": "cache.t4g.small", "numCacheClusters": 2}))
    assert valkey["cache.t4g.small node (valkey)"] < redis["cache.t4g.small node (redis)"]
    with pytest.raises(MissingPrice, match=f"cache.r7g.large in {PRICES_FILE.name}"):
        estimate("test", [res(group, "c", {"engine": "valkey", "nodeType": "cache.r7g.large"})], TABLE)


def cluster(mode: str) -> dict[str, Any]:
    settings = [{"name": "containerInsights", "value": mode}]
    return res("aws:ecs/cluster:Cluster", "cluster", {"name": "c", "settings": settings})


def test_container_insights_enhanced_adds_metrics_per_task_and_container() -> None:
    metric = TABLE.price("custom_metric_month").usd

    def insights(mode: str, tasks: int, containers: int = 1) -> float:
        lines = monthly(cluster(mode), task_definition(containers=containers), service(tasks))
        return sum(v for k, v in lines.items() if "metric" in k)

    standard = sum(TABLE.assumption(f"container_insights_{k}_metrics") for k in ("cluster", "service", "task_family"))
    assert insights("enabled", 1) == insights("enabled", 5) == pytest.approx(standard * metric)
    per_task = TABLE.assumption("container_insights_enhanced_task_metrics")
    per_container = TABLE.assumption("container_insights_enhanced_container_metrics")
    assert insights("enhanced", 2, containers=2) == pytest.approx(
        (standard + 2 * per_task + 4 * per_container) * metric
    )
    assert monthly(cluster("disabled"), task_definition(), service(1)).keys() == {"task, 0.5 vCPU / 1 GB"}


def test_per_use_prices_are_listed_not_added() -> None:
    nat = res("aws:ec2/natGateway:NatGateway", "nat", {})
    logs = res("aws:cloudwatch/logGroup:LogGroup", "logs", {"retentionInDays": 30})
    priced = estimate("test", [nat, logs], TABLE)
    assert priced.total == pytest.approx(TABLE.price("nat_gateway_hour").usd * TABLE.hours)
    assert {p.key for p in priced.per_use} == {
        "nat_gateway_gb",
        "logs_ingest_gb",
        "logs_storage_gb_month",
        "service_metric_month",
    }
