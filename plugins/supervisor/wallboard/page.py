"""The wallboard page: static files (no build step) under ``/supervisor/wallboard/page/``.

Public, like the agent page: the files hold no data. The page signs in with
``POST /auth/login`` and reads everything through the API and the real-time stream with the
supervisor's own token, so permissions and team scoping apply as for any client. Out of the
OpenAPI document, under a strict Content-Security-Policy (own script and style, own origin).
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
    "wallboard.js": "text/javascript; charset=utf-8",
    "wallboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # a new release's page and script arrive together
}

router = APIRouter(
    include_in_schema=False,
    dependencies=[Depends(public("the wallboard's static files; the page signs in itself"))],
)


@cache
def _content(name: str) -> bytes:
    return (PAGE_DIR / name).read_bytes()


@router.get("/wallboard/page")
async def wallboard_page_redirect() -> RedirectResponse:
    """The page's relative links need the trailing slash."""
    return RedirectResponse("page/", status_code=308)


def _file(name: str) -> Response:
    return Response(_content(name), media_type=FILES[name], headers=HEADERS)


@router.get("/wallboard/page/")
async def wallboard_page() -> Response:
    return _file("index.html")


@router.get("/wallboard/page/wallboard.js")
async def wallboard_page_script() -> Response:
    return _file("wallboard.js")


@router.get("/wallboard/page/wallboard.css")
async def wallboard_page_style() -> Response:
    return _file("wallboard.css")


@router.get("/wallboard/page/favicon.svg")
async def wallboard_page_icon() -> Response:
    return _file("favicon.svg")
