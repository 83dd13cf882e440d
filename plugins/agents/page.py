"""The agent page: four static files (no build step) served under ``/agents/page/``.

The routes are public: the files hold no data. The page signs in with ``POST /auth/login``
and does everything else through the API with the agent's own token, so the API's
permissions and team scoping apply exactly as for any other client. The routes stay out of
the OpenAPI document (they are not API operations), and each answer carries a strict
Content-Security-Policy: the page runs only its own script and style, and talks only to its
own origin (the API and the real-time stream).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from kernel import PlatformDep, event_pattern, public

SCRIPT_PATH = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9._-]*)+\.js$")


@dataclass(frozen=True, slots=True)
class AgentPagePanel:
    """A panel another plugin adds to the agent page (``kraliki_agent_page_panels``)."""

    id: str
    """Lower case letters, digits and ``-``: the card's ``id`` is ``panel-<id>``."""
    title: str
    script: str
    """The module's path under the API root (``campaigns/page/preview-panel.js``): same
    origin, so the page's Content-Security-Policy lets it run."""
    patterns: tuple[str, ...] = ()
    """Event patterns the page adds to its real-time subscription for this panel; the
    module hears them through ``page.onEvent(fn)``."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9-]{1,40}", self.id):
            raise ValueError(f"agent page panel id {self.id!r}: lower case, digits and '-'")
        if not SCRIPT_PATH.match(self.script) or ".." in self.script:
            raise ValueError(f"agent page panel {self.id!r}: script must be a path under the API")
        for pattern in self.patterns:
            event_pattern(pattern)


def panel_files_router(page_dir: Path, script: str, style: str, *, what: str) -> APIRouter:
    """The routes serving a panel's module and style under ``/<plugin prefix>/page/``:
    public like the agent page's own files (they hold no data; ``what`` says what they are),
    out of the OpenAPI document, each with a strict Content-Security-Policy."""
    headers = {
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    files = {script: "text/javascript; charset=utf-8", style: "text/css; charset=utf-8"}
    contents = {name: (page_dir / name).read_bytes() for name in files}
    panel_router = APIRouter(include_in_schema=False, dependencies=[Depends(public(what))])

    def serve(name: str) -> None:
        async def panel_file() -> Response:
            return Response(contents[name], media_type=files[name], headers=headers)

        panel_router.add_api_route(f"/page/{name}", panel_file, methods=["GET"])

    for name in files:
        serve(name)
    return panel_router


PAGE_DIR = Path(__file__).parent / "page"
FILES = {
    "index.html": "text/html; charset=utf-8",
    "agent-page.js": "text/javascript; charset=utf-8",
    "agent-page.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
"""`connect-src 'self'` covers the WebSocket to the same host (CSP Level 3)."""
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated on every load: a new release's page and script arrive together.
    "Cache-Control": "no-cache",
}

router = APIRouter(
    include_in_schema=False,
    dependencies=[Depends(public("the agent page's static files; the page signs in itself"))],
)


@cache
def _content(name: str) -> bytes:
    return (PAGE_DIR / name).read_bytes()


def _file(name: str) -> Response:
    return Response(_content(name), media_type=FILES[name], headers=HEADERS)


@router.get("/page")
async def agent_page_redirect() -> RedirectResponse:
    """The page's relative links need the trailing slash."""
    return RedirectResponse("page/", status_code=308)


@router.get("/page/panels.json")
async def agent_page_panels(platform: PlatformDep) -> Response:
    """The panels other plugins add (``kraliki_agent_page_panels``), in plugin order."""
    found = platform.hooks.collect_now("kraliki_agent_page_panels")
    panels = [
        {"id": p.id, "title": p.title, "script": p.script, "patterns": list(p.patterns)}
        for _plugin, batch in found
        for p in batch
        if isinstance(p, AgentPagePanel)
    ]
    return Response(json.dumps({"panels": panels}), media_type="application/json", headers=HEADERS)


@router.get("/page/")
async def agent_page() -> Response:
    return _file("index.html")


@router.get("/page/agent-page.js")
async def agent_page_script() -> Response:
    return _file("agent-page.js")


@router.get("/page/agent-page.css")
async def agent_page_style() -> Response:
    return _file("agent-page.css")


@router.get("/page/favicon.svg")
async def agent_page_icon() -> Response:
    return _file("favicon.svg")
