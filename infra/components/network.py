"""VPC with public subnets for the load balancer and private subnets for the cache and (behind NAT) the tasks.

Without NAT gateways (`nat_gateway_count=0`, staging's choice) the tasks run in the public subnets and need
public IPs to reach the internet; their security group still admits only the load balancer (firewall.py).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.project import component_type


@dataclass
class NetworkArgs:
    """Inputs of `Network`."""

    cidr: str
    """A private /16; each subnet takes a /20 slice of it."""
    zones: list[str]
    """Zones to spread subnets over (2 or 3), from `standard_zones`."""
    nat_gateway_count: int
    """0 (tasks in the public subnets, with public IPs), 1 (shared NAT) or one per zone (survives a zone outage)."""
    region: str
    """The stack's region, for VPC endpoint service names."""
    vpc_endpoints: bool = False
    """Private endpoints so image pulls, logs and secrets stay off the NAT (costs per endpoint-hour)."""


def standard_zones(opts: pulumi.InvokeOptions) -> list[str]:
    """The region's zones that need no opt-in, in order. Local and Wavelength Zones, which sort first
    once an account opts in, have no NAT gateways or ElastiCache nodes of the kinds used here."""
    return list(
        aws.get_availability_zones(
            state="available",
            filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
            opts=opts,
        ).names
    )


class Network(pulumi.ComponentResource):
    """VPC, subnets, internet and NAT gateways, routes and optional VPC endpoints."""

    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    task_subnet_ids: list[pulumi.Output[str]]
    """Where the tasks run: the private subnets behind NAT, or the public ones when there is no NAT."""
    task_public_ip: bool
    """Whether tasks need a public IP to reach the internet (no NAT)."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(component_type("Network"), name, None, opts)
        if args.nat_gateway_count not in (0, 1, len(args.zones)):
            raise ValueError(f"nat_gateway_count must be 0, 1 or the number of zones ({len(args.zones)})")
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)

        vpc = self._vpc(args)
        public_rt = self._public_route_table(vpc)
        slices = list(ipaddress.ip_network(args.cidr).subnets(new_prefix=20))
        public = [self._subnet("public", i, zone, str(slices[i]), vpc) for i, zone in enumerate(args.zones)]
        private = [self._subnet("private", i, zone, str(slices[8 + i]), vpc) for i, zone in enumerate(args.zones)]
        for i, subnet in enumerate(public):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-rta", subnet_id=subnet.id, route_table_id=public_rt.id, opts=self._child
            )
        nats = self._nat_gateways(args.nat_gateway_count, public)
        private_rts = self._private_route_tables(vpc, private, nats)
        tasks_public = not nats
        if args.vpc_endpoints:
            # Image layers come from S3 through the route tables of the subnets the tasks run in.
            self._endpoints(name, args, vpc, private, [public_rt] if tasks_public else private_rts)

        self.vpc_id = vpc.id
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        self.task_subnet_ids = self.public_subnet_ids if tasks_public else self.private_subnet_ids
        self.task_public_ip = tasks_public
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "task_subnet_ids": self.task_subnet_ids,
            }
        )

    def _vpc(self, args: NetworkArgs) -> aws.ec2.Vpc:
        vpc = aws.ec2.Vpc(
            f"{self._name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,  # interface endpoints and ElastiCache names need private DNS
            enable_dns_support=True,
            tags={"Name": f"{self._name}-vpc"},
            opts=self._child,
        )
        # The default security group admits all traffic between its members; strip its rules so
        # nothing that falls back to it is reachable (checkov CKV2_AWS_12).
        aws.ec2.DefaultSecurityGroup(f"{self._name}-default-sg", vpc_id=vpc.id, opts=self._child)
        return vpc

    def _public_route_table(self, vpc: aws.ec2.Vpc) -> aws.ec2.RouteTable:
        self._igw = aws.ec2.InternetGateway(f"{self._name}-igw", vpc_id=vpc.id, opts=self._child)
        table = aws.ec2.RouteTable(f"{self._name}-public-rt", vpc_id=vpc.id, opts=self._child)
        aws.ec2.Route(
            f"{self._name}-public-default",
            route_table_id=table.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=self._igw.id,
            opts=self._child,
        )
        return table

    def _subnet(self, tier: str, i: int, zone: str, cidr: str, vpc: aws.ec2.Vpc) -> aws.ec2.Subnet:
        return aws.ec2.Subnet(
            f"{self._name}-{tier}-{i}",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            # Nothing gets a public IP by default: the ALB has its own addresses, and tasks without NAT
            # ask for one per task (ECS assignPublicIp), behind a group that admits only the ALB.
            map_public_ip_on_launch=False,
            tags={"Name": f"{self._name}-{tier}-{i}", "tier": tier},
            opts=self._child,
        )

    def _nat_gateways(self, count: int, public: list[aws.ec2.Subnet]) -> list[aws.ec2.NatGateway]:
        nats = []
        for i in range(count):
            eip = aws.ec2.Eip(f"{self._name}-nat-{i}-eip", domain="vpc", opts=self._child)
            nats.append(
                aws.ec2.NatGateway(
                    f"{self._name}-nat-{i}",
                    allocation_id=eip.allocation_id,
                    subnet_id=public[i].id,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[self._igw]),
                )
            )
        return nats

    def _private_route_tables(
        self, vpc: aws.ec2.Vpc, private: list[aws.ec2.Subnet], nats: list[aws.ec2.NatGateway]
    ) -> list[aws.ec2.RouteTable]:
        tables = []
        for i, subnet in enumerate(private):
            table = aws.ec2.RouteTable(f"{self._name}-private-{i}-rt", vpc_id=vpc.id, opts=self._child)
            # Without NAT the private subnets hold only the cache, which needs no way out at all.
            if nats:
                aws.ec2.Route(
                    f"{self._name}-private-{i}-default",
                    route_table_id=table.id,
                    destination_cidr_block="0.0.0.0/0",
                    # With one NAT every zone shares it; with one per zone a zone's traffic stays in it.
                    nat_gateway_id=nats[i % len(nats)].id,
                    opts=self._child,
                )
            aws.ec2.RouteTableAssociation(
                f"{self._name}-private-{i}-rta", subnet_id=subnet.id, route_table_id=table.id, opts=self._child
            )
            tables.append(table)
        return tables

    def _endpoints(
        self,
        name: str,
        args: NetworkArgs,
        vpc: aws.ec2.Vpc,
        private: list[aws.ec2.Subnet],
        task_route_tables: list[aws.ec2.RouteTable],
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
            route_table_ids=[rt.id for rt in task_route_tables],
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
