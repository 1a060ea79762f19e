"""Stack configuration: the real stack files parse, and each bad value is refused naming its key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from infra import config
from infra.config import KEYS, OWNED_ENV, ConfigError, StackConfig, parse, select_zones
from infra.project import PROJECT
from service.contract import Env

ROOT = Path(__file__).resolve().parents[2]


def _stack_file(stack: str) -> dict[str, str]:
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    # As `pulumi config` hands them to the program: text, and structured values as JSON.
    return {
        (k if k.split(":")[0] in ("aws", PROJECT) else f"{PROJECT}:{k}"): json.dumps(v)
        if isinstance(v, (dict, list))
        else str(v)
        for k, v in raw.items()
    }


def _parse(stack: str = "staging", **overrides: str) -> StackConfig:
    values = {k.removeprefix(f"{PROJECT}:"): v for k, v in _stack_file(stack).items()}
    values |= {"openaiApiKey": "sk-test"} | overrides
    return parse(values.get, stack)


def test_stack_files_use_only_documented_keys() -> None:
    known = {k.name for k in KEYS}
    for stack in ("staging", "prod"):
        for key in _stack_file(stack):
            assert key.removeprefix(f"{PROJECT}:") in known, f"Pulumi.{stack}.yaml: unknown key {key}"


def test_stack_files_never_hold_secrets() -> None:
    for stack in ("staging", "prod"):
        text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
        assert "openaiApiKey:" not in text
        assert "secure:" not in text


def test_stack_files_hold_only_what_differs_from_the_defaults() -> None:
    defaults = {f"{PROJECT}:{k.name}": k.default for k in KEYS}
    for stack in ("staging", "prod"):
        for key, value in _stack_file(stack).items():
            assert defaults.get(key) != value, f"Pulumi.{stack}.yaml repeats the default of {key}"


def test_staging_and_prod_are_sized_differently() -> None:
    staging, prod = _parse("staging"), _parse("prod", allowPlainHttp="true")
    assert (staging.cpu, staging.memory) != (prod.cpu, prod.memory)
    assert staging.max_tasks < prod.max_tasks
    assert (staging.az_count, staging.nat_gateway_count, staging.cache_nodes) == (2, 0, 1)
    assert (prod.az_count, prod.nat_gateway_count, prod.cache_nodes) == (3, 3, 2)
    assert (staging.container_insights, prod.container_insights) == ("enabled", "enhanced")
    assert (staging.spot_percent, prod.spot_percent, prod.on_demand_base) == (100, 0, 2)
    assert (staging.deletion_protection, prod.deletion_protection) == (False, True)


def test_defaults_need_a_region_a_key_and_https_or_its_explicit_opt_out() -> None:
    cfg = parse({"aws:region": "us-west-2", "openaiApiKey": "sk-x", "allowPlainHttp": "true"}.get, "staging")
    assert cfg.region == "us-west-2"
    assert cfg.image is None
    assert cfg.budget.max_stream_seconds == 90
    assert not cfg.https
    cert = "arn:aws:acm:us-west-2:123456789012:certificate/x"
    assert parse({"aws:region": "us-west-2", "openaiApiKey": "sk-x", "certificateArn": cert}.get, "prod").https


def test_prod_as_committed_refuses_to_serve_keys_over_plain_http() -> None:
    with pytest.raises(ConfigError) as caught:
        _parse("prod")
    assert caught.value.key == f"{PROJECT}:domainName"
    for key in ("domainName", "hostedZoneId", "certificateArn", "allowPlainHttp"):
        assert key in str(caught.value)
    assert _parse("prod", domainName="api.example.com", hostedZoneId="Z1").https
    assert _parse("prod", allowPlainHttp="true").allow_plain_http


def test_stack_files_turn_on_limits_budgets_and_the_model_list() -> None:
    for stack in ("staging", "prod"):
        env = _parse(stack, allowPlainHttp="true").service_environment
        for name in ("ALLOWED_MODELS", "CLIENT_REQUESTS_PER_MINUTE", "CLIENT_TOKENS_PER_MINUTE"):
            assert name in env, (stack, name)
        budgets = [n for n in env if n.startswith("BUDGET_") and n.endswith("_USD")]
        assert len(budgets) == 8, (stack, budgets)


def test_service_settings_are_checked_by_the_services_own_settings() -> None:
    env = _parse(serviceSettings=json.dumps({"MAX_N": 2, "CACHE_ENABLED": False, "ADMIN_CLIENT_IDS": ["ops"]}))
    assert {k: env.service_environment[k] for k in ("MAX_N", "CACHE_ENABLED", "ADMIN_CLIENT_IDS")} == {
        "MAX_N": "2",
        "CACHE_ENABLED": "false",
        "ADMIN_CLIENT_IDS": '["ops"]',
    }


def test_names_the_program_sets_are_not_settable_and_every_contract_name_is_owned() -> None:
    contract = {v for k, v in vars(Env).items() if not k.startswith("_")}
    settable = {Env.LOG_LEVEL, Env.OPENAI_BASE_URL, Env.OPENAI_ORG_ID, Env.OPENAI_PROJECT_ID}
    assert contract - set(OWNED_ENV) <= settable | {Env.OTEL_EXPORTER_OTLP_ENDPOINT}
    for name in OWNED_ENV:
        with pytest.raises(ConfigError, match=f"{name} is set by the program"):
            _parse(serviceSettings=json.dumps({name: "1"}))


def test_zones_are_the_first_standard_ones_and_too_few_name_azcount() -> None:
    cfg = _parse("prod", allowPlainHttp="true")
    assert select_zones(cfg, ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]) == [
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
    ]
    with pytest.raises(ConfigError) as caught:
        select_zones(cfg, ["us-east-1a", "us-east-1b"])
    assert caught.value.key == f"{PROJECT}:azCount"
    assert "set azCount to 2 or less" in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "key", "hint"),
    [
        ({"aws:region": "eu-west-1"}, "aws:region", "not a US region"),
        ({"aws:region": "ap-southeast-2"}, "aws:region", "us-east-1"),
        ({"cpu": "300"}, "cpu", "not a Fargate CPU size"),
        ({"cpu": "256", "memory": "4096"}, "memory", "not valid with cpu=256"),
        ({"cpu": "1024", "memory": "1024"}, "memory", "between 2048 and 8192"),
        ({"minTasks": "5", "maxTasks": "2"}, "minTasks", "above maxTasks"),
        ({"maxStreamSeconds": "110"}, "maxStreamSeconds", "stopTimeout"),
        ({"sseHeartbeatSeconds": "200"}, "sseHeartbeatSeconds", "ALB idle timeout"),
        ({"maxTasks": "many"}, "maxTasks", "not a whole number"),
        ({"azCount": "4"}, "azCount", "out of range"),
        ({"natGateways": "two"}, "natGateways", "single, perAz, none"),
        ({"containerInsights": "disabled"}, "containerInsights", "enhanced, enabled"),
        ({"image": "api:latest"}, "image", "digest"),
        ({"logRetentionDays": "45"}, "logRetentionDays", "does not accept 45"),
        ({"cacheEngine": "memcached"}, "cacheEngine", "valkey, redis"),
        ({"hostedZoneId": "Z1"}, "hostedZoneId", "domainName"),
        ({"certificateArn": "cert-1"}, "certificateArn", "ACM"),
        ({"githubRepository": "not a repo"}, "githubRepository", "owner/repo"),
        ({"alarmEmail": "ops"}, "alarmEmail", "e-mail"),
        ({"alarmTtftP99Seconds": "95"}, "alarmTtftP99Seconds", "set alarmTtftP99Seconds to 90 or less"),
        ({"alarmTtftP99Seconds": "0.5"}, "alarmTtftP99Seconds", "not a whole number"),
        ({"alarm5xxPercent": "0"}, "alarm5xxPercent", "from 1 to 100"),
        ({"alarmSpendUsdPerHour": "0"}, "alarmSpendUsdPerHour", "out of range"),
        ({"deletionProtection": "yes"}, "deletionProtection", "true or false"),
        ({"vpcCidr": "8.8.0.0/16"}, "vpcCidr", "private /16"),
        ({"openaiApiKeySecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:x"}, "openaiApiKey", "only one"),
        ({"certificateArn": "arn:aws:acm:us-east-1:1:certificate/x"}, "allowPlainHttp", "remove it"),
        ({"allowPlainHttp": "false"}, "domainName", "certificateArn"),
        ({"serviceSettings": "[1, 2]"}, "serviceSettings", "YAML map"),
        ({"serviceSettings": '{"CLIENT_REQUEST_PER_MINUTE": 5}'}, "serviceSettings", "CLIENT_REQUESTS_PER_MINUTE"),
        ({"serviceSettings": '{"CLIENT_REQUESTS_PER_MINUTE": 0}'}, "serviceSettings", "CLIENT_REQUESTS_PER_MINUTE"),
        ({"serviceSettings": '{"MAX_N": "many"}'}, "serviceSettings", "MAX_N: Input should be a valid integer"),
        ({"serviceSettings": '{"DEFAULT_MODEL": "gpt-9"}'}, "serviceSettings", "not in ALLOWED_MODELS"),
        ({"serviceSettings": '{"REDIS_URL": "redis://x"}'}, "serviceSettings", "the stack's cache"),
        ({"serviceSettings": '{"LOG_LEVEL": null}'}, "serviceSettings", "has no value"),
    ],
)
def test_bad_values_are_refused_naming_the_key_and_the_fix(overrides: dict[str, str], key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse("staging", **overrides)
    qualified = key if ":" in key else f"{PROJECT}:{key}"
    assert caught.value.key == qualified
    message = str(caught.value)
    assert message.startswith(f"{qualified}: ")
    assert hint in message
    assert "Fix: " in message


def test_a_missing_openai_key_says_how_to_set_it() -> None:
    with pytest.raises(ConfigError, match=re.escape("pulumi config set --secret openaiApiKey")):
        parse({"aws:region": "us-east-1", "allowPlainHttp": "true"}.get, "staging")


def test_a_missing_region_says_how_to_set_it() -> None:
    with pytest.raises(ConfigError, match=re.escape("pulumi config set aws:region")):
        parse({"openaiApiKey": "sk-x", "allowPlainHttp": "true"}.get, "staging")


def test_every_fargate_pair_in_the_table_parses() -> None:
    for cpu, memories in config.FARGATE_SIZES.items():
        for memory in (min(memories), max(memories)):
            assert _parse(cpu=str(cpu), memory=str(memory)).memory == memory


def test_every_key_is_documented_with_its_default() -> None:
    docs = (ROOT / "docs" / "infrastructure.md").read_text()
    for key in KEYS:
        row = next((line for line in docs.splitlines() if line.startswith(f"| `{key.name}`")), None)
        assert row is not None, f"docs/infrastructure.md does not list {key.name}"
        default = f"`{key.default}`" if key.default is not None else "unset"
        assert default in row, f"docs/infrastructure.md: {key.name} default should read {default}"
