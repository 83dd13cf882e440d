"""Input no field can take answers 422 with a stable problem type, never 500, on SQLite and
PostgreSQL alike: the request guard (``kernel._input``) for what no route accepts, the storage
guard (``kernel._storable``) for what a column cannot hold. Both come with the kernel, so the
routes here are the kernel's and a throwaway plugin's, with nothing of their own for it."""

from __future__ import annotations

import uuid
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, Form
from sqlalchemy import insert, select, text

from kernel import (
    Permission,
    SessionDep,
    Tenant,
    UnstorableValueError,
    public,
    require,
    storable_json,
    storable_text,
)
from kernel.testing import DEFAULT_TEST_PASSWORD, login

LOGIN = "/api/v1/auth/login"
VALIDATION = "/problems/validation-error"
UNSTORABLE = "/problems/unstorable-value"


@pytest.fixture
def kraliki_extra_plugins(make_plugin):
    """A plugin with a form route and a route that stores what it is given (no own checks)."""
    router = APIRouter()

    @router.post("/form", dependencies=[Depends(public("test"))])
    async def form(name: Annotated[str, Form()]) -> dict[str, str]:
        return {"name": name}

    @router.post("/echo", dependencies=[Depends(public("test"))])
    async def echo(body: dict[str, object]) -> dict[str, object]:
        return body

    @router.post("/rename/{slug}")
    async def rename(
        slug: str,
        name: str,
        session: SessionDep,
        _: Annotated[object, Depends(require("probe.things", "write"))],
    ) -> dict[str, str]:
        await session.execute(insert(Tenant).values(id=uuid.uuid4(), slug=slug, name=name))
        await session.commit()
        return {"slug": slug}

    permission = Permission("probe.things", "write", "Write things.", ("owner",))
    return [make_plugin("probe", permissions=[permission], routers=[router])]


@pytest.fixture
async def owner(kraliki_client, kraliki_make_tenant, kraliki_make_user) -> dict[str, str]:
    tenant = await kraliki_make_tenant("acme")
    await kraliki_make_user(tenant, "owner@acme.example.com", roles=["owner"])
    return await login(kraliki_client, "owner@acme.example.com", tenant="acme")


def _problem(response, status: int, problem: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["type"] == problem
    return body


def _error(response) -> tuple[list[object], str]:
    """(loc, type) of the only error of a validation-error answer."""
    [error] = _problem(response, 422, VALIDATION)["errors"]  # type: ignore[misc]
    return error["loc"], error["type"]


# --- the unauthenticated login route: anyone can send these -------------------------------


async def test_login_with_a_nul_in_the_email_is_refused(kraliki_client):
    response = await kraliki_client.post(
        LOGIN, json={"email": "a\u0000@example.com", "password": "x", "tenant": "acme"}
    )
    assert _error(response) == (["body", "email"], "nul_character")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'"\\ud800"', "lone_surrogate"),
        (b'"\xed\xa0\x80"', "lone_surrogate"),  # the UTF-8 bytes of a surrogate
        (b"NaN", "non_finite_number"),
        (b"-Infinity", "non_finite_number"),
        (b"1e999", "non_finite_number"),
        (b"9223372036854775808", "out_of_range"),
    ],
)
async def test_json_no_route_can_take_is_refused_where_it_is(kraliki_client, raw, problem):
    body = b'{"email": "a@example.com", "password": ' + raw + b', "tenant": "acme"}'
    response = await kraliki_client.post(
        LOGIN, content=body, headers={"content-type": "application/json"}
    )
    assert _error(response) == (["body", "password"], problem)


async def test_keys_are_checked_too_and_never_answered_as_they_came(kraliki_client):
    response = await kraliki_client.post(
        "/api/v1/probe/echo",
        content=b'{"a": {"\\ud800x": 1}}',
        headers={"content-type": "application/json"},
    )
    assert _error(response) == (["body", "a", "\ufffdx"], "lone_surrogate")


@pytest.mark.parametrize(
    "text_",
    [
        "\U0001f600 a pair of surrogates is one character",
        "\\u0000 is six characters here",
        "12345678901234567890 as text",
        "Infinity and NaN as words",
    ],
)
async def test_what_only_looks_suspect_passes(kraliki_client, text_):
    response = await kraliki_client.post(
        "/api/v1/probe/echo", json={"text": text_, "big": 2**63 - 1, "small": 1e-999}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"text": text_, "big": 2**63 - 1, "small": 0.0}


async def test_malformed_json_is_still_the_usual_validation_error(kraliki_client):
    response = await kraliki_client.post(
        LOGIN, content=b'{"email": NaN', headers={"content-type": "application/json"}
    )
    assert _error(response)[1] == "json_invalid"


async def test_nul_in_a_form_field_is_refused(kraliki_client):
    response = await kraliki_client.post("/api/v1/probe/form", data={"name": "a\x00b"})
    assert _error(response) == (["body", "name"], "nul_character")
    ok = await kraliki_client.post("/api/v1/probe/form", data={"name": "ab"})
    assert ok.json() == {"name": "ab"}


async def test_nul_in_the_query_string_and_the_path_is_refused(kraliki_client, owner):
    query = await kraliki_client.get("/api/v1/users?cursor=%00", headers=owner)
    assert _error(query) == (["query", "cursor"], "nul_character")
    path = await kraliki_client.get("/api/v1/roles/a%00b", headers=owner)
    assert _error(path) == (["path"], "nul_character")


# --- what a column cannot hold --------------------------------------------------------------


async def test_text_longer_than_its_column_is_refused_on_both_databases(kraliki_client, owner):
    """Tenant settings: ``locale`` is a VARCHAR(35); the route's own checks allow more."""
    locale = "en" + "-abcdefgh" * 5
    response = await kraliki_client.patch("/api/v1/tenant", headers=owner, json={"locale": locale})
    body = _problem(response, 422, UNSTORABLE)
    assert (body["field"], body["reason"]) == ("locale", "too-long")
    assert locale not in response.text
    fine = await kraliki_client.patch("/api/v1/tenant", headers=owner, json={"locale": "cs-CZ"})
    assert fine.json()["locale"] == "cs-CZ"


async def test_a_plugin_gets_the_column_checks_without_writing_any(kraliki_client, owner):
    long_name = await kraliki_client.post(
        "/api/v1/probe/rename/fresh", params={"name": "x" * 201}, headers=owner
    )
    assert _problem(long_name, 422, UNSTORABLE)["field"] == "name"
    fine = await kraliki_client.post(
        "/api/v1/probe/rename/fresh", params={"name": "ok"}, headers=owner
    )
    assert fine.status_code == 200


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        (select(Tenant).where(Tenant.policy_version == 2**31), "out-of-range"),
        (select(Tenant).where(Tenant.policy_version.in_([1, -(2**31) - 1])), "out-of-range"),
        (select(Tenant).where(Tenant.slug == "a\x00"), "nul-character"),
        (select(Tenant).where(Tenant.name == "\ud800"), "lone-surrogate"),
        (
            insert(Tenant).values(id=uuid.uuid4(), slug="x", name="x", disabled_plugins=["\x00"]),
            "nul-character",
        ),
        (
            insert(Tenant).values(
                id=uuid.uuid4(), slug="x", name="x", disabled_plugins=[float("nan")]
            ),
            "non-finite-number",
        ),
        (insert(Tenant).values(id=uuid.uuid4(), slug="s" * 64, name="x"), "too-long"),
    ],
)
async def test_statements_the_database_cannot_run_are_refused_before_sending(
    kraliki_platform, statement, reason
):
    async with kraliki_platform.database.session() as session:
        with pytest.raises(UnstorableValueError) as refused:
            await session.execute(statement)
        await session.rollback()
        assert refused.value.reason == reason
        # The session (and on PostgreSQL its transaction) is still usable.
        assert (await session.scalar(select(Tenant.id).limit(1))) is None


async def test_a_longer_value_in_a_where_clause_just_matches_nothing(kraliki_platform):
    async with kraliki_platform.database.session() as session:
        assert await session.scalar(select(Tenant).where(Tenant.slug == "s" * 500)) is None


async def test_what_the_database_still_refuses_is_the_same_error(kraliki_platform):
    """An untyped parameter the guard cannot judge: the database's own refusal (SQLSTATE
    class 22 on PostgreSQL, OverflowError in sqlite3) is translated."""
    statement = (
        text("SELECT :n + 1")
        if kraliki_platform.database.dialect == "sqlite"
        else (text("SELECT CAST(:n AS integer)"))
    )
    async with kraliki_platform.database.session() as session:
        with pytest.raises(UnstorableValueError):
            await session.execute(statement, {"n": 2**70})


def test_storable_helpers_keep_what_they_can():
    assert storable_text("a\x00b\ud800") == "a\ufffdb\ufffd"
    assert storable_json({"k\x00": [float("inf"), -float("inf"), float("nan"), 1.5, "\ud800"]}) == {
        "k\ufffd": ["Infinity", "-Infinity", "NaN", 1.5, "\ufffd"]
    }


async def test_ordinary_requests_are_untouched(kraliki_client, owner):
    response = await kraliki_client.post(
        LOGIN,
        json={
            "email": "owner@acme.example.com",
            "password": DEFAULT_TEST_PASSWORD,
            "tenant": "acme",
        },
    )
    assert response.status_code == 200
