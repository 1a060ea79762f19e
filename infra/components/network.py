"""VPC with public subnets for the load balancer and private subnets for tasks and the cache."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class NetworkArgs:
    """Inputs of `Network`."""

    cidr: str
    """A private /16; each subnet takes a /20 slice of it."""
    az_count: int
    """Zones to spread subnets over (2 or 3)."""
    nat_gateway_count: int
    """1 (shared NAT, cheaper) or `az_count` (one per zone, survives a zone outage)."""
    region: str
    """The stack's region, for VPC endpoint service names."""
    vpc_endpoints: bool = False
    """Private endpoints so image pulls, logs and secrets stay off the NAT (costs per endpoint-hour)."""


class Network(pulumi.ComponentResource):
    """VPC, subnets, internet and NAT gateways, routes and optional VPC endpoints."""

    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openai-aws-template:index:Network", name, None, opts)
        if args.nat_gateway_count not in (1, args.az_count):
            raise ValueError(f"nat_gateway_count must be 1 or az_count ({args.az_count})")
        child = pulumi.ResourceOptions(parent=self)

        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self)).names
        slices = list(ipaddress.ip_network(args.cidr).subnets(new_prefix=20))

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,  # interface endpoints and ElastiCache names need private DNS
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        # The default security group admits all traffic between its members; strip its rules so
        # nothing that falls back to it is reachable (checkov CKV2_AWS_12).
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, opts=child)

        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)
        public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, opts=child)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )

        public: list[aws.ec2.Subnet] = []
        private: list[aws.ec2.Subnet] = []
        for i in range(args.az_count):
            zone = zones.apply(_nth(i))
            subnet = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=str(slices[i]),
                availability_zone=zone,
                # Only the ALB lives here and it gets its own addresses; nothing else should be public.
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{i}", "tier": "public"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-rta", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child
            )
            public.append(subnet)
            private.append(
                aws.ec2.Subnet(
                    f"{name}-private-{i}",
                    vpc_id=vpc.id,
                    cidr_block=str(slices[8 + i]),
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{name}-private-{i}", "tier": "private"},
                    opts=child,
                )
            )

        nats = []
        for i in range(args.nat_gateway_count):
            eip = aws.ec2.Eip(f"{name}-nat-{i}-eip", domain="vpc", opts=child)
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.allocation_id,
                    subnet_id=public[i].id,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )

        private_rts = []
        for i, subnet in enumerate(private):
            rt = aws.ec2.RouteTable(f"{name}-private-{i}-rt", vpc_id=vpc.id, opts=child)
            aws.ec2.Route(
                f"{name}-private-{i}-default",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                # With one NAT every zone shares it; with one per zone a zone's traffic stays in it.
                nat_gateway_id=nats[i % len(nats)].id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}-rta", subnet_id=subnet.id, route_table_id=rt.id, opts=child
            )
            private_rts.append(rt)

        if args.vpc_endpoints:
            self._endpoints(name, args, vpc, private, private_rts)

        self.vpc_id = vpc.id
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _endpoints(
        self,
        name: str,
        args: NetworkArgs,
        vpc: aws.ec2.Vpc,
        private: list[aws.ec2.Subnet],
        private_rts: list[aws.ec2.RouteTable],
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc.id,
            description="Interface VPC endpoints: HTTPS from inside the VPC only",
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-https",
            security_group_id=sg.id,
            description="HTTPS from the VPC",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=vpc.cidr_block,
            opts=child,
        )
        # S3 is a gateway endpoint: free, and ECR image layers are served from S3.
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            opts=child,
        )
        for service in ("ecr.api", "ecr.dkr", "logs", "secretsmanager"):
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private],
                security_group_ids=[sg.id],
                opts=child,
            )


def _nth(i: int) -> Callable[[Sequence[str]], str]:
    def pick(names: Sequence[str]) -> str:
        return names[i]

    return pick
