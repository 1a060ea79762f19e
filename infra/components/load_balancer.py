"""Public ALB: HTTPS (or HTTP while no certificate is configured), target group, access logs, DNS."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.project import component_type
from service.contract import CONTAINER_PORT, HEALTH_PATH, StreamingBudget

# TLS 1.2 minimum, TLS 1.3 preferred, forward-secret ciphers only.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"

# Regions that predate the log-delivery service principal deliver ALB logs from these accounts.
_ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}


@dataclass
class LoadBalancerArgs:
    """Inputs of `LoadBalancer`."""

    vpc_id: pulumi.Input[str]
    public_subnet_ids: list[pulumi.Output[str]]
    security_group_id: pulumi.Input[str]
    """Admits 80/443 only (see `Firewall`)."""
    budget: StreamingBudget
    """Sets the idle timeout and the deregistration delay."""
    region: str
    deletion_protection: bool = False
    access_log_retention_days: int = 90
    domain_name: str | None = None
    hosted_zone_id: str | None = None
    """With `domain_name`: issue a DNS-validated certificate and point the name at the ALB."""
    certificate_arn: str | None = None
    """An existing certificate to serve instead of issuing one."""


class LoadBalancer(pulumi.ComponentResource):
    """ALB with its listeners, target group and access-log bucket."""

    url: pulumi.Output[str]
    alb_arn: pulumi.Output[str]
    alb_arn_suffix: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    listeners: list[aws.lb.Listener]
    """A service registering targets must wait for these (the target group needs a listener first)."""

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(component_type("LoadBalancer"), name, None, opts)
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)

        alb = self._alb(args, *self._access_log_bucket(name, args))
        target_group = self._target_group(args)
        certificate_arn = self._certificate(name, args)
        self.listeners = self._listeners(alb, target_group, certificate_arn)
        host = self._dns(args, alb)

        self.url = pulumi.Output.concat("https" if certificate_arn is not None else "http", "://", host)
        self.alb_arn = alb.arn
        self.alb_arn_suffix = alb.arn_suffix
        self.target_group_arn = target_group.arn
        self.target_group_arn_suffix = target_group.arn_suffix
        self.register_outputs(
            {
                "url": self.url,
                "alb_arn": self.alb_arn,
                "alb_arn_suffix": self.alb_arn_suffix,
                "target_group_arn": self.target_group_arn,
                "target_group_arn_suffix": self.target_group_arn_suffix,
            }
        )

    def _alb(
        self, args: LoadBalancerArgs, logs: aws.s3.Bucket, logs_policy: aws.s3.BucketPolicy
    ) -> aws.lb.LoadBalancer:
        return aws.lb.LoadBalancer(
            f"{self._name}-alb",
            load_balancer_type="application",
            internal=False,
            ip_address_type="ipv4",  # the security group admits IPv4 only (see Firewall)
            subnets=args.public_subnet_ids,
            security_groups=[args.security_group_id],
            # A quiet stream sends a heartbeat well inside this; see StreamingBudget.
            idle_timeout=args.budget.alb_idle_timeout_seconds,
            drop_invalid_header_fields=True,
            desync_mitigation_mode="defensive",
            enable_deletion_protection=args.deletion_protection,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(bucket=logs.bucket, prefix="alb", enabled=True),
            # The ALB checks it can write when logging is switched on, so the policy must exist first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs_policy]),
        )

    def _target_group(self, args: LoadBalancerArgs) -> aws.lb.TargetGroup:
        return aws.lb.TargetGroup(
            f"{self._name}-tg",
            port=CONTAINER_PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=args.vpc_id,
            # A draining task keeps serving its longest stream before it is deregistered.
            deregistration_delay=args.budget.deregistration_delay_seconds,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                # Liveness, not readiness: a cache outage must not drain every task at once.
                path=HEALTH_PATH,
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            opts=self._child,
        )

    def _listeners(
        self, alb: aws.lb.LoadBalancer, target_group: aws.lb.TargetGroup, certificate_arn: pulumi.Input[str] | None
    ) -> list[aws.lb.Listener]:
        forward = [aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)]
        if certificate_arn is None:
            # Only with allowPlainHttp: infra/config.py refuses a stack with neither a certificate nor it.
            pulumi.log.warn(
                "No certificate configured (allowPlainHttp): the API is served over plain HTTP and client keys "
                "travel in clear text. Set domainName and hostedZoneId (or certificateArn) before real traffic.",
                resource=self,
            )
            http = aws.lb.Listener(
                f"{self._name}-http",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=forward,
                opts=self._child,
            )
            return [http]
        https = aws.lb.Listener(
            f"{self._name}-https",
            load_balancer_arn=alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate_arn,
            default_actions=forward,
            routing_http_response_strict_transport_security_header_value="max-age=31536000; includeSubDomains",
            opts=self._child,
        )
        redirect = aws.lb.ListenerDefaultActionRedirectArgs(protocol="HTTPS", port="443", status_code="HTTP_301")
        http = aws.lb.Listener(
            f"{self._name}-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="redirect", redirect=redirect)],
            opts=self._child,
        )
        return [https, http]

    def _dns(self, args: LoadBalancerArgs, alb: aws.lb.LoadBalancer) -> pulumi.Input[str]:
        """The API's host name: `domainName` pointed at the ALB, or the ALB's own name."""
        if args.domain_name is None or args.hosted_zone_id is None:
            return alb.dns_name
        aws.route53.Record(
            f"{self._name}-dns",
            zone_id=args.hosted_zone_id,
            name=args.domain_name,
            type="A",
            aliases=[aws.route53.RecordAliasArgs(name=alb.dns_name, zone_id=alb.zone_id, evaluate_target_health=True)],
            opts=self._child,
        )
        return args.domain_name

    def _certificate(self, name: str, args: LoadBalancerArgs) -> pulumi.Input[str] | None:
        if args.certificate_arn is not None:
            return args.certificate_arn
        if args.domain_name is None or args.hosted_zone_id is None:
            return None
        child = pulumi.ResourceOptions(parent=self)
        cert = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.domain_name,
            validation_method="DNS",
            opts=child,
        )
        option = cert.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-cert-validation",
            zone_id=args.hosted_zone_id,
            name=option.resource_record_name.apply(str),
            type=option.resource_record_type.apply(str),
            records=[option.resource_record_value.apply(str)],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-cert-validated",
            certificate_arn=cert.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )
        return validation.certificate_arn

    def _access_log_bucket(self, name: str, args: LoadBalancerArgs) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(f"{name}-access-logs", force_destroy=not args.deletion_protection, opts=child)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-access-logs-pab",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-access-logs-owner",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs-sse",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    # ALB log delivery only supports SSE-S3; a KMS key would make delivery fail silently.
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-access-logs-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.access_log_retention_days
                    ),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=7
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=1
                    ),
                )
            ],
            opts=child,
        )
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        policy = aws.s3.BucketPolicy(
            f"{name}-access-logs-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, account).apply(
                lambda ba: _log_bucket_policy(ba[0], ba[1], _ELB_LOG_ACCOUNTS[args.region])
            ),
            opts=child,
        )
        return bucket, policy


def _log_bucket_policy(bucket_arn: str, account: str, elb_account: str) -> str:
    objects = f"{bucket_arn}/alb/AWSLogs/{account}/*"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ElbLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{elb_account}:root"},
                    "Action": "s3:PutObject",
                    "Resource": objects,
                },
                {
                    "Sid": "ElbLogDeliveryService",
                    "Effect": "Allow",
                    "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": objects,
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )
