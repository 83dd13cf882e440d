"""``/api/v1/ivr``: flows (draft, validate, publish, versions, rollback, simulate), node
types, samples and settings. Saved tests are in ``tests_api``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kernel import (
    CursorPage,
    PageParamsDep,
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    paginate,
    problem_responses,
    record_audit_event,
    require,
)
from plugins.ivr import samples, service
from plugins.ivr.models import Flow, FlowTest, FlowVersion
from plugins.ivr.problems import (
    DRAFT_CHANGED,
    FLOW_EXISTS,
    FLOW_IN_USE,
    FLOW_INVALID,
    FLOW_NOT_FOUND,
    SAMPLE_NOT_FOUND,
    TESTS_FAILED,
    VERSION_NOT_FOUND,
)
from plugins.ivr.registry import ivr_state
from plugins.ivr.schemas import (
    FlowCreate,
    FlowOut,
    FlowUpdate,
    FlowValidationOut,
    IssueOut,
    IvrSettings,
    NodeTypeOut,
    PublishBody,
    RollbackBody,
    SampleOut,
    SimulateBody,
    SimulationOut,
    VersionDetailOut,
    VersionOut,
)
from plugins.ivr.simulator import Script
from plugins.ivr.store import get_flow, get_version

router = APIRouter(prefix="/flows")
ONE_FLOW = problem_responses(FLOW_NOT_FOUND)
fixed_router = APIRouter()

Reader = Annotated[Principal, Depends(require("ivr.flows", "read"))]
Writer = Annotated[Principal, Depends(require("ivr.flows", "write"))]
Publisher = Annotated[Principal, Depends(require("ivr.flows", "publish"))]
SettingsReader = Annotated[Principal, Depends(require("ivr.settings", "read"))]
SettingsWriter = Annotated[Principal, Depends(require("ivr.settings", "write"))]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The draft revision (`ETag`) the change is based on; 412 if it moved on.",
    ),
]


async def flow_out(session: SessionDep, flow: Flow) -> FlowOut:
    number = None
    if flow.current_version_id is not None:
        number = await session.scalar(
            select(FlowVersion.number).where(FlowVersion.id == flow.current_version_id)
        )
    return FlowOut(
        id=flow.id,
        name=flow.name,
        description=flow.description,
        draft=flow.draft,
        draft_revision=flow.draft_revision,
        current_version=number,
        created_at=flow.created_at,
        updated_at=flow.updated_at,
    )


def _tagged(response: Response, flow: Flow) -> None:
    response.headers["ETag"] = f'"{flow.draft_revision}"'


async def _commit_named(session: SessionDep, name: str) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ProblemError(FLOW_EXISTS, f"a flow named {name!r} exists") from None


# --- flows ---------------------------------------------------------------------------------


@router.get("", response_model=CursorPage[FlowOut], summary="List call flows")
async def list_flows(
    _principal: Reader, session: SessionDep, page: PageParamsDep
) -> CursorPage[FlowOut]:
    rows, cursor = await paginate(
        session, select(Flow), order_by=[Flow.created_at, Flow.id], params=page
    )
    return CursorPage(items=[await flow_out(session, row) for row in rows], next_cursor=cursor)


@router.post(
    "",
    response_model=FlowOut,
    status_code=201,
    summary="Create a flow (a draft)",
    responses=problem_responses(FLOW_EXISTS),
)
async def create_flow(
    body: FlowCreate, principal: Writer, session: SessionDep, response: Response
) -> FlowOut:
    draft = (
        body.draft.model_dump(mode="json", exclude_unset=False)
        if body.draft is not None
        else dict(service.DEFAULT_DRAFT)
    )
    flow = Flow(name=body.name, description=body.description, draft=draft, draft_revision=1)
    session.add(flow)
    await _commit_named(session, body.name)
    _tagged(response, flow)
    return await flow_out(session, flow)


@router.get(
    "/{flow_id}", response_model=FlowOut, summary="Get a flow and its draft", responses=ONE_FLOW
)
async def get_one(
    flow_id: uuid.UUID, _principal: Reader, session: SessionDep, response: Response
) -> FlowOut:
    flow = await get_flow(session, flow_id)
    _tagged(response, flow)
    return await flow_out(session, flow)


@router.patch(
    "/{flow_id}",
    response_model=FlowOut,
    summary="Rename or change the draft",
    responses=problem_responses(FLOW_NOT_FOUND, FLOW_EXISTS, DRAFT_CHANGED),
)
async def update_flow(
    flow_id: uuid.UUID,
    body: FlowUpdate,
    _principal: Writer,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> FlowOut:
    flow = await get_flow(session, flow_id, for_update=True)
    if if_match is not None and if_match.strip('"W/ ') != str(flow.draft_revision):
        raise ProblemError(
            DRAFT_CHANGED,
            f"the draft is at revision {flow.draft_revision}",
            revision=flow.draft_revision,
        )
    if body.name is not None:
        flow.name = body.name
    if body.description is not None:
        flow.description = body.description
    if body.draft is not None:
        flow.draft = body.draft.model_dump(mode="json")
        flow.draft_revision += 1
    await _commit_named(session, flow.name)
    _tagged(response, flow)
    return await flow_out(session, flow)


@router.delete(
    "/{flow_id}",
    status_code=204,
    summary="Delete a flow no number or flow uses",
    responses=problem_responses(FLOW_NOT_FOUND, FLOW_IN_USE),
)
async def delete_flow(flow_id: uuid.UUID, principal: Writer, session: SessionDep) -> Response:
    flow = await get_flow(session, flow_id, for_update=True)
    await service.check_unused(session, flow)
    await session.delete(flow)
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/{flow_id}/validate",
    response_model=FlowValidationOut,
    summary="Check the draft for problems",
    responses=ONE_FLOW,
)
async def validate_flow(
    flow_id: uuid.UUID, _principal: Reader, session: SessionDep, platform: PlatformDep
) -> FlowValidationOut:
    flow = await get_flow(session, flow_id)
    issues = await service.issues_of(platform, session, flow, service.parse_draft(platform, flow))
    return FlowValidationOut(
        valid=not issues, issues=[IssueOut(**issue.as_dict()) for issue in issues]
    )


@router.post(
    "/{flow_id}/publish",
    response_model=VersionOut,
    status_code=201,
    summary="Publish the draft as a new version",
    responses=problem_responses(FLOW_NOT_FOUND, TESTS_FAILED, FLOW_INVALID),
)
async def publish_flow(
    flow_id: uuid.UUID,
    body: PublishBody,
    principal: Publisher,
    session: SessionDep,
    platform: PlatformDep,
    request: Request,
) -> VersionOut:
    flow = await get_flow(session, flow_id, for_update=True)
    version = await service.publish(
        platform, session, flow, note=body.note, actor=principal.subject
    )
    return await _made_current(session, principal, request, "ivr.flow.published", flow, version)


@router.get(
    "/{flow_id}/versions",
    response_model=list[VersionOut],
    summary="List versions",
    responses=ONE_FLOW,
)
async def list_versions(
    flow_id: uuid.UUID, _principal: Reader, session: SessionDep
) -> list[VersionOut]:
    flow = await get_flow(session, flow_id)
    versions = await session.scalars(
        select(FlowVersion).where(FlowVersion.flow_id == flow.id).order_by(FlowVersion.number)
    )
    return [_version_out(v, current=v.id == flow.current_version_id) for v in versions]


@router.get(
    "/{flow_id}/versions/{number}",
    response_model=VersionDetailOut,
    summary="Get a version",
    responses=problem_responses(FLOW_NOT_FOUND, VERSION_NOT_FOUND),
)
async def get_one_version(
    flow_id: uuid.UUID, number: int, _principal: Reader, session: SessionDep
) -> VersionDetailOut:
    flow = await get_flow(session, flow_id)
    version = await get_version(session, flow.id, number)
    out = _version_out(version, current=version.id == flow.current_version_id)
    return VersionDetailOut(**out.model_dump(), document=version.document)


@router.post(
    "/{flow_id}/rollback",
    responses=problem_responses(FLOW_NOT_FOUND, VERSION_NOT_FOUND),
    response_model=VersionOut,
    summary="Make an earlier version the one new calls run",
)
async def rollback_flow(
    flow_id: uuid.UUID,
    body: RollbackBody,
    principal: Publisher,
    session: SessionDep,
    platform: PlatformDep,
    request: Request,
) -> VersionOut:
    flow = await get_flow(session, flow_id, for_update=True)
    version = await service.rollback(platform, session, flow, body.version, actor=principal.subject)
    return await _made_current(session, principal, request, "ivr.flow.rolled-back", flow, version)


@router.post(
    "/{flow_id}/simulate",
    responses=ONE_FLOW,
    response_model=SimulationOut,
    summary="Run the flow against a scripted caller (no provider, no call)",
)
async def simulate_flow(
    flow_id: uuid.UUID,
    body: SimulateBody,
    _principal: Writer,
    session: SessionDep,
    platform: PlatformDep,
) -> SimulationOut:
    flow = await get_flow(session, flow_id)
    parsed = await service.resolve(platform, session, flow, body.version)
    script = Script.model_validate(body.model_dump(exclude={"version"}, by_alias=True))
    return await service.run_simulation(platform, session, flow, parsed, script)


async def _made_current(
    session: SessionDep,
    principal: Principal,
    request: Request,
    action: str,
    flow: Flow,
    version: FlowVersion,
) -> VersionOut:
    """Audit and commit a version becoming the one new calls run."""
    record_audit_event(
        session,
        principal,
        action,
        request=request,
        target_type="ivr_flow",
        target_id=flow.id,
        details={"version": version.number},
    )
    await session.commit()
    return _version_out(version, current=True)


def _version_out(version: FlowVersion, *, current: bool) -> VersionOut:
    return VersionOut(
        number=version.number,
        published_at=version.published_at,
        published_by=version.published_by,
        note=version.note,
        current=current,
        tests=version.tests,
    )


# --- node types, samples, settings ---------------------------------------------------------


@fixed_router.get(
    "/node-types", response_model=list[NodeTypeOut], summary="Node types and their schemas"
)
async def node_types(_principal: Reader, platform: PlatformDep) -> list[NodeTypeOut]:
    types = ivr_state(platform).types
    return [
        NodeTypeOut(
            name=name,
            description=node_type.description,
            waits=node_type.waits,
            ends=node_type.ends,
            schema=node_type.config.model_json_schema(),
        )
        for name, _plugin, node_type in types.items()
    ]


@fixed_router.get("/samples", response_model=list[SampleOut], summary="Sample flows to import")
async def list_samples(_principal: Reader) -> list[SampleOut]:
    return [
        SampleOut(name=sample.name, title=sample.title, description=sample.description)
        for sample in samples.SAMPLES.values()
    ]


@fixed_router.post(
    "/samples/{name}/import",
    responses=problem_responses(SAMPLE_NOT_FOUND, FLOW_EXISTS),
    response_model=FlowOut,
    status_code=201,
    summary="Create a flow (draft and tests) from a sample",
)
async def import_sample(
    name: str, _principal: Writer, session: SessionDep, response: Response
) -> FlowOut:
    sample = samples.SAMPLES.get(name)
    if sample is None:
        raise ProblemError(SAMPLE_NOT_FOUND)
    flow = Flow(
        name=sample.title,
        description=sample.description,
        draft=sample.document(),
        draft_revision=1,
    )
    session.add(flow)
    try:
        await session.flush()  # the tests need the flow's id; a taken name fails here
    except IntegrityError:
        await session.rollback()
        raise ProblemError(FLOW_EXISTS, f"a flow named {sample.title!r} exists") from None
    for test in sample.tests():
        session.add(FlowTest(flow_id=flow.id, **test))
    await _commit_named(session, sample.title)
    _tagged(response, flow)
    return await flow_out(session, flow)


@fixed_router.get("/settings", response_model=IvrSettings, summary="IVR settings")
async def get_settings(_principal: SettingsReader, session: SessionDep) -> IvrSettings:
    row = await service.settings_of(session)
    return IvrSettings(require_passing_tests=row.require_passing_tests)


@fixed_router.put("/settings", response_model=IvrSettings, summary="Change the IVR settings")
async def put_settings(
    body: IvrSettings, principal: SettingsWriter, session: SessionDep, request: Request
) -> IvrSettings:
    row = await service.settings_of(session)
    if row not in session:
        session.add(row)
    row.require_passing_tests = body.require_passing_tests
    record_audit_event(
        session,
        principal,
        "ivr.settings.changed",
        request=request,
        target_type="ivr_settings",
        details=body.model_dump(),
    )
    await session.commit()
    return IvrSettings(require_passing_tests=row.require_passing_tests)
