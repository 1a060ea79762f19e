"""Where the OpenAI key comes from: the environment, or AWS Secrets Manager.

The SDK calls `OpenAIKeySource.current` before every request (it is passed as the client's async
`api_key` provider), so a refreshed key is used by the very next request without a restart. A
refresh happens when OpenAI answers 401: the key was rotated, or revoked.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import boto3
import orjson
import structlog

from service.logging import register_secret

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

log = structlog.get_logger(__name__)


class KeyUnavailable(RuntimeError):
    """The key could not be loaded; the message never contains it."""


class OpenAIKeySource:
    """A fixed key (environment variable). Refreshing is a no-op."""

    def __init__(self, key: str) -> None:
        if not key:
            raise KeyUnavailable("OPENAI_API_KEY is empty")
        self._key = key
        register_secret(key)

    @property
    def loaded(self) -> bool:
        return bool(self._key)

    async def current(self) -> str:
        return self._key

    async def refresh(self) -> bool:
        """Re-read the key; True when it changed (so a failed call is worth retrying)."""
        return False


class SecretsManagerKeySource(OpenAIKeySource):
    """The key stored in a Secrets Manager secret: plain text, or JSON with an `OPENAI_API_KEY` field."""

    def __init__(
        self,
        secret_arn: str,
        *,
        region: str | None = None,
        min_refresh_interval: float = 30.0,
        client: SecretsManagerClient | None = None,
    ) -> None:
        self._secret_arn = secret_arn
        # boto3 honours AWS_ENDPOINT_URL_SECRETS_MANAGER, which is how tests point it at moto's server.
        self._client: SecretsManagerClient = client or boto3.client("secretsmanager", region_name=region)
        self._min_refresh_interval = min_refresh_interval
        self._key = ""
        self._last_fetch = float("-inf")
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Fetch at startup; raises KeyUnavailable so a misconfigured task fails fast and visibly."""
        self._key = await self._fetch()
        self._last_fetch = time.monotonic()
        log.info("openai_key_loaded", source="secretsmanager", secret_arn=self._secret_arn)

    async def current(self) -> str:
        if not self._key:
            await self.load()
        return self._key

    async def refresh(self) -> bool:
        async with self._lock:  # one fetch per process however many requests saw the 401
            if time.monotonic() - self._last_fetch < self._min_refresh_interval:
                return False
            old = self._key
            try:
                self._key = await self._fetch()
            finally:
                self._last_fetch = time.monotonic()
            changed = self._key != old
            log.warning("openai_key_refreshed", secret_arn=self._secret_arn, changed=changed)
            return changed

    async def _fetch(self) -> str:
        try:
            response = await asyncio.to_thread(self._client.get_secret_value, SecretId=self._secret_arn)
        except Exception as exc:  # botocore raises many types; the message is safe (no secret in it)
            raise KeyUnavailable(
                f"could not read the OpenAI key from Secrets Manager ({self._secret_arn}): "
                f"{type(exc).__name__}; check the task role's secretsmanager:GetSecretValue and kms:Decrypt"
            ) from exc
        key = _parse_secret(response.get("SecretString") or "")
        if not key:
            raise KeyUnavailable(f"secret {self._secret_arn} holds no OpenAI key")
        register_secret(key)
        return key


def _parse_secret(text: str) -> str:
    text = text.strip()
    if text.startswith("{"):
        try:
            data: Any = orjson.loads(text)
        except orjson.JSONDecodeError:
            return ""
        value = data.get("OPENAI_API_KEY", "") if isinstance(data, dict) else ""
        return value.strip() if isinstance(value, str) else ""
    return text
