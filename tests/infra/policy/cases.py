"""Resources for rule tests, in wire form (what a program registers), and a way to ask one rule about them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from infra.policy.rules import RULES, ResourceRule, StackRule
from tests.infra.policy.analyzer import Finding, Resource, analyze, analyze_stack, secret

BY_NAME = {rule.name: rule for rule in RULES}

TASK = "aws:ecs/taskDefinition:TaskDefinition"
ALB = "aws:lb/loadBalancer:LoadBalancer"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
STACK = "pulumi:pulumi:Stack"

Case = Resource | Sequence[Resource]
"""One resource for a resource rule, or the resources of a stack for a stack rule."""


def res(typ: str, props: Mapping[str, Any], name: str = "r") -> Resource:
    return Resource(typ, name, props)


def findings(rule_name: str, case: Case) -> list[Finding]:
    """What the pack reports for `rule_name` on `case`, through pulumi_policy's analyzer servicer."""
    rule = BY_NAME[rule_name]
    if isinstance(rule, ResourceRule):
        assert isinstance(case, Resource), f"{rule_name} is a resource rule: give it one resource"
        found = analyze(case)
    else:
        assert isinstance(rule, StackRule)
        found = analyze_stack([case] if isinstance(case, Resource) else case)
    return [f for f in found if f.policy == rule_name]


def messages(rule_name: str, case: Case) -> list[str]:
    """The rule's own messages (without the policy description the servicer puts first)."""
    return [f.message.partition("\n")[2] for f in findings(rule_name, case)]


def task(**container: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "api",
        "user": "10001",
        "readonlyRootFilesystem": True,
        "logConfiguration": {"logDriver": "awslogs"},
        "environment": [],
    }
    return {
        "executionRoleArn": "arn:aws:iam::1:role/exec",
        "taskRoleArn": "arn:aws:iam::1:role/task",
        "containerDefinitions": json.dumps([{**base, **container}]),
    }


def policy_doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: str | list[str], resources: str | list[str], **more: Any) -> dict[str, Any]:
    return {"Sid": "S", "Effect": "Allow", "Action": actions, "Resource": resources, **more}


def timed_stack(*, idle: int, dereg: int, stream: int, heartbeat: int, graceful: int, stop: int) -> list[Resource]:
    env = [
        {"name": "MAX_STREAM_SECONDS", "value": str(stream)},
        {"name": "SSE_HEARTBEAT_SECONDS", "value": str(heartbeat)},
        {"name": "GRACEFUL_TIMEOUT", "value": str(graceful)},
    ]
    return [
        res(ALB, {"idleTimeout": idle}, "alb"),
        res("aws:lb/targetGroup:TargetGroup", {"deregistrationDelay": dereg}, "tg"),
        res(TASK, task(environment=env, stopTimeout=stop), "task"),
    ]


def oidc_role(condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "assumeRolePolicy": policy_doc(
            {
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        )
    }


EXACT_GITHUB_SUBJECT = {
    "StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:acme/api:environment:prod",
        "token.actions.githubusercontent.com:job_workflow_ref": "acme/api/.github/workflows/deploy.yml@refs/heads/main",
    }
}


def world_ingress(port: int, group: str, *, name: str = "ingress", ipv6: bool = False) -> Resource:
    cidr = {"cidrIpv6": "::/0"} if ipv6 else {"cidrIpv4": "0.0.0.0/0"}
    props = {**cidr, "fromPort": port, "toPort": port, "ipProtocol": "tcp", "securityGroupId": group}
    return res(SG_INGRESS, {**props, "description": "from the internet"}, name)


def alb(group: str, **props: Any) -> Resource:
    return res(ALB, {"securityGroups": [group], **props}, "alb")


def group_ingress(group: str, name: str, **source: Any) -> Resource:
    """An ingress rule on `group` on the container port, from `source` (a group or a CIDR)."""
    props = {"securityGroupId": group, "fromPort": 8000, "toPort": 8000, "ipProtocol": "tcp", **source}
    return res(SG_INGRESS, {**props, "description": "to the tasks"}, name)


def public_tasks(*rules: Resource, public_ip: bool = True) -> list[Resource]:
    """A stack whose ECS service runs tasks in `sg-task` (with public IPs), behind the ALB in `sg-alb`."""
    network = {"assignPublicIp": public_ip, "securityGroups": ["sg-task"], "subnets": ["subnet-public-a"]}
    return [
        alb("sg-alb"),
        res("aws:ec2/securityGroup:SecurityGroup", {"id": "sg-alb", "description": "alb"}, "alb-sg"),
        res("aws:ec2/securityGroup:SecurityGroup", {"id": "sg-task", "description": "tasks"}, "task-sg"),
        res("aws:ecs/service:Service", {"networkConfiguration": network}, "service"),
        *rules,
    ]


BUCKET = res("aws:s3/bucket:Bucket", {"bucket": "logs-1", "id": "logs-1"}, "logs")


def bucket_with(typ: str, **props: Any) -> list[Resource]:
    return [BUCKET, res(typ, {"bucket": "logs-1", **props}, "companion")]


REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
LISTENER = "aws:lb/listener:Listener"
SECRET = "aws:secretsmanager/secret:Secret"
KMS_ARN = "arn:aws:kms:us-east-1:1:key/k"
TAGS = {"project": "p", "environment": "staging", "managed-by": "pulumi"}

# Per rule: a case that breaks it (the rule must report it) and one that keeps it (it must not).
VIOLATING: dict[str, Case] = {
    "us-region-only": res("pulumi:providers:aws", {"region": "eu-west-1"}),
    "provider-default-tags": res("pulumi:providers:aws", {"region": "us-east-1", "defaultTags": {"tags": {}}}),
    "streaming-timeouts-agree": timed_stack(idle=100, dereg=95, stream=90, heartbeat=15, graceful=95, stop=95),
    "world-ingress-http-https-only": world_ingress(22, "sg-1"),
    "world-ingress-alb-only": [alb("sg-alb"), world_ingress(443, "sg-task", name="task-open")],
    "world-ipv6-ingress-dualstack-only": [alb("sg-alb", ipAddressType="ipv4"), world_ingress(443, "sg-alb", ipv6=True)],
    "no-secret-outputs": res(STACK, {"redis_auth_token": "abc123", "url": "https://x"}),
    "ecs-secrets-not-in-environment": res(TASK, task(environment=[{"name": "OPENAI_API_KEY", "value": "sk-x"}])),
    "ecs-non-root-user": res(TASK, task(user="0")),
    "ecs-deployment-rollback": res("aws:ecs/service:Service", {"deploymentCircuitBreaker": {"enable": True}}),
    "ecs-container-logging": res(TASK, task(logConfiguration=None)),
    "elasticache-multi-az": res(REPLICATION_GROUP, {"automaticFailoverEnabled": False, "multiAzEnabled": False}),
    "alb-https-only": res(LISTENER, {"protocol": "HTTP", "port": 80, "defaultActions": [{"type": "forward"}]}),
    "alb-tls12": res(LISTENER, {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"}),
    "alb-drop-invalid-headers": res(ALB, {"loadBalancerType": "application"}),
    "alb-access-logs": res(ALB, {"accessLogs": {"bucket": "b", "enabled": False}}),
    "alb-deletion-protection": res(ALB, {"enableDeletionProtection": False}),
    "alb-waf": [res(ALB, {}, "alb")],
    "ecs-container-insights": res(
        "aws:ecs/cluster:Cluster", {"settings": [{"name": "containerInsights", "value": "disabled"}]}
    ),
    # Public IPs on tasks whose group also admits the VPC's range (a bastion, say), not just the ALB.
    "ecs-no-public-ip": public_tasks(
        group_ingress("sg-task", "from-alb", referencedSecurityGroupId="sg-alb"),
        group_ingress("sg-task", "from-vpc", cidrIpv4="10.0.0.0/16"),
    ),
    "ecs-read-only-root": res(TASK, task(readonlyRootFilesystem=False)),
    "ecs-not-privileged": res(TASK, task(privileged=True)),
    "ecs-separate-roles": res(TASK, {**task(), "taskRoleArn": "arn:aws:iam::1:role/exec"}),
    "elasticache-at-rest-encryption": res(REPLICATION_GROUP, {"atRestEncryptionEnabled": False}),
    "elasticache-in-transit-encryption": res(REPLICATION_GROUP, {"transitEncryptionEnabled": False}),
    "elasticache-auth-token": res(REPLICATION_GROUP, {"transitEncryptionEnabled": True}),
    "elasticache-cmk": res(REPLICATION_GROUP, {"atRestEncryptionEnabled": True}),
    "elasticache-backups": res(REPLICATION_GROUP, {"snapshotRetentionLimit": 0}),
    "secrets-cmk": res(SECRET, {"name": "openai"}),
    "secrets-rotation": [res(SECRET, {"id": "arn:s", "arn": "arn:s"}, "s")],
    "kms-key-rotation": res("aws:kms/key:Key", {"enableKeyRotation": False}),
    "ecr-immutable-tags": res("aws:ecr/repository:Repository", {"imageTagMutability": "MUTABLE"}),
    "ecr-scan-on-push": res("aws:ecr/repository:Repository", {"imageScanningConfiguration": {"scanOnPush": False}}),
    "ecr-cmk": res("aws:ecr/repository:Repository", {"encryptionConfigurations": [{"encryptionType": "AES256"}]}),
    "log-retention": res("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 0}),
    "log-retention-one-year": res("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30}),
    "log-group-cmk": res("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30}),
    "sns-encrypted": res("aws:sns/topic:Topic", {}),
    "subnet-no-public-ip": res("aws:ec2/subnet:Subnet", {"mapPublicIpOnLaunch": True}),
    "security-group-descriptions": res(SG_INGRESS, {"fromPort": 443, "toPort": 443, "ipProtocol": "tcp"}),
    "iam-no-wildcard-actions": res("aws:iam/rolePolicy:RolePolicy", {"policy": policy_doc(allow("s3:*", "arn:b"))}),
    "iam-scoped-writes": res("aws:iam/policy:Policy", {"policy": policy_doc(allow(["sns:Publish"], "*"))}),
    "github-oidc-trust-bound": res(
        "aws:iam/role:Role",
        oidc_role(
            {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"},
            }
        ),
    ),
    "s3-public-access-block": [BUCKET],
    "s3-encryption": [BUCKET],
    "s3-lifecycle": [BUCKET],
    "s3-versioning": [BUCKET],
    "vpc-flow-logs": [res("aws:ec2/vpc:Vpc", {"id": "vpc-1"}, "vpc")],
}

COMPLIANT: dict[str, Case] = {
    "us-region-only": res("pulumi:providers:aws", {"region": "us-east-1"}),
    # A provider's nested inputs reach the engine as JSON strings.
    "provider-default-tags": res(
        "pulumi:providers:aws", {"region": "us-east-1", "defaultTags": json.dumps({"tags": TAGS})}
    ),
    "streaming-timeouts-agree": timed_stack(idle=100, dereg=95, stream=90, heartbeat=15, graceful=95, stop=105),
    "world-ingress-http-https-only": world_ingress(443, "sg-1"),
    "world-ingress-alb-only": [alb("sg-alb"), world_ingress(443, "sg-alb")],
    "world-ipv6-ingress-dualstack-only": [
        alb("sg-alb", ipAddressType="dualstack"),
        world_ingress(443, "sg-alb", ipv6=True),
    ],
    "no-secret-outputs": res(STACK, {"service_url": "https://x", "openai_key_secret_arn": "arn:aws:secretsmanager:x"}),
    "ecs-secrets-not-in-environment": res(
        TASK,
        task(
            environment=[
                {"name": "OPENAI_API_KEY_SECRET_ARN", "value": "arn:aws:secretsmanager:x"},
                {"name": "CLIENT_TOKENS_PER_MINUTE", "value": "100000"},
            ]
        ),
    ),
    "ecs-non-root-user": res(TASK, task(user="10001:10001")),
    "ecs-deployment-rollback": res(
        "aws:ecs/service:Service", {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    ),
    "ecs-container-logging": res(TASK, task()),
    "elasticache-multi-az": res(REPLICATION_GROUP, {"automaticFailoverEnabled": True, "multiAzEnabled": True}),
    "alb-https-only": res(
        LISTENER,
        {
            "protocol": "HTTP",
            "port": 80,
            "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443"}}],
        },
    ),
    "alb-tls12": res(LISTENER, {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"}),
    "alb-drop-invalid-headers": res(ALB, {"loadBalancerType": "application", "dropInvalidHeaderFields": True}),
    "alb-access-logs": res(ALB, {"accessLogs": {"bucket": "b", "enabled": True}}),
    "alb-deletion-protection": res(ALB, {"enableDeletionProtection": True}),
    "alb-waf": [res(ALB, {}, "alb"), res("aws:wafv2/webAclAssociation:WebAclAssociation", {}, "waf")],
    "ecs-container-insights": res(
        "aws:ecs/cluster:Cluster", {"settings": [{"name": "containerInsights", "value": "enhanced"}]}
    ),
    "ecs-no-public-ip": public_tasks(group_ingress("sg-task", "from-alb", referencedSecurityGroupId="sg-alb")),
    "ecs-read-only-root": res(TASK, task()),
    "ecs-not-privileged": res(TASK, task(privileged=False)),
    "ecs-separate-roles": res(TASK, task()),
    "elasticache-at-rest-encryption": res(REPLICATION_GROUP, {"atRestEncryptionEnabled": True}),
    "elasticache-in-transit-encryption": res(REPLICATION_GROUP, {"transitEncryptionEnabled": True}),
    "elasticache-auth-token": res(
        REPLICATION_GROUP,
        {"transitEncryptionEnabled": True, "authToken": secret("MOCK-AUTH-TOKEN")},
    ),
    "elasticache-cmk": res(REPLICATION_GROUP, {"kmsKeyId": KMS_ARN}),
    "elasticache-backups": res(REPLICATION_GROUP, {"snapshotRetentionLimit": 7}),
    "secrets-cmk": res(SECRET, {"name": "openai", "kmsKeyId": KMS_ARN}),
    "secrets-rotation": [
        res(SECRET, {"id": "arn:s", "arn": "arn:s"}, "s"),
        res("aws:secretsmanager/secretRotation:SecretRotation", {"secretId": "arn:s"}, "rotation"),
    ],
    "kms-key-rotation": res("aws:kms/key:Key", {"enableKeyRotation": True}),
    "ecr-immutable-tags": res("aws:ecr/repository:Repository", {"imageTagMutability": "IMMUTABLE"}),
    "ecr-scan-on-push": res("aws:ecr/repository:Repository", {"imageScanningConfiguration": {"scanOnPush": True}}),
    "ecr-cmk": res(
        "aws:ecr/repository:Repository", {"encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KMS_ARN}]}
    ),
    "log-retention": res("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30}),
    "log-retention-one-year": res("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 365}),
    "log-group-cmk": res("aws:cloudwatch/logGroup:LogGroup", {"kmsKeyId": KMS_ARN}),
    "sns-encrypted": res("aws:sns/topic:Topic", {"kmsMasterKeyId": KMS_ARN}),
    "subnet-no-public-ip": res("aws:ec2/subnet:Subnet", {"mapPublicIpOnLaunch": False}),
    "security-group-descriptions": res(
        SG_INGRESS, {"fromPort": 443, "toPort": 443, "ipProtocol": "tcp", "description": "HTTPS from the ALB"}
    ),
    "iam-no-wildcard-actions": res(
        "aws:iam/rolePolicy:RolePolicy", {"policy": policy_doc(allow(["s3:GetObject"], "arn:aws:s3:::b/*"))}
    ),
    "iam-scoped-writes": res(
        "aws:iam/policy:Policy", {"policy": policy_doc(allow(["sns:Publish"], "arn:aws:sns:us-east-1:1:alarms"))}
    ),
    "github-oidc-trust-bound": res("aws:iam/role:Role", oidc_role(EXACT_GITHUB_SUBJECT)),
    "s3-public-access-block": bucket_with(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        blockPublicAcls=True,
        blockPublicPolicy=True,
        ignorePublicAcls=True,
        restrictPublicBuckets=True,
    ),
    "s3-encryption": bucket_with(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ),
    "s3-lifecycle": bucket_with("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"),
    "s3-versioning": bucket_with("aws:s3/bucketVersioning:BucketVersioning"),
    "vpc-flow-logs": [
        res("aws:ec2/vpc:Vpc", {"id": "vpc-1"}, "vpc"),
        res("aws:ec2/flowLog:FlowLog", {"vpcId": "vpc-1"}, "flow"),
    ],
}
