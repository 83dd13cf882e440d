"""The wallboard's files as the server hands them out: public, typed, under a strict
Content-Security-Policy, not in the OpenAPI document. (What the page does is tested in a
real browser: ``test_wallboard_browser.py``.)"""

from __future__ import annotations

import re

import pytest

PAGE = "/api/v1/supervisor/wallboard/page/"


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("", "text/html"),
        ("wallboard.js", "text/javascript"),
        ("wallboard.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
async def test_the_page_files_are_served_without_credentials(kraliki_client, path, media_type):
    response = await kraliki_client.get(PAGE + path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == media_type
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_page_runs_nothing_inline(kraliki_client):
    """The policy allows no inline script or style: the page must not need any."""
    html = (await kraliki_client.get(PAGE)).text
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert "<style" not in html
    assert " style=" not in html
    assert re.findall(r"\son[a-z]+\s*=", html) == []


async def test_the_page_without_its_slash_redirects(kraliki_client):
    response = await kraliki_client.get(PAGE.rstrip("/"))
    assert response.status_code == 308
    assert response.headers["location"] == "page/"


async def test_the_page_is_not_an_api_operation_the_snapshot_is(kraliki_client):
    spec = (await kraliki_client.get("/openapi.json")).json()
    assert [path for path in spec["paths"] if "/wallboard/page" in path] == []
    assert "get" in spec["paths"]["/api/v1/supervisor/wallboard"]
