"""The agent page's Payment panel: a static JavaScript module and its style (no build step)
served under ``/payments/page/`` and named to the agents plugin through
``kraliki_agent_page_panels``. Everything it shows comes through the API with the agent's
token (never card data: the caller keys the card into the provider's secure capture)."""

from __future__ import annotations

from pathlib import Path

from plugins.agents import panel_files_router

router = panel_files_router(
    Path(__file__).parent / "page",
    "capture-panel.js",
    "capture-panel.css",
    what="the agent page's Payment panel script; it holds no data",
)
