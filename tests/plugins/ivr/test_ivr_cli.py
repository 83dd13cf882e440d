"""``kraliki ivr test``: a flow's saved tests from a terminal or a CI job."""

from __future__ import annotations

import asyncio
import json

from kernel import open_platform, tenant_scope
from plugins.ivr.models import Flow, FlowTest
from plugins.ivr.samples import SAMPLES


def test_saved_tests_run_from_the_cli(operator_cli):
    run = operator_cli
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
    assert json.loads(as_json.stdout)["Front desk"]["passed"] == 9

    asyncio.run(import_sample("Broken desk", broken=True))
    failed = run("ivr", "test", "--tenant", "acme")
    assert failed.exit_code == 1, failed.output
    assert "Broken desk (draft): 7 passed, 2 failed" in failed.output
    assert "FAIL closed on Christmas Day" in failed.output
    assert "outcome is 'voicemail', expected 'hangup'" in failed.output
