"""The agent page's Payment panel: a static JavaScript module and its style (no build step)
served under ``/payments/page/`` and named to the agents plugin through
``kraliki_agent_page_panels``. Public like the agent page's own files: it holds no data, and
everything it shows comes through the API with the agent's token (never card data: the
caller keys the card into the provider's secure capture)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from kernel import public

PAGE_DIR = Path(__file__).parent / "page"
SCRIPT = "capture-panel.js"
STYLE = "capture-panel.css"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(
    include_in_schema=False,
    dependencies=[Depends(public("the agent page's Payment panel script; it holds no data"))],
)


@cache
def _content(name: str) -> bytes:
    return (PAGE_DIR / name).read_bytes()


@router.get(f"/page/{SCRIPT}")
async def capture_panel_script() -> Response:
    return Response(_content(SCRIPT), media_type="text/javascript; charset=utf-8", headers=HEADERS)


@router.get(f"/page/{STYLE}")
async def capture_panel_style() -> Response:
    return Response(_content(STYLE), media_type="text/css; charset=utf-8", headers=HEADERS)
