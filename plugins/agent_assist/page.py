"""The agent page's Assist panel: a static JavaScript module and its style (no build step)
served under ``/agent-assist/page/`` and named to the agents plugin through
``kraliki_agent_page_panels``. Everything it shows comes through the API with the agent's
token."""

from __future__ import annotations

from pathlib import Path

from plugins.agents import panel_files_router

router = panel_files_router(
    Path(__file__).parent / "page",
    "assist-panel.js",
    "assist-panel.css",
    what="the agent page's Assist panel script; it holds no data",
)
