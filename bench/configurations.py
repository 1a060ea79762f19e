"""The service configurations every scenario runs in: the local default, and production's cost controls.

- in-process state: no Redis, no limits or budgets; bodies at temperature 0.7, which the response cache
  bypasses (the figures the README has tracked since the first benchmark).
- production: Redis as the state backend, per-client and fleet-wide RPM/TPM limits, daily and monthly
  client and service budgets, all far from binding (they are checked and counted on every request but
  never refuse one), and the response cache on at temperature 0, each body different, so every request
  looks the cache up, misses, takes the fill lock and fills it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from service.contract import Env
from service.settings import LOCAL_DEV_KEY, env_name, hash_client_key, settings_from_environment

PRODUCTION_CLIENT_KEY: Final = "svc-bench-not-a-secret"  # a loopback-only benchmark's client
PRODUCTION_CLIENT_ID: Final = "bench"

# Settings fields -> values ten thousand times or more above what a 5 s run on a few cores can use up
# (about 2,000 requests of about 90 estimated tokens and $0.00005 each per second at most).
FAR_FROM_BINDING: Final[Mapping[str, str]] = {
    "client_requests_per_minute": "10000000",
    "client_tokens_per_minute": "10000000000",
    "upstream_requests_per_minute": "10000000",
    "upstream_tokens_per_minute": "10000000000",
    "budget_client_daily_soft_usd": "100000",
    "budget_client_daily_hard_usd": "200000",
    "budget_client_monthly_soft_usd": "1000000",
    "budget_client_monthly_hard_usd": "2000000",
    "budget_service_daily_soft_usd": "1000000",
    "budget_service_daily_hard_usd": "2000000",
    "budget_service_monthly_soft_usd": "10000000",
    "budget_service_monthly_hard_usd": "20000000",
}


@dataclass(frozen=True)
class Configuration:
    key: str  # on the command line (--config) and in the results file
    title: str
    uses_redis: bool
    cacheable_bodies: bool  # temperature 0: the cache looks every request up
    client_key: str
    settings: Mapping[str, str] = field(default_factory=dict)  # Settings field -> value

    @property
    def production(self) -> bool:
        return self.uses_redis

    def service_env(self, redis_url: str | None) -> dict[str, str]:
        """The service's environment variables for this configuration, checked as the service checks them."""
        if self.uses_redis != (redis_url is not None):
            raise ValueError(f"the {self.key} configuration {'needs' if self.uses_redis else 'takes no'} REDIS_URL")
        env = {env_name(name): value for name, value in self.settings.items()}
        if redis_url is not None:
            env[Env.REDIS_URL] = redis_url
        settings_from_environment(env | {Env.OPENAI_API_KEY: "sk-check"})  # a typo fails here, named
        return env


IN_PROCESS: Final = Configuration(
    "in-process", "in-process state", uses_redis=False, cacheable_bodies=False, client_key=LOCAL_DEV_KEY
)
PRODUCTION: Final = Configuration(
    "production",
    "Redis + limits + budgets + cache (missed)",
    uses_redis=True,
    cacheable_bodies=True,
    client_key=PRODUCTION_CLIENT_KEY,
    settings={
        "environment": "prod",
        "client_api_keys": json.dumps({hash_client_key(PRODUCTION_CLIENT_KEY): PRODUCTION_CLIENT_ID}),
        "cache_enabled": "true",
        **FAR_FROM_BINDING,
    },
)
CONFIGURATIONS: Final = (IN_PROCESS, PRODUCTION)
