"""Every error is RFC 9457 problem+json with a stable type."""

from __future__ import annotations

import logging

import pytest
from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from kernel import Permission, ProblemError, define_problem, public
from kernel._problems import problem_types
from kernel.testing import app_client

PROBLEM = "application/problem+json"
OUT_OF_STOCK = define_problem("test-out-of-stock", "Out of stock", 409, "The widget is sold out.")


class Signup(BaseModel):
    email: str = Field(pattern=r".+@.+")
    password: str = Field(min_length=12)


def problem_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(public("test routes"))])

    @router.post("/signup")
    async def signup(body: Signup) -> dict[str, str]:
        return {"email": body.email}

    @router.get("/sold-out")
    async def sold_out() -> None:
        raise ProblemError(OUT_OF_STOCK, "widget 7 is sold out", widget=7)

    @router.get("/crash")
    async def crash() -> None:
        raise RuntimeError("database password is hunter2")

    @router.get("/items/{item}")
    async def get_item(item: int) -> int:
        return item

    @router.post("/items/{item}")
    async def post_item(item: int) -> int:
        return item

    @router.patch("/items/{item}")
    async def patch_item(item: int) -> int:
        return item

    @router.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418, "short and stout")

    return router


@pytest.fixture
def kraliki_installed_plugins():
    return []


@pytest.fixture
async def client(kraliki_make_app, make_plugin):
    app = await kraliki_make_app(
        plugins=[
            make_plugin(
                "shop", permissions=[Permission("shop", "read", "x")], routers=[problem_router()]
            )
        ]
    )
    async with app_client(app) as http:
        yield http


async def test_unknown_route_is_a_not_found_problem(client):
    response = await client.get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": "/problems/not-found",
        "title": "Not found",
        "status": 404,
        "instance": "/api/v1/nothing/here",
    }


async def test_wrong_method_is_a_problem(client):
    response = await client.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["type"] == "/problems/method-not-allowed"


async def test_validation_errors_list_fields_and_never_echo_input(client):
    secret = "s3cr3t!"
    response = await client.post("/api/v1/shop/signup", json={"email": "nope", "password": secret})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "/problems/validation-error"
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "email"), ("body", "password")}
    assert secret not in response.text
    assert "nope" not in response.text


async def test_malformed_json_is_a_validation_problem(client):
    response = await client.post(
        "/api/v1/shop/signup", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/validation-error"


async def test_plugin_problem_types_carry_extensions(client):
    response = await client.get("/api/v1/shop/sold-out")
    assert response.status_code == 409
    assert response.json() == {
        "type": "/problems/test-out-of-stock",
        "title": "Out of stock",
        "status": 409,
        "detail": "widget 7 is sold out",
        "instance": "/api/v1/shop/sold-out",
        "widget": 7,
    }


async def test_unhandled_error_is_a_500_problem_without_internals(client, caplog):
    with caplog.at_level(logging.ERROR, logger="kraliki.problems"):
        response = await client.get("/api/v1/shop/crash")
    assert response.status_code == 500
    body = response.json()
    assert body["type"] == "/problems/internal-error"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    incident = body["instance"].rsplit(":", 1)[1]
    assert any(incident in record.getMessage() for record in caplog.records)


async def test_status_without_a_documented_type_uses_about_blank(client):
    response = await client.get("/api/v1/shop/teapot")
    assert response.status_code == 418
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": "about:blank",
        "title": "I'm a Teapot",
        "status": 418,
        "detail": "short and stout",
    }


async def test_problem_types_are_documented_at_their_uri(client):
    for problem in problem_types():
        response = await client.get(problem.uri)
        assert response.status_code == 200, problem.slug
        assert response.json()["status"] == problem.status
    missing = await client.get("/problems/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/not-found"


def test_redefining_a_problem_type_differently_fails():
    define_problem("test-out-of-stock", "Out of stock", 409, "The widget is sold out.")
    with pytest.raises(ValueError, match="already defined"):
        define_problem("test-out-of-stock", "Gone", 410, "Different")


async def test_a_wrong_method_lists_every_method_of_the_path_in_allow(client):
    response = await client.delete("/api/v1/shop/items/7")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "/problems/method-not-allowed"
    assert response.headers["allow"] == "GET, PATCH, POST"
