"""Calls join the timeline of the contact whose number they were to or from."""

from __future__ import annotations

from collections.abc import Sequence

from kernel import DeliveredEvent, Platform


async def link_calls(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    return None
