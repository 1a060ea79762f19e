"""The two configurations: the production one is what the service accepts and puts the cache in the path."""

from __future__ import annotations

import pytest

from bench.configurations import IN_PROCESS, PRODUCTION, Configuration
from bench.scenarios import SCENARIOS, SIZING_SCENARIO, Scenario
from service.cache.keys import CacheMode, cache_mode, request_digest
from service.settings import settings_from_environment

REDIS_URL = "redis://127.0.0.1:1/0"


def test_production_settings_are_what_the_issue_asks_for() -> None:
    settings = settings_from_environment(PRODUCTION.service_env(REDIS_URL) | {"OPENAI_API_KEY": "sk-x"})
    assert settings.redis_url == REDIS_URL
    assert settings.cache_enabled
    assert settings.client_requests_per_minute
    assert settings.client_tokens_per_minute
    budgets = [getattr(settings, name) for name in type(settings).model_fields if name.startswith("budget_")]
    assert sum(1 for value in budgets if isinstance(value, float)) == 8  # client and service, day and month, both
    assert not settings.accepts_local_dev_key
    assert settings.client_api_keys  # the bench's own key, as production authenticates


def test_in_process_settings_are_the_defaults() -> None:
    settings = settings_from_environment(IN_PROCESS.service_env(None))
    assert settings.redis_url is None
    assert settings.client_requests_per_minute is None
    assert settings.budget_service_monthly_hard_usd is None


@pytest.mark.parametrize(("configuration", "url"), [(PRODUCTION, None), (IN_PROCESS, REDIS_URL)])
def test_redis_is_given_exactly_to_the_configuration_that_uses_it(
    configuration: Configuration, url: str | None
) -> None:
    with pytest.raises(ValueError, match="REDIS_URL"):
        configuration.service_env(url)


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.varied], ids=lambda s: s.label)
def test_production_bodies_are_looked_up_and_in_process_ones_bypass_the_cache(scenario: Scenario) -> None:
    production = scenario.body(cacheable=PRODUCTION.cacheable_bodies, tag="a")
    in_process = scenario.body(cacheable=IN_PROCESS.cacheable_bodies, tag="a")
    assert cache_mode({}, production) is CacheMode.USE
    assert cache_mode({}, in_process) is CacheMode.BYPASS


def test_tagged_bodies_have_distinct_cache_keys() -> None:
    keys = {request_digest(SIZING_SCENARIO.body(cacheable=True, tag=str(n)), "bench") for n in range(100)}
    assert len(keys) == 100


def test_the_cache_hit_scenario_is_cacheable_in_both_configurations() -> None:
    (hits,) = [s for s in SCENARIOS if s.cache_hits]
    for configuration in (IN_PROCESS, PRODUCTION):
        assert cache_mode({}, hits.body(cacheable=configuration.cacheable_bodies)) is CacheMode.USE
