"""Liveness and readiness, on the paths the load balancer and ECS use (service.contract)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse

from service.api.schemas import HEALTH_DOC
from service.contract import HEALTH_PATH, READY_PATH

router = APIRouter(tags=["health"])

# A readiness check returns (ready, detail). A degraded dependency the service can work without
# (for example a cache) reports ready=True with the degradation in `detail`.
ReadinessCheck = Callable[[], Awaitable[tuple[bool, str]]]


class Readiness(BaseModel):
    status: str  # "ready" or "not_ready"
    checks: dict[str, str]  # each check's summary; never an internal host or error (those are logged)


@router.get(HEALTH_PATH, **HEALTH_DOC)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    READY_PATH,
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: the OpenAI key is not loaded"}},
)
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    details: dict[str, str] = {}
    ready = True
    for name, check in checks.items():
        ok, details[name] = await check()
        ready = ready and ok
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": details}, status_code=200 if ready else 503
    )
