"""Routes of the contacts plugin's timeline and number lookup (under ``/api/v1/contacts``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from kernel import (
    CursorPage,
    PageParamsDep,
    Principal,
    ProblemError,
    SessionDep,
    problem_responses,
    require,
)
from plugins.contacts.lookup import contacts_for_number
from plugins.contacts.models import Interaction
from plugins.contacts.permissions import CONTACTS_READ
from plugins.contacts.phones import InvalidNumber, normalize
from plugins.contacts.problems import CONTACT_NOT_FOUND, INVALID_NUMBER
from plugins.contacts.records import default_country
from plugins.contacts.service import contact_outs
from plugins.contacts.timeline.schemas import ContactTimelineEntryOut, LookupOut
from plugins.contacts.timeline.service import contact_exists, timeline_page

router = APIRouter(tags=["contacts"])

Reader = Annotated[Principal, Depends(require(CONTACTS_READ.resource, CONTACTS_READ.action))]


def entry_out(row: Interaction) -> ContactTimelineEntryOut:
    return ContactTimelineEntryOut(
        call_id=row.call_id,
        direction=row.direction,
        number=row.number,
        status=row.status,
        disposition=row.disposition,
        notes=row.notes,
        started_at=row.started_at,
        ended_at=row.ended_at,
        duration_seconds=row.duration_seconds,
        href=f"/api/v1/calls/{row.call_id}",
    )


@router.get(
    "/lookup",
    response_model=LookupOut,
    summary="Find the contacts owning a phone number",
    responses=problem_responses(INVALID_NUMBER),
)
async def lookup(
    _principal: Reader,
    session: SessionDep,
    number: Annotated[
        str,
        Query(
            min_length=1,
            max_length=64,
            description="E.164, or a national number read with the organization's default country.",
        ),
    ],
) -> LookupOut:
    """Every live contact with this number, newest updated first (merged and erased
    contacts are left out)."""
    try:
        e164 = normalize(number, default_country=await default_country(session)).e164
    except InvalidNumber as exc:
        raise ProblemError(INVALID_NUMBER, "not a valid phone number", reason=str(exc)) from None
    contacts = await contacts_for_number(session, e164)
    return LookupOut(number=e164, items=await contact_outs(session, contacts))


@router.get(
    "/{contact_id}/timeline",
    response_model=CursorPage[ContactTimelineEntryOut],
    summary="A contact's calls, newest first",
    responses=problem_responses(CONTACT_NOT_FOUND),
)
async def timeline(
    contact_id: uuid.UUID,
    _principal: Reader,
    session: SessionDep,
    page: PageParamsDep,
) -> CursorPage[ContactTimelineEntryOut]:
    """Every call to or from one of the contact's numbers, with its outcome, disposition and
    notes; ``href`` leads to the call itself."""
    if not await contact_exists(session, contact_id):
        raise ProblemError(CONTACT_NOT_FOUND, "no contact of your organization has this id")
    rows, cursor = await timeline_page(session, contact_id=contact_id, params=page)
    return CursorPage[ContactTimelineEntryOut](
        items=[entry_out(row) for row in rows], next_cursor=cursor
    )
