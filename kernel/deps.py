"""``Annotated`` dependency aliases for route signatures (re-exported by ``kernel``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._db import serving_request
from kernel._platform import Platform, get_platform


async def platform_dependency(request: Request) -> Platform:
    # async: FastAPI runs a plain function dependency in its thread pool.
    return get_platform(request)


PlatformDep = Annotated[Platform, Depends(platform_dependency)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for this request; uncommitted work is rolled back at the end."""
    platform = get_platform(request)
    async with platform.database.session() as session:
        with serving_request(session):
            yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
