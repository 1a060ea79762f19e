"""Security groups and every rule between them, in one file so reachability is reviewed in one place.

internet --80/443--> ALB --CONTAINER_PORT--> tasks --6379--> cache
                                             tasks --443--> internet (OpenAI, AWS APIs via NAT)

The tasks' group admits the load balancer's group and nothing else, so it holds whether tasks sit behind
NAT or in public subnets with public IPs (natGateways: none); the policy pack's ecs-no-public-ip checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.project import component_type
from service.contract import CONTAINER_PORT

CACHE_PORT = 6379


@dataclass
class FirewallArgs:
    """Inputs of `Firewall`."""

    vpc_id: pulumi.Input[str]
    """The VPC the groups belong to."""


class Firewall(pulumi.ComponentResource):
    """Security groups for the load balancer, the service tasks and the cache."""

    alb_sg_id: pulumi.Output[str]
    service_sg_id: pulumi.Output[str]
    cache_sg_id: pulumi.Output[str]

    def __init__(self, name: str, args: FirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(component_type("Firewall"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Groups are created without inline rules: the rules below are separate resources so each
        # one is reviewable, and inline plus separate rules would fight over the same group.
        alb = aws.ec2.SecurityGroup(
            f"{name}-alb", vpc_id=args.vpc_id, description="Load balancer: HTTP/HTTPS from anywhere", opts=child
        )
        service = aws.ec2.SecurityGroup(
            f"{name}-service", vpc_id=args.vpc_id, description="API tasks: only the load balancer", opts=child
        )
        cache = aws.ec2.SecurityGroup(
            f"{name}-cache", vpc_id=args.vpc_id, description="Cache: only the API tasks", opts=child
        )

        # IPv4 only: the load balancer is IPv4-only (ipAddressType ipv4), so an IPv6 rule would open nothing
        # today and everything the day someone turns on dual-stack without reading this file.
        for port, description in (
            (80, "Public HTTP (redirects to HTTPS once a certificate is set)"),
            (443, "Public HTTPS"),
        ):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-alb-in-{port}-ipv4",
                security_group_id=alb.id,
                description=description,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4="0.0.0.0/0",
                opts=child,
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-alb-out-service",
            security_group_id=alb.id,
            description="Forward to the API tasks",
            ip_protocol="tcp",
            from_port=CONTAINER_PORT,
            to_port=CONTAINER_PORT,
            referenced_security_group_id=service.id,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-service-in-alb",
            security_group_id=service.id,
            description="Requests and health checks from the load balancer",
            ip_protocol="tcp",
            from_port=CONTAINER_PORT,
            to_port=CONTAINER_PORT,
            referenced_security_group_id=alb.id,
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-service-out-https",
            security_group_id=service.id,
            description="OpenAI and AWS APIs over HTTPS (through NAT, VPC endpoints, or the task's public IP)",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4="0.0.0.0/0",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-service-out-cache",
            security_group_id=service.id,
            description="Cache (TLS)",
            ip_protocol="tcp",
            from_port=CACHE_PORT,
            to_port=CACHE_PORT,
            referenced_security_group_id=cache.id,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-cache-in-service",
            security_group_id=cache.id,
            description="Cache clients: the API tasks only",
            ip_protocol="tcp",
            from_port=CACHE_PORT,
            to_port=CACHE_PORT,
            referenced_security_group_id=service.id,
            opts=child,
        )

        self.alb_sg_id = alb.id
        self.service_sg_id = service.id
        self.cache_sg_id = cache.id
        self.register_outputs(
            {"alb_sg_id": self.alb_sg_id, "service_sg_id": self.service_sg_id, "cache_sg_id": self.cache_sg_id}
        )
