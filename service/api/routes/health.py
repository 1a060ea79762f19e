"""Liveness and readiness, on the paths the load balancer and ECS use (service.contract)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from service.contract import HEALTH_PATH, READY_PATH

router = APIRouter(tags=["health"])

# A readiness check returns (ready, detail). A degraded dependency the service can work without
# (for example a cache) reports ready=True with the degradation in `detail`.
ReadinessCheck = Callable[[], Awaitable[tuple[bool, str]]]


@router.get(HEALTH_PATH)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(READY_PATH)
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
