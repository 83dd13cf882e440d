"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import text

from kernel._auth import public
from kernel._errors import UnknownRevisionError
from kernel._platform import Platform, get_platform
from kernel._problems import SERVICE_UNAVAILABLE, problem_response, problem_responses

logger = logging.getLogger("kraliki.health")

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get(
    "/healthz",
    response_model=Health,
    dependencies=[Depends(public("liveness probe"))],
    summary="The process is up",
)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    dependencies=[Depends(public("readiness probe"))],
    summary="The database is reachable and migrated to head",
    responses=problem_responses(SERVICE_UNAVAILABLE),
)
async def readyz(platform: Annotated[Platform, Depends(get_platform)]) -> Any:
    checks: dict[str, str] = {}
    try:
        async with platform.database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready", never a 500
        logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        checks["database"] = "unreachable"
    if checks["database"] == "ok":
        try:
            checks["migrations"] = "pending" if await platform.pending_migrations() else "ok"
        except UnknownRevisionError as exc:
            logger.warning("readiness: %s", exc)
            checks["migrations"] = "unknown-revision"
    else:
        checks["migrations"] = "unknown"
    if all(value == "ok" for value in checks.values()):
        return Readiness(status="ok", checks=checks)
    return problem_response(
        SERVICE_UNAVAILABLE,
        "not ready: "
        + ", ".join(f"{name} {value}" for name, value in checks.items() if value != "ok"),
        checks=checks,
    )
