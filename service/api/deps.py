"""Dependencies routes declare, as `Annotated` aliases so signatures read like sentences.

All are `async def`: FastAPI runs plain `def` dependencies in its thread pool, a thread hand-off
per dependency per request, which the benchmark showed as several percent of a worker's CPU.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.metering import Metering
from service.api.relay import Relay
from service.auth import Client, ClientAuthenticator
from service.middleware import annotate
from service.settings import Settings
from service.upstream.client import Upstream


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_upstream(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.upstream
    return upstream


async def get_metering(request: Request) -> Metering:
    metering: Metering = request.app.state.metering
    return metering


async def get_relay(request: Request) -> Relay:
    relay: Relay = request.app.state.relay
    return relay


# Declares the bearer scheme in the OpenAPI document; our authenticator answers a missing key itself.
_bearer = HTTPBearer(auto_error=False, description="A client key: `Authorization: Bearer <key>`")


async def get_client(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Client:
    authenticator: ClientAuthenticator = request.app.state.authenticator
    client = authenticator.authenticate(credentials.credentials if credentials is not None else None)
    annotate(request, client_id=client.id)
    return client


SettingsDep = Annotated[Settings, Depends(get_settings)]
UpstreamDep = Annotated[Upstream, Depends(get_upstream)]
MeteringDep = Annotated[Metering, Depends(get_metering)]
RelayDep = Annotated[Relay, Depends(get_relay)]
CurrentClient = Annotated[Client, Depends(get_client)]
