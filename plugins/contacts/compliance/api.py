"""Routes of the contacts plugin's compliance (under ``/api/v1/contacts``): the do-not-call
list, the consent ledger, opt-outs, the calling rules and the ``is_callable`` check. Thin:
the work is in :mod:`dnc`, :mod:`dnc_import`, :mod:`consent` and :mod:`callable`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    CursorPage,
    PageParamsDep,
    Permission,
    Platform,
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    paginate,
    problem_responses,
    record_audit_event,
    require,
)
from plugins.contacts import permissions as perms
from plugins.contacts.compliance import consent, dnc, dnc_import, problems, upload
from plugins.contacts.compliance.callable import is_callable
from plugins.contacts.compliance.schemas import (
    ComplianceSettingsBody,
    ConsentCreate,
    ConsentOut,
    ConsentStateList,
    ConsentStateOut,
    DecisionOut,
    DncCreate,
    DncImportOut,
    DncOut,
    InvalidRowOut,
    NumberConsentCreate,
    OptOutCreate,
    OptOutOut,
)
from plugins.contacts.compliance.settings import (
    ALL,
    ComplianceSettings,
    read_settings,
    write_settings,
)
from plugins.contacts.config import CONTACTS_SETTINGS
from plugins.contacts.models import ConsentRecord, DncEntry
from plugins.contacts.phones import InvalidNumber, normalize
from plugins.contacts.records import contact_numbers

router = APIRouter(tags=["contacts"])


def _permission(permission: Permission) -> Any:
    return Depends(require(permission.resource, permission.action))


DncRead = Annotated[Principal, _permission(perms.DNC_READ)]
DncWrite = Annotated[Principal, _permission(perms.DNC_WRITE)]
ConsentRead = Annotated[Principal, _permission(perms.CONSENT_READ)]
ConsentWrite = Annotated[Principal, _permission(perms.CONSENT_WRITE)]
SettingsWrite = Annotated[Principal, _permission(perms.SETTINGS_WRITE)]


def actor(principal: Principal) -> str:
    """Who did it, as the records keep it (the principal's label, else its id)."""
    return (principal.label or principal.subject)[:80]


def dnc_out(entry: DncEntry) -> DncOut:
    out = DncOut.model_validate(entry)
    return out.model_copy(update={"erased": bool(entry.number_hash)})


def _invalid_consent(exc: Exception) -> ProblemError:
    return ProblemError(problems.INVALID_CONSENT, str(exc), reason=str(exc))


# -- do-not-call ------------------------------------------------------------------------


@router.get(
    "/dnc",
    response_model=CursorPage[DncOut],
    summary="List the do-not-call list (newest first)",
)
async def list_dnc(
    _principal: DncRead,
    session: SessionDep,
    page: PageParamsDep,
    q: Annotated[
        str | None, Query(max_length=32, description="Start of a number or prefix: `+1415`.")
    ] = None,
    kind: Annotated[Literal["number", "prefix"] | None, Query()] = None,
    source: Annotated[Literal["api", "import", "ivr", "agent", "erasure"] | None, Query()] = None,
) -> CursorPage[DncOut]:
    rows, cursor = await paginate(
        session,
        dnc.list_query(q=q, kind=kind, source=source),
        order_by=[DncEntry.created_at, DncEntry.id],
        params=page,
    )
    return CursorPage(items=[dnc_out(r) for r in rows], next_cursor=cursor)


@router.post(
    "/dnc",
    response_model=DncOut,
    status_code=201,
    summary="Add a number or a prefix to the do-not-call list (idempotent)",
    responses={
        200: {"description": "Listed already: the existing entry, unchanged.", "model": DncOut},
        **problem_responses(problems.INVALID_DNC_VALUE),
    },
)
async def add_dnc(
    body: DncCreate,
    request: Request,
    response: Response,
    principal: DncWrite,
    session: SessionDep,
    platform: PlatformDep,
) -> DncOut:
    country, _settings = await read_settings(session)
    try:
        value = dnc.parse_value(body.kind, body.value, default_country=country)
    except dnc.InvalidDncValueError as exc:
        raise ProblemError(problems.INVALID_DNC_VALUE, str(exc), reason=str(exc)) from None
    if body.expires_on is not None and body.expires_on <= dnc.today():
        raise ProblemError(
            problems.INVALID_DNC_VALUE, "expires_on must be after today", reason="expires_on"
        )
    added = await dnc.add_entry(
        platform,
        session,
        kind=body.kind,
        value=value,
        reason=body.reason,
        source=body.source,
        added_by=actor(principal),
        expires_on=body.expires_on,
    )
    if not added.created:
        response.status_code = 200
        return dnc_out(added.entry)
    record_audit_event(
        session,
        principal,
        "contacts.dnc.added",
        request=request,
        target_type="contacts_dnc_entry",
        target_id=added.entry.id,
        details={"kind": added.entry.kind, "source": added.entry.source},
    )
    await session.commit()
    return dnc_out(added.entry)


@router.post(
    "/dnc/import",
    response_model=DncImportOut,
    summary="Import a do-not-call file (one number per line, or a CSV with a number column)",
    responses=problem_responses(problems.DNC_FILE_TOO_LARGE, problems.DNC_FILE_UNREADABLE),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "reason": {"type": "string", "maxLength": 200},
                        },
                    }
                }
            },
        }
    },
)
async def import_dnc(
    request: Request, principal: DncWrite, session: SessionDep, platform: PlatformDep
) -> DncImportOut:
    limits = CONTACTS_SETTINGS.get(platform)
    try:
        received = await upload.receive(request, limit=limits.import_max_bytes)
    except upload.TooLargeError as exc:
        raise ProblemError(problems.DNC_FILE_TOO_LARGE, str(exc), limit_bytes=exc.limit) from None
    except upload.UnreadableUploadError as exc:
        raise ProblemError(problems.DNC_FILE_UNREADABLE, str(exc)) from None
    country, _settings = await read_settings(session)
    try:
        with received.file:
            report = await dnc_import.import_file(
                platform,
                session,
                received.file,
                encoding=received.encoding,
                default_country=country,
                reason=received.fields.get("reason", "")[:200] or "Imported do-not-call file.",
                added_by=actor(principal),
                batch_rows=limits.import_batch_rows,
            )
    except dnc_import.NoNumberColumnError as exc:
        raise ProblemError(problems.DNC_FILE_UNREADABLE, str(exc)) from None
    record_audit_event(
        session,
        principal,
        "contacts.dnc.imported",
        request=request,
        target_type="contacts_dnc",
        details={
            "bytes": received.size,
            "added": report.added,
            "already_listed": report.already_listed,
            "invalid": report.invalid,
        },
    )
    await session.commit()
    return DncImportOut(
        rows=report.rows,
        added=report.added,
        already_listed=report.already_listed,
        invalid=report.invalid,
        invalid_rows=[InvalidRowOut(row=r.row, reason=r.reason) for r in report.invalid_rows],
        encoding=report.encoding,
        delimiter=report.delimiter,
    )


@router.get(
    "/dnc/check",
    response_model=DecisionOut,
    summary="May this number be called for this purpose on this channel? (is_callable)",
)
async def check_number(
    _principal: DncRead,
    session: SessionDep,
    platform: PlatformDep,
    number: Annotated[str, Query(min_length=1, max_length=64)],
    purpose: Annotated[str, Query(min_length=1, max_length=32)],
    channel: Annotated[Literal["voice_call", "prerecorded_voice", "text"], Query()] = "voice_call",
    contact_id: Annotated[uuid.UUID | None, Query()] = None,
) -> DecisionOut:
    decision = await is_callable(
        platform,
        session,
        number=number,
        purpose=purpose,
        channel=channel,
        contact_id=contact_id,
    )
    return DecisionOut.model_validate(decision.as_record())


async def _entry(session: AsyncSession, entry_id: uuid.UUID) -> DncEntry:
    try:
        return await dnc.get_entry(session, entry_id)
    except dnc.EntryNotFoundError:
        raise ProblemError(problems.DNC_ENTRY_NOT_FOUND) from None


@router.get(
    "/dnc/{entry_id}",
    response_model=DncOut,
    summary="Get a do-not-call entry",
    responses=problem_responses(problems.DNC_ENTRY_NOT_FOUND),
)
async def get_dnc(entry_id: uuid.UUID, _principal: DncRead, session: SessionDep) -> DncOut:
    return dnc_out(await _entry(session, entry_id))


@router.delete(
    "/dnc/{entry_id}",
    status_code=204,
    summary="Remove an entry from the do-not-call list (audited)",
    responses=problem_responses(problems.DNC_ENTRY_NOT_FOUND),
)
async def remove_dnc(
    entry_id: uuid.UUID,
    request: Request,
    principal: DncWrite,
    session: SessionDep,
    platform: PlatformDep,
) -> Response:
    entry = await _entry(session, entry_id)
    # What was removed, without the number or the free-text reason (personal data).
    details = {
        "kind": entry.kind,
        "source": entry.source,
        "listed_at": entry.created_at.isoformat(),
        "erased": bool(entry.number_hash),
    }
    await dnc.remove_entry(platform, session, entry)
    record_audit_event(
        session,
        principal,
        "contacts.dnc.removed",
        request=request,
        target_type="contacts_dnc_entry",
        target_id=entry_id,
        details=details,
    )
    await session.commit()
    return Response(status_code=204)


# -- consent ledger ---------------------------------------------------------------------


async def _contact_numbers(session: AsyncSession, contact_id: uuid.UUID) -> list[str]:
    """The contact's numbers; 404 when there is no such contact."""
    try:
        await consent.get_contact(session, contact_id)
    except consent.ContactNotFoundError:
        raise ProblemError(problems.CONTACT_NOT_FOUND) from None
    return await contact_numbers(session, contact_id)


def _normalized(text: str, country: str) -> str:
    try:
        return normalize(text, default_country=country).e164
    except InvalidNumber as exc:
        raise ProblemError(
            problems.INVALID_CONSENT, f"number: {exc}", reason="invalid-number"
        ) from None


CONSENT_PROBLEMS = problem_responses(
    problems.CONTACT_NOT_FOUND, problems.NUMBER_NOT_OF_CONTACT, problems.INVALID_CONSENT
)


@router.post(
    "/consents",
    response_model=ConsentOut,
    status_code=201,
    summary="Record consent granted or revoked for a number (no contact needed)",
    responses=problem_responses(problems.INVALID_CONSENT),
)
async def record_number_consent(
    body: NumberConsentCreate,
    principal: ConsentWrite,
    session: SessionDep,
    platform: PlatformDep,
) -> ConsentOut:
    country, settings = await read_settings(session)
    number = _normalized(body.number, country)
    return await _record(platform, session, settings, principal, body, None, number)


async def _record(
    platform: Platform,
    session: AsyncSession,
    settings: ComplianceSettings,
    principal: Principal,
    body: ConsentCreate,
    contact_id: uuid.UUID | None,
    number: str,
) -> ConsentOut:
    """Append the line the body describes, for the contact (or none) and number resolved."""
    try:
        line = await consent.record(
            platform,
            session,
            settings,
            contact_id=contact_id,
            number=number,
            purpose=body.purpose,
            channel=body.channel,
            action=body.action,
            source=body.source,
            evidence=body.evidence,
            recorded_by=actor(principal),
            occurred_at=body.occurred_at,
        )
    except consent.InvalidConsentError as exc:
        raise _invalid_consent(exc) from None
    await session.commit()
    return ConsentOut.model_validate(line)


@router.post(
    "/{contact_id}/consents",
    response_model=ConsentOut,
    status_code=201,
    summary="Record consent granted or revoked for a contact (all its numbers, or one)",
    responses=CONSENT_PROBLEMS,
)
async def record_consent(
    contact_id: uuid.UUID,
    body: ConsentCreate,
    principal: ConsentWrite,
    session: SessionDep,
    platform: PlatformDep,
) -> ConsentOut:
    numbers = await _contact_numbers(session, contact_id)
    country, settings = await read_settings(session)
    number = ""
    if body.number is not None:
        number = _normalized(body.number, country)
        if number not in numbers:
            raise ProblemError(problems.NUMBER_NOT_OF_CONTACT)
    return await _record(platform, session, settings, principal, body, contact_id, number)


@router.get(
    "/{contact_id}/consents",
    response_model=CursorPage[ConsentOut],
    summary="The contact's consent ledger, newest first",
    responses=problem_responses(problems.CONTACT_NOT_FOUND),
)
async def list_consents(
    contact_id: uuid.UUID, _principal: ConsentRead, session: SessionDep, page: PageParamsDep
) -> CursorPage[ConsentOut]:
    await _contact_numbers(session, contact_id)
    rows, cursor = await paginate(
        session,
        consent.contact_lines_query(contact_id),
        order_by=[ConsentRecord.recorded_at, ConsentRecord.id],
        params=page,
    )
    return CursorPage(items=[ConsentOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/{contact_id}/consent",
    response_model=ConsentStateList,
    summary="The contact's current consent per purpose and channel (derived from the ledger)",
    responses=CONSENT_PROBLEMS,
)
async def current_consent(
    contact_id: uuid.UUID,
    _principal: ConsentRead,
    session: SessionDep,
    number: Annotated[
        str | None,
        Query(max_length=64, description="One of the contact's numbers: its consent there."),
    ] = None,
) -> ConsentStateList:
    numbers = await _contact_numbers(session, contact_id)
    country, settings = await read_settings(session)
    chosen: list[str] = []
    if number is not None:
        e164 = _normalized(number, country)
        if e164 not in numbers:
            raise ProblemError(problems.NUMBER_NOT_OF_CONTACT)
        chosen = [e164]
    lines = await consent.lines_about(session, contact_id, chosen)
    states = consent.current_state(settings, lines)
    return ConsentStateList(
        contact_id=contact_id,
        number=chosen[0] if chosen else None,
        states=[ConsentStateOut.model_validate(s, from_attributes=True) for s in states],
    )


@router.post(
    "/{contact_id}/opt-out",
    response_model=OptOutOut,
    status_code=201,
    summary="The contact asked never to be called: revoke everything, list its numbers",
    responses=CONSENT_PROBLEMS,
)
async def opt_out(
    contact_id: uuid.UUID,
    body: OptOutCreate,
    request: Request,
    principal: ConsentWrite,
    session: SessionDep,
    platform: PlatformDep,
) -> OptOutOut:
    numbers = await _contact_numbers(session, contact_id)
    _country, settings = await read_settings(session)
    by = actor(principal)
    try:
        line = await consent.record(
            platform,
            session,
            settings,
            contact_id=contact_id,
            number="",
            purpose=ALL,
            channel=ALL,
            action=consent.Action.REVOKED,
            source=body.source,
            evidence=body.evidence,
            recorded_by=by,
            occurred_at=body.occurred_at,
        )
    except consent.InvalidConsentError as exc:
        raise _invalid_consent(exc) from None
    entries = []
    if body.add_to_dnc:
        source = dnc.DncSource.AGENT if body.source == "agent" else dnc.DncSource.API
        for number in numbers:
            added = await dnc.add_entry(
                platform,
                session,
                kind=dnc.DncKind.NUMBER,
                value=number,
                reason="The contact asked not to be called (opt-out).",
                source=source,
                added_by=by,
            )
            entries.append(added.entry)
    record_audit_event(
        session,
        principal,
        "contacts.contact.opted-out",
        request=request,
        target_type="contact",
        target_id=contact_id,
        details={"consent_record_id": str(line.id), "dnc_entries": len(entries)},
    )
    await session.commit()
    return OptOutOut(
        consent=ConsentOut.model_validate(line), dnc_entries=[dnc_out(e) for e in entries]
    )


# -- calling rules ----------------------------------------------------------------------


@router.get(
    "/compliance-settings",
    response_model=ComplianceSettingsBody,
    summary="The organization's purposes and where each needs consent",
)
async def get_compliance_settings(
    _principal: ConsentRead, session: SessionDep
) -> ComplianceSettingsBody:
    _country, settings = await read_settings(session)
    return ComplianceSettingsBody.model_validate(settings.model_dump())


@router.put(
    "/compliance-settings",
    response_model=ComplianceSettingsBody,
    summary="Replace the organization's purposes and consent rules",
)
async def put_compliance_settings(
    body: ComplianceSettingsBody, request: Request, principal: SettingsWrite, session: SessionDep
) -> ComplianceSettingsBody:
    await write_settings(session, body)
    record_audit_event(
        session,
        principal,
        "contacts.compliance-settings.updated",
        request=request,
        target_type="contacts_settings",
        details={"purposes": [p.name for p in body.purposes]},
    )
    await session.commit()
    return body
