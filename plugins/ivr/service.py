"""What the API and the CLI do with flows: validate, publish, roll back, simulate, test."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError, utcnow
from plugins.calls import routed_numbers, target_providers
from plugins.ivr import events
from plugins.ivr.flowdoc import Issue, ParsedFlow
from plugins.ivr.lookups import performer
from plugins.ivr.models import Flow, FlowSession, FlowTest, FlowVersion, IvrSettingsRow
from plugins.ivr.problems import FLOW_IN_USE, FLOW_INVALID, FLOW_NOT_PUBLISHED, TESTS_FAILED
from plugins.ivr.registry import ivr_state
from plugins.ivr.schemas import VersionRef
from plugins.ivr.simulator import Script, Simulation, simulate
from plugins.ivr.store import DatabaseLoader, get_version, latest_number, parse_version
from plugins.ivr.testcases import Expectation, coverage, failures
from plugins.ivr.validation import Context, validate

DEFAULT_DRAFT: dict[str, Any] = {
    "start": "welcome",
    "nodes": {
        "welcome": {
            "type": "say",
            "text": "Thank you for calling.",
            "exits": {"next": "goodbye"},
        },
        "goodbye": {"type": "hangup", "message": "Goodbye."},
    },
}


async def settings_of(session: AsyncSession) -> IvrSettingsRow:
    row = await session.scalar(select(IvrSettingsRow))
    return row if row is not None else IvrSettingsRow(require_passing_tests=False)


async def published_flow_ids(session: AsyncSession) -> frozenset[uuid.UUID]:
    ids = await session.scalars(select(Flow.id).where(Flow.current_version_id.is_not(None)))
    return frozenset(ids)


async def issues_of(
    platform: Platform, session: AsyncSession, flow: Flow, parsed: ParsedFlow
) -> list[Issue]:
    """Every problem of ``parsed`` as this flow of this organization."""
    context = Context(
        providers=await target_providers(platform, session, "ivr", str(flow.id)),
        published_flows=await published_flow_ids(session),
        flow_id=flow.id,
    )
    return validate(parsed, context)


def parse_draft(platform: Platform, flow: Flow) -> ParsedFlow:
    return ivr_state(platform).parse(flow.draft, flow_id=flow.id)


async def resolve(
    platform: Platform, session: AsyncSession, flow: Flow, ref: VersionRef
) -> ParsedFlow:
    """The draft, the current version or a numbered one, parsed."""
    if ref == "draft":
        return parse_draft(platform, flow)
    if ref == "current":
        if flow.current_version_id is None:
            raise ProblemError(FLOW_NOT_PUBLISHED)
        version = await session.scalar(
            select(FlowVersion).where(FlowVersion.id == flow.current_version_id)
        )
        assert version is not None
    else:
        version = await get_version(session, flow.id, int(ref))
    return parse_version(ivr_state(platform), version)


async def run_simulation(
    platform: Platform, session: AsyncSession, flow: Flow, parsed: ParsedFlow, script: Script
) -> Simulation:
    ivr = ivr_state(platform)
    tenant_id = flow.tenant_id
    draft = parsed if parsed.version_id is None else None
    loader = DatabaseLoader(ivr, session, tenant_id, draft=draft)
    return await simulate(
        parsed,
        loader,
        script,
        live_lookup=performer(platform, tenant_id, ivr.settings.lookup_policy),
        max_steps=ivr.settings.max_steps_per_turn,
        max_depth=ivr.settings.max_subflow_depth,
    )


async def run_tests(
    platform: Platform, session: AsyncSession, flow: Flow, ref: VersionRef
) -> dict[str, Any]:
    """Run every saved test of the flow against ``ref``; results and coverage."""
    parsed = await resolve(platform, session, flow, ref)
    tests = list(
        await session.scalars(
            select(FlowTest).where(FlowTest.flow_id == flow.id).order_by(FlowTest.name)
        )
    )
    results: list[dict[str, Any]] = []
    simulations: list[Simulation] = []
    now = utcnow()
    for test in tests:
        simulation = await run_simulation(
            platform, session, flow, parsed, Script.model_validate(test.script)
        )
        simulations.append(simulation)
        failed = failures(simulation, Expectation.model_validate(test.expect))
        if ref == "draft":  # the saved verdict is the draft's, as the editor shows it
            test.last_run_at = now
            test.last_passed = not failed
        results.append(
            {
                "test_id": test.id,
                "name": test.name,
                "passed": not failed,
                "failures": failed,
                "path": simulation.path,
                "outcome": simulation.outcome,
            }
        )
    passed = sum(1 for result in results if result["passed"])
    return {
        "version": str(ref),
        "passed": passed,
        "failed": len(results) - passed,
        "results": results,
        "coverage": coverage(parsed, simulations),
    }


async def publish(
    platform: Platform, session: AsyncSession, flow: Flow, *, note: str, actor: str | None
) -> FlowVersion:
    parsed = parse_draft(platform, flow)
    issues = await issues_of(platform, session, flow, parsed)
    if issues:
        raise ProblemError(
            FLOW_INVALID,
            f"the draft has {len(issues)} problem(s); the first: {issues[0].message}",
            issues=[issue.as_dict() for issue in issues],
        )
    report: dict[str, Any] | None = None
    if (await settings_of(session)).require_passing_tests:
        report = await run_tests(platform, session, flow, "draft")
        if report["failed"] or not report["results"]:
            failed = [r["name"] for r in report["results"] if not r["passed"]]
            raise ProblemError(
                TESTS_FAILED,
                "the flow has no saved tests"
                if not report["results"]
                else f"{len(failed)} saved test(s) fail against the draft",
                failed=failed,
            )
        report = _summary(report)
    version = FlowVersion(
        flow_id=flow.id,
        number=await latest_number(session, flow.id) + 1,
        document=dict(flow.draft),
        published_by=actor,
        note=note,
        tests=report,
    )
    session.add(version)
    await session.flush()
    flow.current_version_id = version.id
    await platform.events.publish(
        session,
        events.FlowPublished(
            flow_id=flow.id, flow_name=flow.name, flow_version=version.number, actor=actor
        ),
    )
    return version


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "passed": report["passed"],
        "failed": report["failed"],
        "coverage": {
            key: {k: v for k, v in part.items() if k != "missed"}
            for key, part in report["coverage"].items()
        },
    }


async def rollback(
    platform: Platform, session: AsyncSession, flow: Flow, number: int, *, actor: str | None
) -> FlowVersion:
    version = await get_version(session, flow.id, number)
    flow.current_version_id = version.id
    await platform.events.publish(
        session,
        events.FlowRolledBack(
            flow_id=flow.id, flow_name=flow.name, flow_version=version.number, actor=actor
        ),
    )
    return version


async def users_of(session: AsyncSession, flow: Flow) -> list[str]:
    """What routes calls to the flow: numbers, other flows running it as a sub-flow, and
    calls in it right now (they would lose their version mid-call)."""
    used = [f"number {n}" for n in await routed_numbers(session, "ivr", str(flow.id))]
    live = await session.scalar(
        select(func.count())
        .select_from(FlowSession)
        .where(FlowSession.flow_id == flow.id, FlowSession.status == "active")
    )
    if live:
        used.append(f"{live} call(s) in progress")
    current = {
        version.id: version.document
        for version in await session.scalars(
            select(FlowVersion).join(Flow, Flow.current_version_id == FlowVersion.id)
        )
    }
    others = await session.scalars(select(Flow).where(Flow.id != flow.id).order_by(Flow.name))
    for other in others:
        documents = [other.draft, current.get(other.current_version_id or flow.id)]
        if any(_runs(document, flow.id) for document in documents if document):
            used.append(f"flow {other.name}")
    return used


def _runs(document: dict[str, Any], flow_id: uuid.UUID) -> bool:
    """Whether a flow document (a draft or a published version) runs ``flow_id``."""
    nodes = document.get("nodes", {})
    target = str(flow_id)
    return any(isinstance(node, dict) and node.get("flow_id") == target for node in nodes.values())


async def check_unused(session: AsyncSession, flow: Flow) -> None:
    used = await users_of(session, flow)
    if used:
        raise ProblemError(FLOW_IN_USE, f"{used[0]} still uses this flow", used_by=used)
