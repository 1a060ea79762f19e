"""Client authentication: `Authorization: Bearer <key>`, checked against SHA-256 hashes of keys.

Only hashes are configured (CLIENT_API_KEYS), so a leaked configuration does not leak keys. The
presented key's hash is compared with every configured hash using `hmac.compare_digest`, without
stopping at a match, so the time taken says nothing about which (or whether a) key matched.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from service.errors import AuthenticationFailed
from service.settings import LOCAL_DEV_KEY, Settings, hash_client_key

LOCAL_DEV_CLIENT_ID = "local-dev"


@dataclass(frozen=True, slots=True)
class Client:
    id: str


class ClientAuthenticator:
    def __init__(self, settings: Settings) -> None:
        self._entries = [(digest.encode(), client_id) for digest, client_id in settings.client_api_keys.items()]
        if settings.accepts_local_dev_key:
            self._entries.append((hash_client_key(LOCAL_DEV_KEY).encode(), LOCAL_DEV_CLIENT_ID))

    def authenticate(self, key: str | None) -> Client:
        """The client whose key this is; `key` is what follows `Bearer ` (None: no bearer key was sent)."""
        if not key:
            raise AuthenticationFailed(
                "Missing API key: send it as 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        presented = hash_client_key(key).encode()
        found: str | None = None
        for digest, client_id in self._entries:
            if hmac.compare_digest(presented, digest):
                found = client_id
        if found is None:
            raise AuthenticationFailed("Incorrect API key provided", headers={"WWW-Authenticate": "Bearer"})
        return Client(id=found)
