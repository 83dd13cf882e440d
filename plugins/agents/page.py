"""The agent page: four static files (no build step) served under ``/agents/page/``.

The routes are public: the files hold no data. The page signs in with ``POST /auth/login``
and does everything else through the API with the agent's own token, so the API's
permissions and team scoping apply exactly as for any other client. The routes stay out of
the OpenAPI document (they are not API operations), and each answer carries a strict
Content-Security-Policy: the page runs only its own script and style, and talks only to its
own origin (the API and the real-time stream).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from kernel import public

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
