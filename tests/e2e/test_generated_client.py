"""A Python client generated from ``/openapi.json`` with openapi-python-client works against a
served platform: it logs in, places calls, pages the list, and hands back a 404 and a 422 as
problems whose ``type`` a program can branch on."""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from kernel.testing import app_client, serve_app
from plugins.calls.testing import use_public_base_url

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
PACKAGE = "kraliki_generated_client"
PASSWORD = "a long enough password"


@pytest.fixture(autouse=True)
def fast_carrier(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback callees answer a hundred times faster (read when the app is built)."""
    monkeypatch.setenv("KRALIKI_LOOPBACK_TIME_SCALE", "0.01")


def generate(spec: dict[str, object], where: Path) -> None:
    (where / "openapi.json").write_text(json.dumps(spec))
    (where / "config.yaml").write_text(
        f"post_hooks: []\nproject_name_override: {PACKAGE}\npackage_name_override: {PACKAGE}\n"
    )
    result = subprocess.run(
        [
            GENERATOR,
            "generate",
            "--path",
            str(where / "openapi.json"),
            "--config",
            str(where / "config.yaml"),
            "--meta",
            "none",
            "--output-path",
            str(where / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Anything the generator could not represent, it leaves out with a warning.
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_a_generated_client_logs_in_places_and_pages_calls_and_reads_problems(
    kraliki_app, kraliki_make_tenant, kraliki_make_user, generated
):
    platform = kraliki_app.state.platform
    tenant = await kraliki_make_tenant("acme")
    await kraliki_make_user(tenant, "owner@acme.test", password=PASSWORD, roles=["owner"])
    async with app_client(kraliki_app) as http:
        spec = (await http.get("/openapi.json")).json()
    await asyncio.to_thread(generate, spec, generated)

    client_module = module("client")
    models = module("models")
    login = module("api.auth.auth_login")
    place = module("api.calls.calls_place")
    list_calls = module("api.calls.calls_list_calls")
    get_call = module("api.calls.calls_get_call")

    async with serve_app(kraliki_app) as url:
        use_public_base_url(platform, url)
        anonymous = client_module.Client(base_url=url)
        tokens = await login.asyncio(
            client=anonymous,
            body=models.LoginRequest(email="owner@acme.test", password=PASSWORD, tenant="acme"),
        )
        assert isinstance(tokens, models.TokenPair), tokens
        api = client_module.AuthenticatedClient(base_url=url, token=tokens.access_token)

        placed = []
        for n in range(3):
            answer = await place.asyncio_detailed(
                client=api,
                body=models.PlaceCallBody(
                    to=f"+1415555012{n}", from_="+14155550100", provider="loopback"
                ),
                idempotency_key=str(uuid.uuid4()),
            )
            assert answer.status_code == 201, answer.content
            assert isinstance(answer.parsed, models.CallOut)
            assert isinstance(answer.parsed.status, models.CallStatus)
            assert answer.parsed.direction == models.Direction.OUTBOUND
            placed.append(answer.parsed.id)

        first = await list_calls.asyncio(client=api, limit=2)
        assert isinstance(first, models.CursorPageCallOut), first
        assert len(first.items) == 2
        assert isinstance(first.next_cursor, str)
        second = await list_calls.asyncio(client=api, limit=2, cursor=first.next_cursor)
        assert isinstance(second, models.CursorPageCallOut), second
        assert second.next_cursor is None
        assert sorted(c.id for c in [*first.items, *second.items]) == sorted(placed)
        ringing = await list_calls.asyncio(client=api, status=[models.CallStatus.COMPLETED])
        assert isinstance(ringing, models.CursorPageCallOut)

        missing = await get_call.asyncio_detailed(client=api, call_id=uuid.uuid4())
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.Problem)
        assert missing.parsed.type_ == "/problems/calls-call-not-found"

        invalid = await place.asyncio_detailed(
            client=api, body=models.PlaceCallBody(to="+14155550123", timeout_seconds=1)
        )
        assert invalid.status_code == 422
        assert isinstance(invalid.parsed, models.ValidationProblem)
        assert invalid.parsed.type_ == "/problems/validation-error"
        assert [e.loc for e in invalid.parsed.errors] == [["body", "timeout_seconds"]]

        refused = await list_calls.asyncio_detailed(client=anonymous)
        assert refused.status_code == 401
        assert refused.parsed.type_ == "/problems/unauthenticated"
