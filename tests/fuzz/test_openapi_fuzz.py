"""Schema-driven fuzzing of the whole API: every operation of ``/openapi.json``, with valid and
invalid input generated from its schema (schemathesis), must answer without a server error
and as its schema says (content type and body, errors included: problem+json).

Runs in process against the ASGI app with every installed plugin (plus the in-process
fakeline provider, so that nothing reaches a network), on the test database of the run
(SQLite, or PostgreSQL as the unprivileged app role). The caller is the owner of one
organization, logged in once through the real login route; schemathesis logs in again when
an answer is 401 (the fuzzer may log its own session out). The login route is fuzzed too:
failed logins there are throttled per account and address like anyone's, so the app's
throttle is raised for this run and the owner's own login never waits for it.

Bounded and reproducible: a fixed example budget per operation and mode
(``KRALIKI_FUZZ_EXAMPLES`` overrides it), derandomized generation (the same cases on every
run), no deadline. Each operation and mode is one test, so xdist spreads them. See
``docs/adr/0019-untrusted-input.md``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

import kernel._passwords
from kernel import tenant_scope
from kernel._identity.provisioning import add_user
from kernel._identity.routes import auth as auth_routes
from kernel._migrations import upgrade
from kernel._platform import Platform, resolve_plugins
from kernel._plugins import installed_plugins, select_plugins
from kernel.testing import (
    TestDatabase,
    create_tenant,
    create_test_database,
    drop_test_database,
    postgres_test_urls,
)
from plugins.calls.testing import fakeline_plugin

OWNER = ("owner@fuzz.example.com", "fuzzing owner password 1")
TENANT = "fuzz"
EXAMPLES_PER_OPERATION = int(
    os.environ.get("KRALIKI_FUZZ_EXAMPLES") or (50 if postgres_test_urls() else 10)
)
"""Generated cases per operation and mode: PostgreSQL, which refuses the most, gets the
larger budget (about 100 s with two workers here); the SQLite run a quick pass."""

# Every operation documents a `default` problem response (kernel/_openapi.py), so
# schemathesis' status-code check would pass anything: it is left out.
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The app's OpenAPI schema, bound to a started app on a database of its own."""
    with pytest.MonkeyPatch.context() as patch:
        # Argon2id at its minimum cost (as in every test): logins are part of the traffic.
        from argon2 import PasswordHasher

        patch.setattr(
            kernel._passwords,
            "_hasher",
            PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
        )
        # Failed logins verify against the route's timing equalizer: cheap here too.
        patch.setattr(auth_routes, "_DUMMY_HASH", kernel._passwords.hash_password("fuzz"))
        database = asyncio.run(create_test_database(tmp_path_factory.mktemp("fuzz")))
        try:
            app = asyncio.run(_prepared_app(database))
            schema = schemathesis.openapi.from_asgi("/openapi.json", app)
            schema.auth()(OwnerLogin)
            yield schema
            asgi.shutdown_lifespans()  # disposes the app's engine before the schema goes
        finally:
            asyncio.run(drop_test_database(database))


async def _prepared_app(database: TestDatabase) -> FastAPI:
    """A migrated app whose tenant ``fuzz`` has an owner and takes calls on fakeline.

    Its lifespan is left to schemathesis, which serves it on an event loop of its own."""
    from kernel import create_app

    plugins = [*select_plugins(installed_plugins(), None), fakeline_plugin()]
    settings_ = database.settings(
        background_workers=False,
        rate_limit_tenant_per_minute=0,  # 0: unlimited
        rate_limit_api_key_per_minute=0,
        login_max_failures_per_account=1_000_000,
        login_max_failures_per_address=1_000_000,
    )
    await upgrade(settings_, resolve_plugins(settings_, plugins))
    app = create_app(settings_, plugins=plugins)
    platform: Platform = app.state.platform
    await _provision(platform)
    await platform.database.dispose()  # its connections belong to this event loop
    return app


async def _provision(platform: Platform) -> uuid.UUID:
    from plugins.calls.models import CallSettingsRow

    tenant_id = await create_tenant(platform, TENANT)
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await add_user(session, email=OWNER[0], password=OWNER[1], roles=["owner"])
            await platform.vault.put(session, "fakeline.signing_key", "fuzz-secret", actor="test")
            session.add(CallSettingsRow(primary_provider="fakeline", max_concurrent_calls=5))
            await session.commit()
    return tenant_id


class OwnerLogin:
    """A bearer token of the owner, from the login route (again after a 401)."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        with asgi.get_client(context.app) as client:
            response = client.post(
                "/api/v1/auth/login",
                json={"email": OWNER[0], "password": OWNER[1], "tenant": TENANT},
            )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def _operations() -> list[Any]:
    """``METHOD /path`` and generation mode of every operation the app serves (read at
    collection time from an app that is never started): invalid input only where the
    operation takes some."""
    from kernel import Settings, create_app

    settings_ = Settings(
        _env_file=None, database_url="sqlite+aiosqlite:///:memory:", master_key="unused"
    )
    plugins = [*select_plugins(installed_plugins(), None), fakeline_plugin()]
    spec = create_app(settings_, plugins=plugins).openapi()
    cases = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            answers = operation.get("responses", {}).get("200", {}).get("content", {})
            streams = "text/event-stream" in answers
            cases.append(pytest.param(label, GenerationMode.POSITIVE, streams, id=f"{label}-valid"))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append(
                    pytest.param(label, GenerationMode.NEGATIVE, streams, id=f"{label}-invalid")
                )
    return cases


# schemathesis' strategies draw from `random` (hypothesis warns; derandomize still holds).
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize(("operation", "mode", "streams"), _operations())
def test_operation_answers_within_its_schema(
    fuzz_schema: Any, operation: str, mode: GenerationMode, streams: bool
) -> None:
    method, path = operation.split(" ", 1)
    target = fuzz_schema[path][method]
    # A path parameter drawn as one of its siblings' fixed segments (`/contacts/fields` for
    # `/contacts/{contact_id}`) is another operation, answered by its own schema.
    fixed = {p for p in fuzz_schema.raw_schema["paths"] if "{" not in p} - {path}

    @given(case=target.as_strategy(generation_mode=mode, auth_storage=fuzz_schema.auth))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        assume(case.formatted_path not in fixed)
        # An event stream never ends: what it sent within a second is its answer.
        case.call_and_validate(checks=CHECKS, timeout=1.0 if streams else None)

    try:
        fuzz()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        pytest.skip("every value its parameters' schemas allow is valid: nothing to make invalid")
