"""Routes of the contacts plugin's segments (under ``/api/v1/contacts/segments``); thin,
see ``service.py``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    CursorPage,
    PageParams,
    PageParamsDep,
    Principal,
    ProblemError,
    SessionDep,
    if_match_allows,
    paginate,
    problem_responses,
    record_audit_event,
    require,
)
from plugins.contacts.filters import validate_filter
from plugins.contacts.models import Contact, Segment
from plugins.contacts.permissions import CONTACTS_READ, SEGMENTS_READ, SEGMENTS_WRITE
from plugins.contacts.schemas import ContactOut
from plugins.contacts.segments import service
from plugins.contacts.segments.problems import (
    FILTER_INVALID,
    FILTER_UNKNOWN_FIELDS,
    SEGMENT_CHANGED,
    SEGMENT_EXISTS,
    SEGMENT_NOT_FOUND,
    SEGMENT_WRONG_KIND,
    UNKNOWN_CONTACTS,
)
from plugins.contacts.segments.schemas import (
    ContactSegmentCreate,
    ContactSegmentOut,
    ContactSegmentUpdate,
    SegmentMembers,
    SegmentMembersChanged,
    SegmentPreview,
    SegmentPreviewOut,
)
from plugins.contacts.service import contact_outs

router = APIRouter(prefix="/segments", tags=["contacts"])

Reader = Annotated[Principal, Depends(require(SEGMENTS_READ.resource, SEGMENTS_READ.action))]
Writer = Annotated[Principal, Depends(require(SEGMENTS_WRITE.resource, SEGMENTS_WRITE.action))]
ContactsReader = Depends(require(CONTACTS_READ.resource, CONTACTS_READ.action))
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The segment's version (`ETag`) the change is based on; 412 if it moved on.",
    ),
]
FILTER_PROBLEMS = (FILTER_UNKNOWN_FIELDS, FILTER_INVALID)
ONE = problem_responses(SEGMENT_NOT_FOUND)


async def _segment(
    session: AsyncSession, segment_id: uuid.UUID, *, for_update: bool = False
) -> Segment:
    try:
        return await service.get_segment(session, segment_id, for_update=for_update)
    except service.SegmentNotFoundError:
        raise ProblemError(SEGMENT_NOT_FOUND) from None


def _out(segment: Segment, count: int | None = None) -> ContactSegmentOut:
    return ContactSegmentOut(
        id=segment.id,
        name=segment.name,
        description=segment.description,
        kind=service.SegmentKind(segment.kind),
        filter=segment.filter if segment.kind == service.SegmentKind.DYNAMIC else None,
        version=segment.version,
        count=count,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
    )


def _check_version(segment: Segment, if_match: str | None) -> None:
    """``If-Match``: one or more ETags (weak or strong), or ``*``; 412 unless one is the
    segment's version."""
    if not if_match_allows(if_match, segment.version):
        raise ProblemError(
            SEGMENT_CHANGED, f"the segment is at version {segment.version}", version=segment.version
        )


def _tagged(response: Response, segment: Segment) -> None:
    response.headers["ETag"] = f'"{segment.version}"'


def _exists(name: str) -> ProblemError:
    return ProblemError(SEGMENT_EXISTS, f"a segment named {name!r} exists")


def _wrong_kind(exc: service.WrongKindError) -> ProblemError:
    return ProblemError(SEGMENT_WRONG_KIND, str(exc))


async def _page(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], page: PageParams
) -> CursorPage[ContactOut]:
    rows, cursor = await paginate(
        session,
        service.contacts_query(conditions),
        order_by=[Contact.id],
        params=page,
        descending=False,
    )
    return CursorPage(items=await contact_outs(session, rows), next_cursor=cursor)


def _audit(
    session: AsyncSession,
    principal: Principal,
    request: Request,
    action: str,
    segment_id: uuid.UUID,
    details: dict[str, Any] | None = None,
) -> None:
    record_audit_event(
        session,
        principal,
        f"contacts.segment.{action}",
        request=request,
        target_type="contacts_segment",
        target_id=segment_id,
        details=details,
    )


# --- segments ---------------------------------------------------------------------------


@router.get("", response_model=CursorPage[ContactSegmentOut], summary="List segments (by name)")
async def list_segments(
    _principal: Reader, session: SessionDep, page: PageParamsDep
) -> CursorPage[ContactSegmentOut]:
    rows, cursor = await paginate(
        session,
        service.list_query(),
        order_by=[Segment.name, Segment.id],
        params=page,
        descending=False,
    )
    return CursorPage(items=[_out(row) for row in rows], next_cursor=cursor)


@router.post(
    "",
    response_model=ContactSegmentOut,
    status_code=201,
    summary="Save a segment: a filter (dynamic) or an empty list to add contacts to (static)",
    responses=problem_responses(SEGMENT_EXISTS, *FILTER_PROBLEMS),
)
async def create_segment(
    body: ContactSegmentCreate,
    request: Request,
    principal: Writer,
    session: SessionDep,
    response: Response,
) -> ContactSegmentOut:
    if body.filter is not None:
        await validate_filter(session, body.filter)
    try:
        segment = await service.create_segment(
            session,
            name=body.name,
            description=body.description,
            kind=body.kind,
            contact_filter=body.filter,
        )
    except service.SegmentExistsError:
        raise _exists(body.name) from None
    _audit(session, principal, request, "created", segment.id, {"kind": segment.kind})
    await session.commit()
    _tagged(response, segment)
    return _out(segment)


@router.post(
    "/preview",
    response_model=SegmentPreviewOut,
    summary="Count and list the contacts a filter selects, before saving it as a segment",
    responses=problem_responses(*FILTER_PROBLEMS),
    dependencies=[ContactsReader],
)
async def preview(
    body: SegmentPreview,
    _principal: Reader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200, description="Contacts to list.")] = 20,
) -> SegmentPreviewOut:
    await validate_filter(session, body.filter)
    conditions = service.where_filter(body.filter)
    count = await service.count_matching(session, conditions)
    page = await _page(session, conditions, PageParams(limit=limit))
    return SegmentPreviewOut(count=count, items=page.items)


@router.get(
    "/{segment_id}",
    response_model=ContactSegmentOut,
    summary="Get a segment and how many contacts it holds now",
    responses=ONE,
)
async def get_segment(
    segment_id: uuid.UUID,
    _principal: Reader,
    session: SessionDep,
    response: Response,
    count: Annotated[bool, Query(description="Count its contacts (one query).")] = True,
) -> ContactSegmentOut:
    segment = await _segment(session, segment_id)
    total = (
        await service.count_matching(session, service.member_conditions(segment)) if count else None
    )
    _tagged(response, segment)
    return _out(segment, total)


@router.patch(
    "/{segment_id}",
    response_model=ContactSegmentOut,
    summary="Rename a segment, or change its description or (dynamic) filter",
    responses=problem_responses(
        SEGMENT_NOT_FOUND, SEGMENT_EXISTS, SEGMENT_CHANGED, SEGMENT_WRONG_KIND, *FILTER_PROBLEMS
    ),
)
async def update_segment(
    segment_id: uuid.UUID,
    body: ContactSegmentUpdate,
    request: Request,
    principal: Writer,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ContactSegmentOut:
    segment = await _segment(session, segment_id, for_update=True)
    _check_version(segment, if_match)
    if body.filter is not None:
        await validate_filter(session, body.filter)
    try:
        changed = await service.update_segment(
            session,
            segment,
            name=body.name,
            description=body.description,
            contact_filter=body.filter,
        )
    except service.WrongKindError as exc:
        raise _wrong_kind(exc) from None
    except service.SegmentExistsError:
        raise _exists(body.name or segment.name) from None
    if changed:
        _audit(session, principal, request, "updated", segment.id, {"fields": changed})
        await session.commit()
    _tagged(response, segment)
    return _out(segment)


@router.delete(
    "/{segment_id}",
    status_code=204,
    summary="Delete a segment (its contacts stay)",
    responses=problem_responses(SEGMENT_NOT_FOUND, SEGMENT_CHANGED),
)
async def delete_segment(
    segment_id: uuid.UUID,
    request: Request,
    principal: Writer,
    session: SessionDep,
    if_match: IfMatch = None,
) -> Response:
    segment = await _segment(session, segment_id, for_update=True)
    _check_version(segment, if_match)
    await service.delete_segment(session, segment)
    _audit(session, principal, request, "deleted", segment_id)
    await session.commit()
    return Response(status_code=204)


# --- contacts of a segment -------------------------------------------------------------------


@router.get(
    "/{segment_id}/contacts",
    response_model=CursorPage[ContactOut],
    summary="The segment's contacts now, by id",
    responses=ONE,
    dependencies=[ContactsReader],
)
async def segment_contacts(
    segment_id: uuid.UUID, _principal: Reader, session: SessionDep, page: PageParamsDep
) -> CursorPage[ContactOut]:
    segment = await _segment(session, segment_id)
    return await _page(session, service.member_conditions(segment), page)


async def _change_members(
    session: AsyncSession, segment_id: uuid.UUID, contact_ids: list[uuid.UUID], *, add: bool
) -> tuple[Segment, int]:
    segment = await _segment(session, segment_id, for_update=True)
    try:
        if add:
            changed = await service.add_members(session, segment, contact_ids)
        else:
            changed = await service.remove_members(session, segment, contact_ids)
    except service.WrongKindError as exc:
        raise _wrong_kind(exc) from None
    except service.UnknownContactsError as exc:
        raise ProblemError(
            UNKNOWN_CONTACTS,
            f"{len(exc.contact_ids)} id(s) name no contact of your organization",
            contact_ids=[str(cid) for cid in exc.contact_ids],
        ) from None
    return segment, changed


MEMBER_PROBLEMS = problem_responses(SEGMENT_NOT_FOUND, SEGMENT_WRONG_KIND, UNKNOWN_CONTACTS)


@router.post(
    "/{segment_id}/members",
    response_model=SegmentMembersChanged,
    summary="Add contacts to a static segment (all or none)",
    responses=MEMBER_PROBLEMS,
)
async def add_members(
    segment_id: uuid.UUID,
    body: SegmentMembers,
    request: Request,
    principal: Writer,
    session: SessionDep,
    response: Response,
) -> SegmentMembersChanged:
    segment, added = await _change_members(session, segment_id, body.contact_ids, add=True)
    if added:
        _audit(session, principal, request, "members-added", segment.id, {"count": added})
    count = await service.count_matching(session, service.member_conditions(segment))
    await session.commit()
    _tagged(response, segment)
    return SegmentMembersChanged(changed=added, count=count, version=segment.version)


@router.delete(
    "/{segment_id}/members",
    response_model=SegmentMembersChanged,
    summary="Remove contacts from a static segment",
    responses=MEMBER_PROBLEMS,
)
async def remove_members(
    segment_id: uuid.UUID,
    body: SegmentMembers,
    request: Request,
    principal: Writer,
    session: SessionDep,
    response: Response,
) -> SegmentMembersChanged:
    segment, removed = await _change_members(session, segment_id, body.contact_ids, add=False)
    if removed:
        _audit(session, principal, request, "members-removed", segment.id, {"count": removed})
    count = await service.count_matching(session, service.member_conditions(segment))
    await session.commit()
    _tagged(response, segment)
    return SegmentMembersChanged(changed=removed, count=count, version=segment.version)
