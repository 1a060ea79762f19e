"""Dependencies routes declare, as `Annotated` aliases so signatures read like sentences."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.api.metering import Metering
from service.auth import Client, ClientAuthenticator
from service.middleware import annotate
from service.settings import Settings
from service.upstream.client import Upstream


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_upstream(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.upstream
    return upstream


def get_metering(request: Request) -> Metering:
    metering: Metering = request.app.state.metering
    return metering


def get_client(request: Request) -> Client:
    authenticator: ClientAuthenticator = request.app.state.authenticator
    client = authenticator.authenticate(request.headers.get("authorization"))
    annotate(request, client_id=client.id)
    return client


SettingsDep = Annotated[Settings, Depends(get_settings)]
UpstreamDep = Annotated[Upstream, Depends(get_upstream)]
MeteringDep = Annotated[Metering, Depends(get_metering)]
CurrentClient = Annotated[Client, Depends(get_client)]
