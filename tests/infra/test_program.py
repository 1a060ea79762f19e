"""The program's resources for both stacks, as recorded under mocks: security, timing, stack differences."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import config
from service.contract import (
    CONTAINER_PORT,
    ECS_MAX_STOP_TIMEOUT_SECONDS,
    HEALTH_PATH,
    METRIC_DIMENSION,
    Env,
    Metrics,
)
from service.settings import Settings, hash_client_key
from tests.infra.conftest import CI_IMAGE, FAKE_OPENAI_KEY, ROOT, Programs, Run

STACKS = ["staging", "prod"]
ALL = ["staging", "prod", "prod-full", "staging-reuse"]
MOCK_TOKEN = "MOCKREDISAUTHTOKEN"  # prefix of the mocked RandomPassword result
# How a secret input is serialized (pulumi's rpc): {SECRET_SIG_KEY: SECRET_SIG, "value": ...}.
SECRET_SIG_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


def _statements(document: str) -> list[dict[str, Any]]:
    return list(json.loads(document)["Statement"])


@pytest.fixture(params=ALL)
def run(request: pytest.FixtureRequest, programs: Programs) -> Run:
    return programs[request.param]


# --- the program itself ----------------------------------------------------------------------------


def test_every_aws_resource_uses_the_tagged_us_provider(run: Run) -> None:
    provider = run.one("pulumi:providers:aws")
    assert provider["inputs"]["region"] == "us-east-1"
    tags = provider["inputs"]["defaultTags"]
    tags = json.loads(tags) if isinstance(tags, str) else tags
    assert tags["tags"] == {"project": "openai-aws-template", "environment": run.stack, "managed-by": "pulumi"}
    ours = f"{provider['id']}"
    custom = [r for r in run.resources if r["custom"] and r["type"].startswith("aws:")]
    assert custom
    # A provider reference is "<provider urn>::<provider id>"; the urn ends in "pulumi:providers:aws::aws".
    strays = [r["name"] for r in custom if not (r["provider"] or "").endswith(f"pulumi:providers:aws::aws::{ours}")]
    assert strays == [], "resources on the default (untagged) provider"


def test_invokes_go_through_mocks_not_aws(run: Run) -> None:
    assert "aws:index/getAvailabilityZones:getAvailabilityZones" in run.invokes


def test_outputs_are_the_documented_ones_and_none_is_secret(run: Run) -> None:
    assert set(run.outputs) == {
        "service_url",
        "ecr_repository_url",
        "cluster_name",
        "service_name",
        "log_group_name",
        "dashboard_url",
        "deploy_role_arn",
    }
    assert not any(o["secret"] for o in run.outputs.values())
    dumped = json.dumps(run.outputs)
    assert FAKE_OPENAI_KEY not in dumped
    assert MOCK_TOKEN not in dumped


def test_secret_values_reach_only_secret_stores(run: Run) -> None:
    allowed = {
        "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:elasticache/replicationGroup:ReplicationGroup",  # authToken, stored by Pulumi as a secret
    }
    for r in run.resources:
        dumped = json.dumps(r["inputs"])
        if FAKE_OPENAI_KEY in dumped or MOCK_TOKEN in dumped:
            assert r["type"] in allowed, f"{r['type']} {r['name']} carries a secret value"


# --- network ---------------------------------------------------------------------------------------


def test_tasks_and_cache_are_private(run: Run) -> None:
    subnets = run.of("aws:ec2/subnet:Subnet")
    assert all(s["inputs"].get("mapPublicIpOnLaunch") is not True for s in subnets)
    private_ids = {s["id"] for s in subnets if s["inputs"]["tags"]["tier"] == "private"}
    service = run.inputs("aws:ecs/service:Service")
    assert service["networkConfiguration"]["assignPublicIp"] is False
    assert set(service["networkConfiguration"]["subnets"]) == private_ids
    assert set(run.inputs("aws:elasticache/subnetGroup:SubnetGroup")["subnetIds"]) == private_ids
    public_ids = {s["id"] for s in subnets if s["inputs"]["tags"]["tier"] == "public"}
    assert set(run.inputs("aws:lb/loadBalancer:LoadBalancer")["subnets"]) == public_ids


def test_only_the_alb_is_open_to_the_internet_and_only_on_80_and_443(run: Run) -> None:
    alb_groups = set(run.inputs("aws:lb/loadBalancer:LoadBalancer")["securityGroups"])
    world = [
        r["inputs"]
        for r in run.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r["inputs"].get("cidrIpv4") == "0.0.0.0/0" or r["inputs"].get("cidrIpv6") == "::/0"
    ]
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


# --- secrets and cache -------------------------------------------------------------------------------


def test_kms_key_rotates_and_encrypts_secrets_cache_logs_images_and_topic(run: Run) -> None:
    key = run.one("aws:kms/key:Key")
    assert key["inputs"]["enableKeyRotation"] is True
    key_arn = key["state"]["arn"]
    for secret in run.of("aws:secretsmanager/secret:Secret"):
        assert secret["inputs"]["kmsKeyId"] == key_arn
    assert run.inputs("aws:elasticache/replicationGroup:ReplicationGroup")["kmsKeyId"] == key_arn
    assert run.inputs("aws:cloudwatch/logGroup:LogGroup")["kmsKeyId"] == key_arn
    assert run.inputs("aws:sns/topic:Topic")["kmsMasterKeyId"] == key_arn
    assert run.inputs("aws:ecr/repository:Repository")["encryptionConfigurations"][0]["kmsKey"] == key_arn


def test_cache_requires_tls_and_auth_and_is_encrypted(run: Run) -> None:
    cache = run.inputs("aws:elasticache/replicationGroup:ReplicationGroup")
    assert cache["engine"] == "valkey"
    assert cache["transitEncryptionEnabled"] is True
    assert cache["atRestEncryptionEnabled"] is True
    assert _secret_value(cache["authToken"]).startswith(MOCK_TOKEN)


def _secret_value(value: Any) -> str:
    """The plain value of an input Pulumi marked secret; fails if it was not marked."""
    assert isinstance(value, dict), f"not marked secret: {value!r}"
    assert value.get(SECRET_SIG_KEY) == SECRET_SIG, f"not marked secret: {value!r}"
    return str(value["value"])


def test_secret_values_are_marked_secret_in_state(run: Run) -> None:
    versions = {
        v["name"]: v["inputs"]["secretString"] for v in run.of("aws:secretsmanager/secretVersion:SecretVersion")
    }
    assert _secret_value(versions["secrets-redis-auth-token-value"]).startswith(MOCK_TOKEN)
    assert _secret_value(versions["secrets-client-api-keys-value"]) == "{}"
    if "secrets-openai-api-key-value" in versions:
        assert _secret_value(versions["secrets-openai-api-key-value"]) == FAKE_OPENAI_KEY


def test_service_gets_a_rediss_url_without_credentials(run: Run) -> None:
    url = run.environment()[Env.REDIS_URL]
    assert url.startswith("rediss://master.")
    assert url.endswith(":6379/0")
    assert "@" not in url


def test_secrets_are_injected_by_arn_and_never_as_plain_environment(run: Run) -> None:
    container = run.container()
    secret_arns = {s["name"]: s["state"]["arn"] for s in run.of("aws:secretsmanager/secret:Secret")}
    injected = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert set(injected) == {Env.CLIENT_API_KEYS, Env.REDIS_AUTH_TOKEN}
    assert injected[Env.CLIENT_API_KEYS] == secret_arns["secrets-client-api-keys"]
    assert injected[Env.REDIS_AUTH_TOKEN] == secret_arns["secrets-redis-auth-token"]
    env = run.environment()
    assert Env.OPENAI_API_KEY not in env
    assert Env.REDIS_AUTH_TOKEN not in env
    assert env[Env.OPENAI_API_KEY_SECRET_ARN].startswith("arn:aws:secretsmanager:")


def test_existing_openai_secret_is_used_instead_of_creating_one(programs: Programs) -> None:
    run = programs["staging-reuse"]
    arn = run.config["openai-aws-template:openaiApiKeySecretArn"]
    assert run.environment()[Env.OPENAI_API_KEY_SECRET_ARN] == arn
    assert "secrets-openai-api-key" not in {s["name"] for s in run.of("aws:secretsmanager/secret:Secret")}


# --- task definition, roles, service ---------------------------------------------------------------


def test_container_is_hardened(run: Run) -> None:
    c = run.container()
    assert c["readonlyRootFilesystem"] is True
    assert c["user"].split(":")[0] not in ("", "0", "root")
    assert c["privileged"] is False
    scratch = {"containerPath": "/tmp", "readOnly": False, "sourceVolume": "tmp"}  # noqa: S108 (in the container)
    assert scratch in c["mountPoints"]
    assert c["portMappings"] == [{"containerPort": CONTAINER_PORT, "protocol": "tcp"}]
    probe = " ".join(c["healthCheck"]["command"])
    assert f"127.0.0.1:{CONTAINER_PORT}{HEALTH_PATH}" in probe
    assert c["logConfiguration"]["options"]["awslogs-group"] == run.inputs("aws:cloudwatch/logGroup:LogGroup")["name"]
    assert "command" not in c  # the image's default command


def test_container_environment_follows_the_contract(run: Run) -> None:
    env = run.environment()
    assert env[Env.ENVIRONMENT] == run.stack
    assert env[Env.PORT] == str(CONTAINER_PORT)
    assert env[Env.AWS_REGION] == "us-east-1"
    assert env[Env.WEB_CONCURRENCY] == ("4" if run.stack == "prod" else "2")
    assert env[Env.LOG_LEVEL] == "info"


def test_log_group_has_retention(run: Run) -> None:
    assert run.inputs("aws:cloudwatch/logGroup:LogGroup")["retentionInDays"] == (90 if run.stack == "prod" else 30)


def _role_policy(run: Run, role_name: str) -> list[dict[str, Any]]:
    role = next(r for r in run.of("aws:iam/role:Role") if r["name"] == role_name)
    policy = next(p for p in run.of("aws:iam/rolePolicy:RolePolicy") if p["inputs"]["role"] == role["id"])
    return _statements(policy["inputs"]["policy"])


def test_execution_and_task_roles_are_separate_and_least_privilege(run: Run) -> None:
    task_def = run.inputs("aws:ecs/taskDefinition:TaskDefinition")
    assert task_def["executionRoleArn"] != task_def["taskRoleArn"]
    secrets = {s["name"]: s["state"]["arn"] for s in run.of("aws:secretsmanager/secret:Secret")}
    key_arn = run.one("aws:kms/key:Key")["state"]["arn"]

    execution = {s["Sid"]: s for s in _role_policy(run, "api-execution")}
    assert execution["InjectedSecrets"]["Resource"] == [
        secrets["secrets-client-api-keys"],
        secrets["secrets-redis-auth-token"],
    ]
    assert execution["DecryptSecrets"]["Resource"] == key_arn
    assert execution["PullOurImage"]["Resource"] == run.one("aws:ecr/repository:Repository")["state"]["arn"]

    task = _role_policy(run, "api-task")
    actions = sorted(a for s in task for a in s["Action"])
    assert actions == ["kms:Decrypt", "secretsmanager:GetSecretValue"]
    openai_arn = run.environment()[Env.OPENAI_API_KEY_SECRET_ARN]
    assert {s["Sid"]: s["Resource"] for s in task} == {"ReadOpenAIKey": openai_arn, "DecryptOpenAIKey": key_arn}


def test_service_deploys_safely_and_keeps_the_autoscaled_count(run: Run) -> None:
    service = run.one("aws:ecs/service:Service")
    inputs = service["inputs"]
    assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    alarms = inputs["alarms"]
    assert alarms["enable"] is True
    assert alarms["rollback"] is True
    alarm_names = {a["inputs"]["name"] for a in run.of("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert set(alarms["alarmNames"]) <= alarm_names
    assert inputs["healthCheckGracePeriodSeconds"] == 60
    assert inputs["loadBalancers"][0]["containerPort"] == CONTAINER_PORT
    cluster = run.inputs("aws:ecs/cluster:Cluster")
    assert {"name": "containerInsights", "value": "enhanced"} in cluster["settings"]


def test_desired_count_is_left_to_autoscaling_after_the_first_deploy(run: Run) -> None:
    assert run.one("aws:ecs/service:Service")["ignoreChanges"] == ["desiredCount"]


def test_service_waits_for_spot_capacity_and_for_the_listener(run: Run) -> None:
    dependencies = run.one("aws:ecs/service:Service")["dependencies"]
    assert any(d.endswith("::api-capacity") for d in dependencies)
    listeners = [li["name"] for li in run.of("aws:lb/listener:Listener")]
    assert listeners
    for listener in listeners:
        assert any(d.endswith(f"aws:lb/listener:Listener::{listener}") for d in dependencies)
    for alarm in ("alb-5xx-rate", "unhealthy-hosts"):
        assert any(d.endswith(f"::monitoring-{alarm}") for d in dependencies)


def test_client_keys_edited_outside_pulumi_are_not_reset(run: Run) -> None:
    version = next(
        v
        for v in run.of("aws:secretsmanager/secretVersion:SecretVersion")
        if v["name"] == "secrets-client-api-keys-value"
    )
    assert version["ignoreChanges"] == ["secretString"]


def test_every_resource_is_parented_to_a_component_or_the_stack(run: Run) -> None:
    components = {r["type"] for r in run.resources if not r["custom"]}
    assert components >= {"openai-aws-template:index:Network", "openai-aws-template:index:ApiService"}
    stray = [r["name"] for r in run.resources if r["custom"] and r["type"] != "pulumi:providers:aws"
             and "openai-aws-template:index:" not in r["parent"]]  # fmt: skip
    assert stray == []


def test_autoscaling_tracks_cpu_and_requests_within_configured_bounds(run: Run) -> None:
    target = run.inputs("aws:appautoscaling/target:Target")
    expected = (2, 10) if run.stack == "prod" else (1, 2)
    assert (target["minCapacity"], target["maxCapacity"]) == expected
    assert run.inputs("aws:ecs/service:Service")["desiredCount"] == expected[0]
    metrics = {
        p["inputs"]["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"]["predefinedMetricType"]
        for p in run.of("aws:appautoscaling/policy:Policy")
    }
    assert metrics == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}


# --- timing: one budget drives every timeout --------------------------------------------------------


def test_streaming_timeouts_agree(run: Run) -> None:
    env = run.environment()
    stream = int(env[Env.MAX_STREAM_SECONDS])
    heartbeat = int(env[Env.SSE_HEARTBEAT_SECONDS])
    graceful = int(env[Env.GRACEFUL_TIMEOUT])
    idle = run.inputs("aws:lb/loadBalancer:LoadBalancer")["idleTimeout"]
    deregistration = int(run.inputs("aws:lb/targetGroup:TargetGroup")["deregistrationDelay"])
    stop = run.container()["stopTimeout"]
    assert heartbeat < idle
    assert stream <= deregistration
    assert stream <= graceful < stop <= ECS_MAX_STOP_TIMEOUT_SECONDS


def test_changing_max_stream_moves_every_timeout_together() -> None:
    def get(overrides: dict[str, str]) -> config.StackConfig:
        values = {"aws:region": "us-east-1", "openaiApiKey": "x", **overrides}
        return config.parse(values.get, "staging")

    short, long_ = get({"maxStreamSeconds": "30"}).budget, get({"maxStreamSeconds": "100"}).budget
    assert short.alb_idle_timeout_seconds < long_.alb_idle_timeout_seconds
    assert short.deregistration_delay_seconds < long_.deregistration_delay_seconds
    assert short.stop_timeout_seconds < long_.stop_timeout_seconds


# --- load balancer ---------------------------------------------------------------------------------


def test_alb_is_hardened_and_logs_to_an_encrypted_expiring_bucket(run: Run) -> None:
    alb = run.inputs("aws:lb/loadBalancer:LoadBalancer")
    assert alb["dropInvalidHeaderFields"] is True
    assert alb["internal"] is False
    bucket = run.one("aws:s3/bucket:Bucket")
    assert alb["accessLogs"]["enabled"] is True
    assert alb["accessLogs"]["bucket"] == bucket["state"]["bucket"]
    pab = run.inputs("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    sse = run.inputs("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    lifecycle = run.inputs("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert lifecycle["rules"][0]["expiration"]["days"] == (365 if run.stack == "prod" else 90)


def test_target_group_checks_health_path(run: Run) -> None:
    tg = run.inputs("aws:lb/targetGroup:TargetGroup")
    assert tg["healthCheck"]["path"] == HEALTH_PATH
    assert tg["port"] == CONTAINER_PORT
    assert tg["targetType"] == "ip"


@pytest.mark.parametrize("variant", ["staging", "prod"])
def test_without_a_certificate_http_serves_and_a_warning_says_so(programs: Programs, variant: str) -> None:
    run = programs[variant]
    listeners = run.of("aws:lb/listener:Listener")
    assert [(li["inputs"]["protocol"], li["inputs"]["defaultActions"][0]["type"]) for li in listeners] == [
        ("HTTP", "forward")
    ]
    assert any("plain HTTP" in w for w in run.warnings)
    assert run.outputs["service_url"]["value"].startswith("http://")


@pytest.mark.parametrize("variant", ["prod-full", "staging-reuse"])
def test_with_a_certificate_https_serves_tls12_and_http_redirects(programs: Programs, variant: str) -> None:
    run = programs[variant]
    listeners = {li["inputs"]["protocol"]: li["inputs"] for li in run.of("aws:lb/listener:Listener")}
    assert set(listeners) == {"HTTP", "HTTPS"}
    assert listeners["HTTPS"]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listeners["HTTPS"]["defaultActions"][0]["type"] == "forward"
    redirect = listeners["HTTP"]["defaultActions"][0]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"]["protocol"] == "HTTPS"
    assert not any("plain HTTP" in w for w in run.warnings)
    assert run.outputs["service_url"]["value"].startswith("https://")


def test_domain_gets_an_issued_certificate_and_an_alias_record(programs: Programs) -> None:
    run = programs["prod-full"]
    assert run.inputs("aws:acm/certificate:Certificate")["validationMethod"] == "DNS"
    records = {r["inputs"]["type"]: r["inputs"] for r in run.of("aws:route53/record:Record")}
    assert records["A"]["name"] == "api.example.com"
    assert run.outputs["service_url"]["value"] == "https://api.example.com"
    https = next(li for li in run.of("aws:lb/listener:Listener") if li["inputs"]["protocol"] == "HTTPS")
    validation = run.one("aws:acm/certificateValidation:CertificateValidation")
    assert https["inputs"]["certificateArn"] == validation["state"]["certificateArn"]


# --- image -----------------------------------------------------------------------------------------


def test_repository_scans_and_keeps_tags_immutable(run: Run) -> None:
    repo = run.inputs("aws:ecr/repository:Repository")
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    rules = json.loads(run.inputs("aws:ecr/lifecyclePolicy:LifecyclePolicy")["policy"])["rules"]
    assert len(rules) >= 1


@pytest.mark.parametrize("variant", ["staging", "prod"])
def test_without_an_image_the_repo_dockerfile_is_built_and_pushed(programs: Programs, variant: str) -> None:
    run = programs[variant]
    image = run.inputs("docker-build:index:Image")
    assert image["context"]["location"] == str(ROOT)
    assert image["dockerfile"]["location"] == str(ROOT / "Dockerfile")
    assert image["push"] is True
    assert image["platforms"] == ["linux/amd64"]
    repo_url = run.one("aws:ecr/repository:Repository")["state"]["repositoryUrl"]
    assert image["tags"][0].startswith(f"{repo_url}:local-")
    assert run.container()["image"].startswith(f"{repo_url}:local-")
    assert "@sha256:" in run.container()["image"]


def test_with_an_image_digest_nothing_is_built(programs: Programs) -> None:
    run = programs["prod-full"]
    assert run.of("docker-build:index:Image") == []
    assert run.container()["image"] == CI_IMAGE


# --- observability and cost ------------------------------------------------------------------------


def test_alarms_cover_alb_service_cache_and_app_metrics_and_notify_the_topic(run: Run) -> None:
    alarms = {
        a["inputs"]["name"].removeprefix(f"openai-aws-template-{run.stack}-"): a["inputs"]
        for a in run.of("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    nodes = 2 if run.stack == "prod" else 1
    expected = {"alb-5xx-rate", "unhealthy-hosts", "target-p99-latency", "ecs-cpu-high", "ecs-memory-high"}
    expected |= {"upstream-rate-limited", "spend-soft-limit"}
    expected |= {f"cache-{n}-{m}" for n in range(1, nodes + 1) for m in ("cpu", "memory", "evictions")}
    assert set(alarms) == expected
    topic = run.one("aws:sns/topic:Topic")["state"]["arn"]
    assert all(a["alarmActions"] == [topic] for a in alarms.values())
    assert alarms["upstream-rate-limited"]["namespace"] == Metrics.NAMESPACE
    assert alarms["upstream-rate-limited"]["metricName"] == Metrics.UPSTREAM_RATE_LIMITED
    assert alarms["spend-soft-limit"]["metricName"] == Metrics.SPEND_SOFT_LIMIT_REACHED
    assert alarms["spend-soft-limit"]["dimensions"] == {METRIC_DIMENSION: run.stack}
    assert alarms["target-p99-latency"]["extendedStatistic"] == "p99"


def test_dashboard_and_budget_exist_per_stack(run: Run) -> None:
    dashboard = run.inputs("aws:cloudwatch/dashboard:Dashboard")
    assert json.loads(dashboard["dashboardBody"])["widgets"]
    assert run.outputs["dashboard_url"]["value"].endswith(dashboard["dashboardName"])
    budget = run.inputs("aws:budgets/budget:Budget")
    assert budget["timeUnit"] == "MONTHLY"
    assert budget["limitAmount"] == ("600" if run.stack == "prod" else "150")
    assert budget["costFilters"] == [{"name": "TagKeyValue", "values": [f"user:environment${run.stack}"]}]
    thresholds = sorted(n["threshold"] for n in budget["notifications"] if n["notificationType"] == "ACTUAL")
    assert thresholds == [50, 80, 100]


def test_alarm_email_subscribes_only_when_configured(programs: Programs) -> None:
    assert programs["staging"].of("aws:sns/topicSubscription:TopicSubscription") == []
    sub = programs["prod-full"].inputs("aws:sns/topicSubscription:TopicSubscription")
    assert (sub["protocol"], sub["endpoint"]) == ("email", "ops@example.com")


# --- GitHub deploys --------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["prod-full", "staging-reuse"])
def test_deploy_role_trust_is_bound_to_the_repository_environment(programs: Programs, variant: str) -> None:
    run = programs[variant]
    role = next(r for r in run.of("aws:iam/role:Role") if r["name"] == "github-role")
    (trust,) = _statements(role["inputs"]["assumeRolePolicy"])
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:acme/openai-api:environment:{run.stack}",
        }
    }
    assert run.outputs["deploy_role_arn"]["value"] == role["state"]["arn"]
    statements = {s["Sid"]: s for s in _role_policy(run, "github-role")}
    repo_arn = run.one("aws:ecr/repository:Repository")["state"]["arn"]
    assert statements["PushToOurRepository"]["Resource"] == repo_arn
    assert statements["RollOutOurService"]["Resource"].endswith(f":service/openai-aws-template-{run.stack}/api")
    assert statements["PassOurTaskRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }


def test_oidc_provider_is_created_unless_an_existing_one_is_given(programs: Programs) -> None:
    assert len(programs["prod-full"].of("aws:iam/openIdConnectProvider:OpenIdConnectProvider")) == 1
    reuse = programs["staging-reuse"]
    assert reuse.of("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    role = next(r for r in reuse.of("aws:iam/role:Role") if r["name"] == "github-role")
    (trust,) = _statements(role["inputs"]["assumeRolePolicy"])
    assert trust["Principal"]["Federated"] == reuse.config["openai-aws-template:githubOidcProviderArn"]


def test_no_deploy_role_without_a_repository(staging: Run) -> None:
    assert staging.outputs["deploy_role_arn"]["value"] is None
    assert all(r["name"] != "github-role" for r in staging.of("aws:iam/role:Role"))


# --- staging and prod differ where they should ------------------------------------------------------


def test_staging_is_small_and_prod_is_redundant(staging: Run, prod: Run) -> None:
    def zones(run: Run) -> int:
        return len({s["inputs"]["availabilityZone"] for s in run.of("aws:ec2/subnet:Subnet")})

    assert (zones(staging), zones(prod)) == (2, 3)
    assert (len(staging.of("aws:ec2/natGateway:NatGateway")), len(prod.of("aws:ec2/natGateway:NatGateway"))) == (
        1,
        3,
    )
    s_cache = staging.inputs("aws:elasticache/replicationGroup:ReplicationGroup")
    p_cache = prod.inputs("aws:elasticache/replicationGroup:ReplicationGroup")
    assert (s_cache["numCacheClusters"], s_cache["automaticFailoverEnabled"], s_cache["multiAzEnabled"]) == (
        1,
        False,
        False,
    )
    assert (p_cache["numCacheClusters"], p_cache["automaticFailoverEnabled"], p_cache["multiAzEnabled"]) == (
        2,
        True,
        True,
    )
    assert s_cache["snapshotRetentionLimit"] == 0
    assert p_cache["snapshotRetentionLimit"] > 0
    assert staging.inputs("aws:lb/loadBalancer:LoadBalancer")["enableDeletionProtection"] is False
    assert prod.inputs("aws:lb/loadBalancer:LoadBalancer")["enableDeletionProtection"] is True
    s_task = staging.inputs("aws:ecs/taskDefinition:TaskDefinition")
    p_task = prod.inputs("aws:ecs/taskDefinition:TaskDefinition")
    assert (s_task["cpu"], s_task["memory"]) != (p_task["cpu"], p_task["memory"])


def test_vpc_endpoints_only_when_switched_on(staging: Run, programs: Programs) -> None:
    assert staging.of("aws:ec2/vpcEndpoint:VpcEndpoint") == []
    endpoints = [e["inputs"] for e in programs["prod-full"].of("aws:ec2/vpcEndpoint:VpcEndpoint")]
    services = sorted(e["serviceName"].removeprefix("com.amazonaws.us-east-1.") for e in endpoints)
    assert services == ["ecr.api", "ecr.dkr", "logs", "s3", "secretsmanager"]
    interface = [e for e in endpoints if e["vpcEndpointType"] == "Interface"]
    assert all(e["privateDnsEnabled"] is True for e in interface)


def test_staging_runs_on_spot_and_prod_on_an_on_demand_base(staging: Run, prod: Run) -> None:
    def strategy(run: Run) -> dict[str, tuple[int, int]]:
        return {
            s["capacityProvider"]: (s.get("base", 0), s["weight"])
            for s in run.inputs("aws:ecs/service:Service")["capacityProviderStrategies"]
        }

    assert strategy(staging) == {"FARGATE_SPOT": (0, 100)}
    assert strategy(prod) == {"FARGATE": (2, 100)}


# What each data source the program reads needs from IAM (None: no permission needed).
_INVOKE_PERMISSIONS: dict[str, str | None] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": "ec2:DescribeAvailabilityZones",
    "aws:index/getCallerIdentity:getCallerIdentity": None,
    "aws:index/getRegion:getRegion": None,
    "aws:index/getPartition:getPartition": None,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": "ecr:GetAuthorizationToken",
}


@pytest.mark.parametrize("variant", ["prod-full", "staging-reuse"])
def test_deploy_role_can_read_every_data_source_the_program_reads(programs: Programs, variant: str) -> None:
    run = programs[variant]
    granted = {action for s in _role_policy(run, "github-role") for action in s["Action"]}
    for token in set(run.invokes):
        assert token in _INVOKE_PERMISSIONS, f"new data source {token}: add its IAM action to the deploy role"
        needed = _INVOKE_PERMISSIONS[token]
        assert needed is None or needed in granted, f"the deploy role cannot call {needed} ({token})"


def test_the_service_accepts_the_environment_each_stack_gives_it(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """The two halves agree end to end: the service's own Settings parse what the task definition sets."""
    for name in {v for k, v in vars(Env).items() if not k.startswith("_")}:
        monkeypatch.delenv(name, raising=False)
    for name, value in run.environment().items():
        monkeypatch.setenv(name, value)
    injected = {s["name"] for s in run.container()["secrets"]}
    assert injected == {Env.CLIENT_API_KEYS, Env.REDIS_AUTH_TOKEN}
    # What Secrets Manager holds once operators add a key (the secret starts as "{}").
    monkeypatch.setenv(Env.CLIENT_API_KEYS, json.dumps({hash_client_key("ci-smoke-key"): "ci-smoke"}))
    monkeypatch.setenv(Env.REDIS_AUTH_TOKEN, "generated-auth-token")

    settings = Settings()

    assert settings.environment == run.stack
    assert settings.port == CONTAINER_PORT
    assert settings.openai_api_key_secret_arn == run.environment()[Env.OPENAI_API_KEY_SECRET_ARN]
    assert settings.openai_api_key is None
    assert settings.redis_url is not None
    assert settings.redis_url.startswith("rediss://")
    assert settings.max_stream_seconds == int(run.environment()[Env.MAX_STREAM_SECONDS])
    assert settings.sse_heartbeat_seconds == float(run.environment()[Env.SSE_HEARTBEAT_SECONDS])
