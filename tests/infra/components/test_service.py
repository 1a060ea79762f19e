"""The ECS service: container, roles, deployment safety, autoscaling, and the one streaming budget."""

from __future__ import annotations

import json

from infra import capacity, config
from infra.project import PROJECT
from service.contract import (
    CONTAINER_PORT,
    ECS_MAX_STOP_TIMEOUT_SECONDS,
    HEALTH_PATH,
    Env,
)
from tests.infra.conftest import Run
from tests.infra.recorded import role_policy


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


def test_the_stack_files_service_settings_reach_the_container(run: Run) -> None:
    settings = {k.removeprefix(f"{PROJECT}:"): v for k, v in run.config.items()}["serviceSettings"]
    expected = json.loads(settings)
    env = run.environment()
    for name, value in expected.items():
        if isinstance(value, list):
            assert json.loads(env[name]) == value, name
        else:
            assert env[name] == (str(value).lower() if isinstance(value, bool) else str(value)), name
    assert {"CLIENT_REQUESTS_PER_MINUTE", "CLIENT_TOKENS_PER_MINUTE", "ALLOWED_MODELS"} <= set(expected)
    assert {f"BUDGET_{who}_{period}_{kind}_USD" for who in ("CLIENT", "SERVICE") for period in ("DAILY", "MONTHLY")
            for kind in ("SOFT", "HARD")} <= set(expected)  # fmt: skip


def test_roles_decrypt_only_through_secrets_manager(run: Run) -> None:
    via = {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}
    for role in ("api-execution", "api-task"):
        decrypts = [s for s in role_policy(run, role) if "kms:Decrypt" in s["Action"]]
        assert decrypts
        assert all(s["Condition"] == via for s in decrypts), role


def test_pulumi_up_waits_for_the_rollout_to_reach_a_steady_state(run: Run) -> None:
    assert run.inputs("aws:ecs/service:Service")["waitForSteadyState"] is True


def test_prod_protects_its_logs(staging: Run, prod: Run) -> None:
    assert prod.one("aws:cloudwatch/logGroup:LogGroup")["protect"] is True
    assert staging.one("aws:cloudwatch/logGroup:LogGroup")["protect"] is False


def test_log_group_has_retention(run: Run) -> None:
    assert run.inputs("aws:cloudwatch/logGroup:LogGroup")["retentionInDays"] == (90 if run.stack == "prod" else 30)


def test_execution_and_task_roles_are_separate_and_least_privilege(run: Run) -> None:
    task_def = run.inputs("aws:ecs/taskDefinition:TaskDefinition")
    assert task_def["executionRoleArn"] != task_def["taskRoleArn"]
    secrets = {s["name"]: s["state"]["arn"] for s in run.of("aws:secretsmanager/secret:Secret")}
    key_arn = run.one("aws:kms/key:Key")["state"]["arn"]

    execution = {s["Sid"]: s for s in role_policy(run, "api-execution")}
    assert execution["InjectedSecrets"]["Resource"] == [
        secrets["secrets-client-api-keys"],
        secrets["secrets-redis-auth-token"],
    ]
    assert execution["DecryptSecrets"]["Resource"] == key_arn
    assert execution["PullOurImage"]["Resource"] == run.one("aws:ecr/repository:Repository")["state"]["arn"]

    task = role_policy(run, "api-task")
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
    # Staging keeps Container Insights' cluster, service and task-family metrics; prod adds task and container ones.
    mode = "enabled" if run.stack == "staging" else "enhanced"
    assert cluster["settings"] == [{"name": "containerInsights", "value": mode}]


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


def test_the_requests_target_is_what_a_task_of_its_size_serves_at_the_cpu_target(run: Run) -> None:
    goals = {
        p["inputs"]["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"][
            "predefinedMetricType"
        ]: p["inputs"]["targetTrackingScalingPolicyConfiguration"]["targetValue"]
        for p in run.of("aws:appautoscaling/policy:Policy")
    }
    cpu = int(run.inputs("aws:ecs/taskDefinition:TaskDefinition")["cpu"])
    cpu_goal = goals["ECSServiceAverageCPUUtilization"]
    expected = capacity.REQUESTS_PER_SECOND_PER_VCPU * cpu / 1024 * cpu_goal / 100 * 60
    assert goals["ALBRequestCountPerTarget"] == int(expected)


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
        values = {"aws:region": "us-east-1", "openaiApiKey": "x", "allowPlainHttp": "true", **overrides}
        return config.parse(values.get, "staging")

    short, long_ = get({"maxStreamSeconds": "30"}).budget, get({"maxStreamSeconds": "100"}).budget
    assert short.alb_idle_timeout_seconds < long_.alb_idle_timeout_seconds
    assert short.deregistration_delay_seconds < long_.deregistration_delay_seconds
    assert short.stop_timeout_seconds < long_.stop_timeout_seconds


def test_staging_runs_on_spot_and_prod_on_an_on_demand_base(staging: Run, prod: Run) -> None:
    def strategy(run: Run) -> dict[str, tuple[int, int]]:
        return {
            s["capacityProvider"]: (s.get("base", 0), s["weight"])
            for s in run.inputs("aws:ecs/service:Service")["capacityProviderStrategies"]
        }

    assert strategy(staging) == {"FARGATE_SPOT": (0, 100)}
    assert strategy(prod) == {"FARGATE": (2, 100)}
