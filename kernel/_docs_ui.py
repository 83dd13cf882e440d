"""Swagger UI at ``/docs`` and ReDoc at ``/redoc``, with their scripts and styles served by
the platform itself (from the ``fastapi-offline`` package), never from a CDN: deployments
without internet access, or with a strict proxy, still get working documents."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from kernel._auth import public

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
"""Where ``swagger-ui-bundle.js``, ``swagger-ui.css``, ``redoc.standalone.js`` and
``favicon.png`` are served."""

# No online validator badge (it would send the document to validator.swagger.io); keep the
# token across reloads of the page.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None, "persistAuthorization": True}


def install_docs_ui(app: FastAPI) -> None:
    """Mount the two pages and their assets on ``app`` (whose own docs pages are off)."""
    assets = files("fastapi_offline") / "static"
    app.mount(ASSETS_URL, StaticFiles(directory=str(assets)), name="docs-assets")
    app.include_router(_router(app))


def _router(app: FastAPI) -> APIRouter:
    router = APIRouter(
        include_in_schema=False, dependencies=[Depends(public("interactive API documentation"))]
    )

    @router.get(DOCS_URL)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @router.get(REDOC_URL)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    return router
