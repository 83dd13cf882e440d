"""Routes of the contacts plugin's imports (under ``/api/v1/contacts``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["contacts"])
