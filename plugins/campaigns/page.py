"""The preview panel of the agent page: a static JavaScript module and its style (no build
step) served under ``/campaigns/page/`` and named to the agents plugin through
``kraliki_agent_page_panels``. Everything it does goes through the API with the agent's
token."""

from __future__ import annotations

from pathlib import Path

from plugins.agents import panel_files_router

router = panel_files_router(
    Path(__file__).parent / "page",
    "preview-panel.js",
    "preview-panel.css",
    what="the agent page's preview panel script; it holds no data",
)
