"""The service's one typed configuration object, read from the environment once per process.

Every field is an environment variable of the same name in upper case (`allowed_models` is
`ALLOWED_MODELS`). Names the infrastructure also sets come from `service.contract.Env`. Lists and
maps take JSON (`ALLOWED_MODELS='["gpt-4o-mini"]'`); lists also take a comma-separated string.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from service.catalog import ModelKind, models_of_kind, spec_for
from service.contract import CONTAINER_PORT, DEFAULT_BUDGET, Env

LOCAL_DEV_KEY = "local-dev-key"  # accepted only when ENVIRONMENT=local and no client keys are configured
CLIENT_KEY_PREFIX = "svc-"  # every generated client key starts so, so a leaked one is easy to search for
# MAX_JSON_DEPTH may not exceed this: every walk over client JSON (cache key, token estimate, the SDK's
# serialisation) recurses once per level, and orjson writes at most 254 levels (service/api/body.py).
JSON_DEPTH_CEILING = 128
EMBEDDINGS_MAX_INPUTS = 2048  # OpenAI's own limit on the inputs of one embeddings request
SERVICE_CLIENT_ID = "_service"  # usage the service itself causes (indexing the knowledge base); no client may use it


def hash_client_key(key: str) -> str:
    """The form client keys are configured in: SHA-256, hex. `python -m service.keys` prints it."""
    return hashlib.sha256(key.encode()).hexdigest()


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, populate_by_name=True, env_ignore_empty=True
    )

    # --- Deployment -------------------------------------------------------------------------------
    environment: Literal["local", "staging", "prod"] = Field(
        "local", validation_alias=Env.ENVIRONMENT, description="local enables the dev key and the stub"
    )
    port: int = Field(CONTAINER_PORT, validation_alias=Env.PORT, ge=1, le=65535, description="listen port (gunicorn)")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", validation_alias=Env.LOG_LEVEL, description="JSON logs on stdout at this level"
    )

    # --- Upstream (OpenAI) ------------------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=Env.OPENAI_API_KEY, description="the OpenAI key itself (local runs; prefer the ARN)"
    )
    openai_api_key_secret_arn: str | None = Field(
        None, validation_alias=Env.OPENAI_API_KEY_SECRET_ARN, description="read the key from Secrets Manager"
    )
    openai_base_url: str | None = Field(
        None, validation_alias=Env.OPENAI_BASE_URL, description="OpenAI-compatible endpoint; unset: OpenAI"
    )
    openai_org_id: str | None = Field(
        None, validation_alias=Env.OPENAI_ORG_ID, description="sent as OpenAI-Organization"
    )
    openai_project_id: str | None = Field(
        None, validation_alias=Env.OPENAI_PROJECT_ID, description="sent as OpenAI-Project (one per stack)"
    )
    aws_region: str | None = Field(None, validation_alias=Env.AWS_REGION, description="region of the key's secret")
    otel_exporter_otlp_endpoint: str | None = Field(
        None,
        validation_alias=Env.OTEL_EXPORTER_OTLP_ENDPOINT,
        description="OTLP/HTTP endpoint (e.g. http://127.0.0.1:4318): traces exported there; unset: no OpenTelemetry",
    )
    upstream_connect_timeout_seconds: float = Field(5.0, gt=0, description="failing to connect in time is a 502")
    upstream_max_retries: int = Field(2, ge=0, le=10, description="the SDK's retries (429/5xx, backoff)")
    key_refresh_min_interval_seconds: float = Field(
        30.0, ge=0, description="at most one Secrets Manager re-fetch per interval after upstream 401s"
    )
    upstream_store: bool = Field(
        False,
        description="false: every call goes upstream with `store: false` (OpenAI keeps no stored completions); "
        "true: the client's `store` passes through",
    )

    # --- Streaming time budget (defaults shared with infra via service.contract) -------------------
    max_stream_seconds: int = Field(
        DEFAULT_BUDGET.max_stream_seconds,
        validation_alias=Env.MAX_STREAM_SECONDS,
        gt=0,
        description="longest stream (and non-streamed call); infra derives its timeouts from it",
    )
    sse_heartbeat_seconds: float = Field(
        DEFAULT_BUDGET.heartbeat_seconds,
        validation_alias=Env.SSE_HEARTBEAT_SECONDS,
        gt=0,
        description="`: keep-alive` comment after this much silence in a stream",
    )

    # --- Guardrails -------------------------------------------------------------------------------
    allowed_models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["gpt-4o-mini", "gpt-4.1-mini", "gpt-4o", "gpt-4.1", "gpt-5.1"],
        description="chat models clients may use, on chat completions and Responses (JSON list or comma-separated)",
    )
    default_model: str = Field("gpt-4o-mini", description="used when a request names no model")
    max_output_tokens_limit: int | None = Field(
        None,
        ge=16,  # OpenAI's smallest max_output_tokens on /v1/responses
        description="lowers every model's cap on max_tokens/max_completion_tokens/max_output_tokens (and the default "
        "a request without one gets); unset: each model's own cap and default (service/catalog.py)",
    )
    max_n: int = Field(4, ge=1, description="largest `n` (completions per request) accepted")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="larger bodies get 413")
    max_json_depth: int = Field(
        64,
        ge=8,
        le=JSON_DEPTH_CEILING,
        description=f"deepest JSON nesting in a body (400 beyond); at most {JSON_DEPTH_CEILING}",
    )
    request_header_timeout_seconds: float = Field(
        10.0, gt=0, description="a connection that has not sent its request headers by then gets 408 and is closed"
    )
    request_body_timeout_seconds: float = Field(
        30.0, gt=0, description="a request whose body has not fully arrived by then (after its headers) gets 408"
    )
    max_messages: int = Field(100, ge=1, description="most messages (chat) or input items (Responses) in one request")
    max_input_chars: int = Field(
        100_000, ge=1, description="total characters of a request's text (chat messages; Responses input, instructions)"
    )
    responses_allow_stored_state: bool = Field(
        True,
        description="false: /v1/responses refuses `previous_response_id` and `conversation` (state OpenAI stores); "
        "true: they pass through",
    )
    allowed_embedding_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="embedding models clients may use on /v1/embeddings (JSON list or comma-separated); "
        "unset: EMBEDDING_MODEL only",
    )
    embeddings_max_inputs: int = Field(
        EMBEDDINGS_MAX_INPUTS, ge=1, le=EMBEDDINGS_MAX_INPUTS, description="most inputs in one embeddings request"
    )
    embeddings_max_input_chars: int = Field(32_000, ge=1, description="longest text input of an embeddings request")
    embeddings_max_total_chars: int = Field(
        400_000, ge=1, description="total characters across the inputs of an embeddings request"
    )
    moderation_enabled: bool = Field(False, description="check input with OpenAI's moderation endpoint first")
    moderation_model: str = Field("omni-moderation-latest", description="model for MODERATION_ENABLED checks")

    # --- Client authentication --------------------------------------------------------------------
    client_api_keys: dict[str, str] = Field(
        default_factory=dict,
        validation_alias=Env.CLIENT_API_KEYS,
        description='JSON {"<sha256 hex of key>": "<client id>"}',
    )

    # --- Cache, rate limits, spend budgets and usage (shared state in Redis) -------------------------
    redis_url: str | None = Field(
        None, validation_alias=Env.REDIS_URL, description="redis:// or rediss:// (TLS); unset: in-process state"
    )
    redis_auth_token: SecretStr | None = Field(None, validation_alias=Env.REDIS_AUTH_TOKEN)
    redis_socket_timeout_seconds: float = Field(0.25, gt=0)
    redis_connect_timeout_seconds: float = Field(0.5, gt=0)
    redis_max_connections: int = Field(100, ge=1, description="Redis connections per worker process")
    redis_pool_timeout_seconds: float = Field(
        2.0, gt=0, description="longest wait for a free Redis connection; then that one call fails (not an outage)"
    )
    state_failure_policy: Literal["open", "closed"] = Field(
        "open", description="Redis down: open = serve without limits/budgets (logged); closed = refuse with 503"
    )
    cache_enabled: bool = True
    cache_ttl_seconds: int = Field(3600, ge=1)
    cache_scope: Literal["client", "shared"] = Field(
        "client", description="shared lets clients reuse each other's answers to identical requests"
    )
    cache_wait_seconds: float = Field(30.0, ge=0, description="longest wait for an identical in-flight request")
    client_requests_per_minute: int | None = Field(None, ge=1, description="per client; unset: unlimited")
    client_tokens_per_minute: int | None = Field(None, ge=1, description="per client, estimated then reconciled")
    upstream_requests_per_minute: int | None = Field(None, ge=1, description="the organization's OpenAI RPM")
    upstream_tokens_per_minute: int | None = Field(None, ge=1, description="the organization's OpenAI TPM")
    upstream_wait_seconds: float = Field(10.0, ge=0, description="longest wait for fleet-wide upstream capacity")
    budget_client_daily_soft_usd: float | None = Field(None, gt=0)
    budget_client_daily_hard_usd: float | None = Field(None, gt=0)
    budget_client_monthly_soft_usd: float | None = Field(None, gt=0)
    budget_client_monthly_hard_usd: float | None = Field(None, gt=0)
    budget_service_daily_soft_usd: float | None = Field(None, gt=0)
    budget_service_daily_hard_usd: float | None = Field(None, gt=0)
    budget_service_monthly_soft_usd: float | None = Field(None, gt=0)
    budget_service_monthly_hard_usd: float | None = Field(None, gt=0)
    budget_fallback_model: str | None = Field(
        None, description="price models missing from service/budget/prices.json as this one; unset: refuse"
    )
    admin_client_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="clients that may see everyone's usage and invalidate the cache"
    )

    # --- Retrieval Q&A (/v1/answers; service/answers, knowledge base in service/knowledge) ------------
    answers_enabled: bool = Field(True, description="serve POST /v1/answers and build the knowledge base index")
    answers_knowledge_dir: Path | None = Field(None, description="directory of *.md documents; unset: the bundled one")
    answers_index_dir: Path = Field(
        Path("/tmp/answers-index"),  # noqa: S108 - the container's only writable path; a content-addressed cache
        description="where `make index` and the service keep embedded indexes (must be writable)",
    )
    embedding_model: str = Field("text-embedding-3-small", description="embeds the knowledge base and questions")
    embedding_dimensions: int | None = Field(None, ge=1, description="ask for shorter embeddings; unset: the model's")
    answers_top_k: int = Field(4, ge=1, description="chunks given to the model when a request sets no top_k")
    answers_max_top_k: int = Field(10, ge=1, description="largest top_k a request may ask for")
    answers_max_question_chars: int = Field(1000, ge=1, description="longer questions get 400")
    answers_max_tokens: int = Field(300, ge=1, description="max completion tokens of an answer")
    answers_min_similarity: float | None = Field(
        None, ge=-1, le=1, description="chunks scoring below are not sent; none left: not-found, no model call"
    )
    answers_embed_batch_size: int = Field(64, ge=1, le=2048, description="most questions coalesced per embeddings call")
    answers_embed_batch_wait_ms: float = Field(5.0, ge=0, description="longest a question waits for its batch")
    answers_index_batch_size: int = Field(100, ge=1, le=2048, description="chunks per embeddings call when indexing")
    answers_question_cache_size: int = Field(4096, ge=0, description="question embeddings kept per process (LRU)")
    answers_index_wait_seconds: float = Field(20.0, gt=0, description="longest a question waits for the index")

    @field_validator("allowed_models", "allowed_embedding_models", "admin_client_ids", mode="before")
    @classmethod
    def _parse_models(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("client_api_keys")
    @classmethod
    def _check_key_hashes(cls, value: dict[str, str]) -> dict[str, str]:
        for digest, client_id in value.items():
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError(
                    f"CLIENT_API_KEYS: {digest[:8]}... (client {client_id!r}) is not a lower-case SHA-256 hex "
                    "digest; store hashes, not keys (python -m service.keys hash <key>)"
                )
            if not client_id:
                raise ValueError("CLIENT_API_KEYS: every key hash needs a non-empty client id")
            if client_id == SERVICE_CLIENT_ID:
                raise ValueError(f"CLIENT_API_KEYS: the client id {SERVICE_CLIENT_ID!r} is reserved; rename the client")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if not self.allowed_models:
            raise ValueError("ALLOWED_MODELS is empty; list at least one model")
        if self.default_model not in self.allowed_models:
            raise ValueError(
                f"DEFAULT_MODEL {self.default_model!r} is not in ALLOWED_MODELS {self.allowed_models}; add it"
            )
        self._check_models()
        if self.environment != "local" and not self.client_api_keys:
            raise ValueError(
                f"CLIENT_API_KEYS is empty in ENVIRONMENT={self.environment}: the service refuses to start "
                "without client keys outside local mode"
            )
        if self.environment != "local" and not (self.openai_api_key or self.openai_api_key_secret_arn):
            raise ValueError(f"set OPENAI_API_KEY_SECRET_ARN (or OPENAI_API_KEY) in ENVIRONMENT={self.environment}")
        return self

    def _check_models(self) -> None:
        """Every model a client may name is one service/catalog.py describes, with the right kind."""
        chat, embedding = models_of_kind(ModelKind.CHAT), models_of_kind(ModelKind.EMBEDDING)
        for variable, models, kind, known in (
            ("ALLOWED_MODELS", self.allowed_models, ModelKind.CHAT, chat),
            ("ALLOWED_EMBEDDING_MODELS", self.allowed_embedding_models, ModelKind.EMBEDDING, embedding),
            ("EMBEDDING_MODEL", [self.embedding_model], ModelKind.EMBEDDING, embedding),
        ):
            for model in models:
                spec = spec_for(model)
                if spec is None or spec.kind is not kind:
                    raise ValueError(
                        f"{variable}: {model!r} is not among the {kind} models this service knows ({known}); "
                        "use one of them, or describe it in service/catalog.py and price it in "
                        "service/budget/prices.json"
                    )
        spec = spec_for(self.embedding_model)
        if self.embedding_dimensions is not None and spec is not None:
            if not spec.shortens:
                raise ValueError(f"EMBEDDING_DIMENSIONS: {self.embedding_model} does not take `dimensions`; unset it")
            if self.embedding_dimensions > spec.dimensions:
                raise ValueError(
                    f"EMBEDDING_DIMENSIONS must be at most {spec.dimensions}, the length of {self.embedding_model}'s "
                    "vectors"
                )
        moderation = spec_for(self.moderation_model)
        if self.moderation_enabled and (moderation is None or moderation.kind is not ModelKind.MODERATION):
            raise ValueError(
                f"MODERATION_MODEL {self.moderation_model!r} is not a moderation model; use one of "
                f"{models_of_kind(ModelKind.MODERATION)}"
            )

    @property
    def embedding_models(self) -> list[str]:
        """The embedding models clients may use: ALLOWED_EMBEDDING_MODELS, or EMBEDDING_MODEL when that is unset."""
        return self.allowed_embedding_models or [self.embedding_model]

    @property
    def accepts_local_dev_key(self) -> bool:
        return self.environment == "local" and not self.client_api_keys


@functools.lru_cache
def get_settings() -> Settings:
    return Settings()


def env_name(field: str) -> str:
    """The environment variable that sets a `Settings` field."""
    alias = Settings.model_fields[field].validation_alias
    return str(alias) if alias else field.upper()


def settings_from_environment(environ: Mapping[str, str]) -> Settings:
    """Parse `environ` exactly as the service parses its process environment at boot, and nothing else.

    The infrastructure calls this at preview time with the environment a task definition will set, so a
    typo or a bad value fails `pulumi preview` with the variable's name instead of a task at start.
    """

    class _Given(EnvSettingsSource):
        def _load_env_vars(self) -> Mapping[str, str | None]:
            return parse_env_vars(environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)

    class _FromMapping(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (_Given(settings_cls),)

    return _FromMapping()


def markdown_reference() -> str:
    """The README's configuration table, generated so it cannot drift (tests/service/test_settings.py)."""
    rows = ["| Variable | Default | What it does |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        env = str(field.validation_alias or name.upper())
        if field.default_factory is not None:
            default: Any = field.default_factory()  # type: ignore[call-arg]
        else:
            default = field.default
        shown = "unset" if default is None or default in ({}, []) else f"`{_show(default)}`"
        rows.append(f"| `{env}` | {shown} | {(field.description or '').replace('|', '/')} |")
    return "\n".join(rows)


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


if __name__ == "__main__":
    print(markdown_reference())
