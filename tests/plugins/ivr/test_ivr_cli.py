"""``kraliki ivr test``: a flow's saved tests from a terminal or a CI job."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner

from kernel import open_platform, tenant_scope
from kernel._cli import build_cli
from plugins.ivr.models import Flow, FlowTest
from plugins.ivr.samples import SAMPLES


def test_saved_tests_run_from_the_cli(kraliki_database, monkeypatch, tmp_path):
    monkeypatch.delenv("KRALIKI_PLUGINS", raising=False)
    monkeypatch.setenv("KRALIKI_DATABASE_URL", kraliki_database.url)
    monkeypatch.setenv("KRALIKI_MIGRATION_DATABASE_URL", kraliki_database.owner_url)
    monkeypatch.setenv("KRALIKI_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    if kraliki_database.schema:
        monkeypatch.setenv("KRALIKI_DATABASE_SCHEMA", kraliki_database.schema)

    def run(*args: str):
        return CliRunner().invoke(build_cli(), list(args))

    assert run("migrate").exit_code == 0
    created = run(
        "tenants",
        "create",
        "--name",
        "Acme",
        "--slug",
        "acme",
        "--owner-email",
        "owner@acme.example.com",
        "--owner-password",
        "a long enough password 1",
    )
    assert created.exit_code == 0, created.output
    assert "no tenant 'nope'" in run("ivr", "test", "--tenant", "nope").output

    async def import_sample(name: str, broken: bool) -> None:
        sample = SAMPLES["front-desk"]
        async with open_platform() as platform:
            async with platform.database.session() as session:
                from sqlalchemy import select

                from kernel import Tenant

                tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
            with tenant_scope(tenant_id):
                async with platform.database.session() as session:
                    flow = Flow(name=name, description="", draft=sample.document())
                    session.add(flow)
                    await session.flush()
                    for test in sample.tests():
                        if broken and test["name"].startswith("closed"):
                            test["expect"]["outcome"] = "hangup"
                        session.add(FlowTest(flow_id=flow.id, **test))
                    await session.commit()

    asyncio.run(import_sample("Front desk", broken=False))
    passed = run("ivr", "test", "--tenant", "acme")
    assert passed.exit_code == 0, passed.output
    assert "Front desk (draft): 9 passed, 0 failed; nodes 100.0%" in passed.output
    as_json = run("ivr", "test", "--tenant", "acme", "--json")
    assert json.loads(as_json.output)["Front desk"]["passed"] == 9

    asyncio.run(import_sample("Broken desk", broken=True))
    failed = run("ivr", "test", "--tenant", "acme")
    assert failed.exit_code == 1, failed.output
    assert "Broken desk (draft): 7 passed, 2 failed" in failed.output
    assert "FAIL closed on Christmas Day" in failed.output
    assert "outcome is 'voicemail', expected 'hangup'" in failed.output
