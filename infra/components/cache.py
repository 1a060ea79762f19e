"""ElastiCache (Valkey or Redis OSS) replication group for the service's cache and rate limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from infra.components.firewall import CACHE_PORT
from infra.project import component_type


@dataclass
class CacheArgs:
    """Inputs of `Cache`."""

    subnet_ids: list[pulumi.Output[str]]
    """Private subnets, one per zone."""
    security_group_id: pulumi.Input[str]
    """Admits only the service's security group (see `Firewall`)."""
    kms_key_arn: pulumi.Input[str]
    """Encrypts data at rest and snapshots."""
    auth_token: pulumi.Input[str]
    """AUTH token (secret); clients must present it over TLS."""
    engine: Literal["valkey", "redis"] = "valkey"
    engine_version: str = "8.0"
    node_type: str = "cache.t4g.micro"
    nodes: int = 1
    """1: a single node. 2 or more: a primary and replicas, automatic failover, Multi-AZ."""
    snapshot_retention_days: int = 0
    final_snapshot_name: str | None = None
    """Set (prod): Pulumi `protect` on the group, a snapshot of this name before any deletion, and
    changes applied in the maintenance window instead of at once."""


class Cache(pulumi.ComponentResource):
    """A TLS-only, AUTH-protected, KMS-encrypted replication group in private subnets."""

    url: pulumi.Output[str]
    """`rediss://<primary endpoint>:6379/0`, with no credentials in it."""
    replication_group_id: pulumi.Output[str]
    member_clusters: pulumi.Output[Sequence[str]]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(component_type("Cache"), name, None, opts)
        if args.nodes < 1:
            raise ValueError("nodes must be at least 1")
        child = pulumi.ResourceOptions(parent=self)
        replicated = args.nodes >= 2

        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets", description="Private subnets for the cache", subnet_ids=args.subnet_ids, opts=child
        )
        group = aws.elasticache.ReplicationGroup(
            f"{name}-rg",
            description="Response cache and rate limits for the OpenAI API service",
            engine=args.engine,
            engine_version=args.engine_version,
            node_type=args.node_type,
            num_cache_clusters=args.nodes,
            port=CACHE_PORT,
            automatic_failover_enabled=replicated,
            multi_az_enabled=replicated,
            subnet_group_name=subnets.name,
            security_group_ids=[args.security_group_id],
            at_rest_encryption_enabled=True,
            kms_key_id=args.kms_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=pulumi.Output.secret(args.auth_token),
            snapshot_retention_limit=args.snapshot_retention_days,
            snapshot_window="03:00-04:00" if args.snapshot_retention_days else None,
            maintenance_window="sun:05:00-sun:06:00",
            auto_minor_version_upgrade=True,
            # A node-type or version change restarts nodes; a protected cache waits for its window.
            apply_immediately=args.final_snapshot_name is None,
            final_snapshot_identifier=args.final_snapshot_name,
            opts=pulumi.ResourceOptions(parent=self, protect=args.final_snapshot_name is not None),
        )

        self.url = group.primary_endpoint_address.apply(lambda host: f"rediss://{host}:{CACHE_PORT}/0")
        self.replication_group_id = group.id
        self.member_clusters = group.member_clusters
        self.register_outputs(
            {
                "url": self.url,
                "replication_group_id": self.replication_group_id,
                "member_clusters": self.member_clusters,
            }
        )
