"""Routes of the contacts plugin's privacy (under ``/api/v1/contacts``): a contact's data
export, its erasure, and an erasure's status."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from kernel import (
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    problem_responses,
    record_audit_event,
    require,
)
from plugins.contacts.models import Contact, Erasure
from plugins.contacts.permissions import CONTACTS_ERASE, CONTACTS_EXPORT
from plugins.contacts.privacy.erasure import request_erasure
from plugins.contacts.privacy.export import export_contact
from plugins.contacts.privacy.problems import ERASURE_NOT_FOUND
from plugins.contacts.privacy.schemas import ErasureOut
from plugins.contacts.problems import CONTACT_NOT_FOUND

router = APIRouter(tags=["contacts"])

Exporter = Annotated[Principal, Depends(require(CONTACTS_EXPORT.resource, CONTACTS_EXPORT.action))]
Eraser = Annotated[Principal, Depends(require(CONTACTS_ERASE.resource, CONTACTS_ERASE.action))]


def erasure_out(erasure: Erasure) -> ErasureOut:
    return ErasureOut(
        id=erasure.id,
        contact_id=erasure.contact_id,
        status=erasure.status,
        pseudonym=erasure.pseudonym,
        attempts=erasure.attempts,
        last_error=erasure.last_error,
        next_attempt_at=erasure.next_attempt_at,
        requested_by=erasure.requested_by,
        created_at=erasure.created_at,
        completed_at=erasure.completed_at,
        href=f"/api/v1/contacts/erasures/{erasure.id}",
    )


async def _contact(session: SessionDep, contact_id: uuid.UUID) -> Contact:
    contact = await session.scalar(select(Contact).where(Contact.id == contact_id))
    if contact is None:
        raise ProblemError(CONTACT_NOT_FOUND, "no contact of your organization has this id")
    return contact


@router.get(
    "/erasures/{erasure_id}",
    response_model=ErasureOut,
    summary="An erasure's status",
    responses=problem_responses(ERASURE_NOT_FOUND),
)
async def get_erasure(erasure_id: uuid.UUID, _principal: Eraser, session: SessionDep) -> ErasureOut:
    erasure = await session.scalar(select(Erasure).where(Erasure.id == erasure_id))
    if erasure is None:
        raise ProblemError(ERASURE_NOT_FOUND, "no erasure of your organization has this id")
    return erasure_out(erasure)


@router.get(
    "/{contact_id}/export",
    response_model=dict[str, Any],
    summary="Everything held about a contact (JSON)",
    responses=problem_responses(CONTACT_NOT_FOUND),
)
async def export_contact_data(
    contact_id: uuid.UUID,
    principal: Exporter,
    session: SessionDep,
    platform: PlatformDep,
    request: Request,
) -> dict[str, Any]:
    """The contact with its numbers, e-mails, tags, custom fields, timeline, consent ledger
    lines, do-not-call entries and segment memberships, and under `plugins` what every other
    plugin holds about it (calls, IVR sessions...). The export is audited."""
    contact = await _contact(session, contact_id)
    data = await export_contact(platform, session, contact)
    record_audit_event(
        session,
        principal,
        "contacts.contact_exported",
        request=request,
        target_type="contact",
        target_id=contact_id,
        details={"plugins": sorted(data["plugins"])},
    )
    await session.commit()
    return data


@router.post(
    "/{contact_id}/erase",
    response_model=ErasureOut,
    status_code=202,
    summary="Erase a contact's personal data in every plugin",
    responses=problem_responses(CONTACT_NOT_FOUND),
)
async def erase(
    contact_id: uuid.UUID,
    principal: Eraser,
    session: SessionDep,
    platform: PlatformDep,
    request: Request,
    response: Response,
) -> ErasureOut:
    """Queues the erasure (`Location` is its status); asking again answers the erasure
    already asked for. Once `completed`, the contact holds no personal data, its numbers
    are pseudonymised in calls and IVR sessions, and do-not-call entries of its numbers
    remain as hashes."""
    await _contact(session, contact_id)
    erasure, created = await request_erasure(
        platform, session, contact_id=contact_id, requested_by=principal.subject[:80]
    )
    if created:
        record_audit_event(
            session,
            principal,
            "contacts.erasure_requested",
            request=request,
            target_type="contact",
            target_id=contact_id,
            details={"erasure_id": str(erasure.id)},
        )
    await session.commit()
    out = erasure_out(erasure)
    response.headers["Location"] = out.href
    return out
