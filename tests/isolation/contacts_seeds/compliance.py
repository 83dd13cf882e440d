"""Seeds the contacts plugin's compliance tables for the cross-tenant route walk."""

from __future__ import annotations

from typing import Any


async def seed(client: Any, tenant: Any) -> None:
    """Rows of every compliance table for ``tenant`` (``.headers``, ``.slug``, ``.secrets``)."""
