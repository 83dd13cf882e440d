"""HTTP API of the identity layer, mounted by the kernel under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter


def identity_routers() -> list[APIRouter]:
    from kernel._identity.routes import api_keys, audit, auth, roles, users

    return [auth.router, users.router, roles.router, api_keys.router, audit.router]
