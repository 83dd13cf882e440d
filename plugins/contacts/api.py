"""Routes of contacts themselves: CRUD, merge, custom fields and settings."""

from __future__ import annotations

from fastapi import APIRouter

fixed_router = APIRouter(tags=["contacts"])
router = APIRouter(tags=["contacts"])
