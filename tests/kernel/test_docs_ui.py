"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) load with assets the platform serves itself:
nothing on the pages points at another host, so they work without internet access."""

from __future__ import annotations

import re

import pytest

from kernel.testing import app_client

# Every URL a page makes the browser load: script src, stylesheet and icon href, url(...).
LOADED = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""")


@pytest.fixture
def kraliki_installed_plugins():
    return []


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
async def test_the_page_and_its_assets_come_from_the_platform(kraliki_app, page, assets):
    async with app_client(kraliki_app) as client:
        html = await client.get(page)
        assert html.status_code == 200
        assert html.headers["content-type"].startswith("text/html")
        loaded = [a or b for a, b in LOADED.findall(html.text)]
        assert {url.rsplit("/", 1)[-1] for url in loaded} == assets
        assert all(url.startswith("/docs/assets/") for url in loaded), loaded
        assert "//" not in html.text.replace("<!--", ""), "an absolute URL on the page"
        assert "'/openapi.json'" in html.text or '"/openapi.json"' in html.text
        for url in loaded:
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url
        css = [url for url in loaded if url.endswith(".css")]
        for url in css:
            text = (await client.get(url)).text
            urls = re.findall(r"url\(\s*[\"']?([^\"')]+)", text)
            remote = [u for u in urls if "//" in u and not u.startswith("data:")]
            assert remote == [], remote


async def test_the_pages_are_not_in_the_document(kraliki_app):
    async with app_client(kraliki_app) as client:
        spec = (await client.get("/openapi.json")).json()
    assert "/docs" not in spec["paths"]
    assert "/redoc" not in spec["paths"]
