"""Routes of contacts themselves: CRUD, merge, custom fields and settings.

``fixed_router`` holds paths that would otherwise be read as a contact id (``/fields``,
``/settings``); the plugin mounts it before ``router`` and every area's routes.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from pydantic import ValidationError
from sqlalchemy import select

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
from plugins.contacts import service
from plugins.contacts.fields import FieldProblem, coerce, definitions
from plugins.contacts.filters import ContactFilter, validate_filter, where
from plugins.contacts.models import Contact, FieldType
from plugins.contacts.permissions import (
    CONTACTS_DELETE,
    CONTACTS_READ,
    CONTACTS_WRITE,
    FIELDS_WRITE,
    SETTINGS_WRITE,
)
from plugins.contacts.problems import (
    CONTACT_CHANGED,
    CONTACT_ERASED,
    CONTACT_MERGED,
    CONTACT_NOT_FOUND,
    FIELD_EXISTS,
    FIELD_NOT_FOUND,
    FIELD_TYPE_FIXED,
    INVALID_CONTACT,
    MERGE_REFUSED,
    located,
)
from plugins.contacts.schemas import (
    ContactCreate,
    ContactOut,
    ContactPatch,
    FieldDefinitionIn,
    FieldDefinitionOut,
    FieldDefinitionPatch,
    MergeIn,
    SettingsIn,
    SettingsOut,
)
from plugins.contacts.segments.problems import FILTER_INVALID, FILTER_UNKNOWN_FIELDS

fixed_router = APIRouter(tags=["contacts"])
router = APIRouter(tags=["contacts"])

Reader = Annotated[Principal, Depends(require(CONTACTS_READ.resource, CONTACTS_READ.action))]
Writer = Annotated[Principal, Depends(require(CONTACTS_WRITE.resource, CONTACTS_WRITE.action))]
Deleter = Annotated[Principal, Depends(require(CONTACTS_DELETE.resource, CONTACTS_DELETE.action))]
FieldWriter = Annotated[Principal, Depends(require(FIELDS_WRITE.resource, FIELDS_WRITE.action))]
SettingsWriter = Annotated[
    Principal, Depends(require(SETTINGS_WRITE.resource, SETTINGS_WRITE.action))
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The contact's version (`ETag`) the change is based on; 412 if it moved on.",
    ),
]
FieldKey = Annotated[str, Path(max_length=64)]
ONE = problem_responses(CONTACT_NOT_FOUND)
CHANGE = problem_responses(
    CONTACT_NOT_FOUND, CONTACT_CHANGED, CONTACT_MERGED, CONTACT_ERASED, INVALID_CONTACT
)


def _tagged(response: Response, contact: Contact) -> None:
    response.headers["ETag"] = f'"{contact.version}"'


async def _one(session: SessionDep, contact: Contact) -> ContactOut:
    return (await service.contact_outs(session, [contact]))[0]


@router.post(
    "",
    response_model=ContactOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a contact",
    responses=problem_responses(INVALID_CONTACT),
)
async def create(
    body: ContactCreate,
    response: Response,
    session: SessionDep,
    platform: PlatformDep,
    _: Writer,
) -> ContactOut:
    """Numbers are normalised to E.164 (national ones with the organization's default
    country); every invalid value is listed in one 422."""
    contact = await service.create_contact(
        session, platform, values=body.model_dump(exclude_unset=True)
    )
    await session.commit()
    response.headers["Location"] = f"/api/v1/contacts/{contact.id}"
    _tagged(response, contact)
    return await _one(session, contact)


@router.get(
    "",
    response_model=CursorPage[ContactOut],
    summary="List contacts",
    responses=problem_responses(FILTER_INVALID, FILTER_UNKNOWN_FIELDS),
)
async def list_contacts(
    _: Reader,
    session: SessionDep,
    page: PageParamsDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Text in the name, company, a number or an e-mail."),
    ] = None,
    tag: Annotated[
        list[str] | None, Query(max_length=20, description="Contacts with every one of these tags.")
    ] = None,
    field: Annotated[
        list[str] | None,
        Query(
            max_length=20,
            description="`key:value`: contacts whose custom field `key` equals `value`.",
        ),
    ] = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    owner_id: uuid.UUID | None = None,
    updated_since: Annotated[
        datetime | None, Query(description="Changed at or after this time (UTC).")
    ] = None,
) -> CursorPage[ContactOut]:
    """Newest change first; merged and erased contacts are left out. The same criteria,
    and many more, make segments (`/segments/preview`)."""
    contact_filter = await _list_filter(
        session,
        q=q,
        tags=tag or [],
        fields=field or [],
        country=country,
        owner_id=owner_id,
        updated_since=updated_since,
    )
    query = select(Contact).where(*where(contact_filter))
    rows, cursor = await paginate(
        session, query, order_by=[Contact.updated_at, Contact.id], params=page
    )
    return CursorPage(items=await service.contact_outs(session, rows), next_cursor=cursor)


async def _list_filter(
    session: SessionDep,
    *,
    q: str | None,
    tags: list[str],
    fields: list[str],
    country: str | None,
    owner_id: uuid.UUID | None,
    updated_since: datetime | None,
) -> ContactFilter:
    """The list's query parameters as a segment filter. ``field=key:value`` is an equality
    whose value is read as the field's type (``seats:12`` is the number 12)."""
    known = await definitions(session)
    conditions = []
    for condition in fields:
        key, _sep, text = condition.partition(":")
        key = key.strip()
        value: str | int | float = text.strip()
        definition = known.get(key)
        if definition is not None and definition.type == FieldType.NUMBER:
            with suppress(FieldProblem):  # validate_filter says what is wrong with it
                value = coerce(definition, value)
        conditions.append({"field": key, "op": "eq", "value": value})
    try:
        contact_filter = ContactFilter.model_validate(
            {
                "q": q,
                "tags_all": tags,
                "fields": conditions,
                "country": [country] if country else [],
                "owner_id": owner_id,
                "updated_after": updated_since,
            }
        )
    except ValidationError as exc:
        errors = [{"field": ".".join(map(str, e["loc"])), "reason": e["msg"]} for e in exc.errors()]
        raise ProblemError(
            FILTER_INVALID, "the list's filters do not fit", errors=located(errors, "query")
        ) from None
    await validate_filter(session, contact_filter)
    return contact_filter


@router.get("/{contact_id}", response_model=ContactOut, summary="A contact", responses=ONE)
async def get(
    contact_id: uuid.UUID, response: Response, session: SessionDep, _: Reader
) -> ContactOut:
    """A merged contact answers too (with `merged_into`), so history that names it resolves."""
    contact = await service.get_contact(session, contact_id)
    _tagged(response, contact)
    return await _one(session, contact)


@router.patch(
    "/{contact_id}", response_model=ContactOut, summary="Change a contact", responses=CHANGE
)
async def patch(
    contact_id: uuid.UUID,
    body: ContactPatch,
    response: Response,
    session: SessionDep,
    platform: PlatformDep,
    _: Writer,
    if_match: IfMatch = None,
) -> ContactOut:
    """Only the fields sent change; `phones`, `emails` and `tags` replace the lists;
    `custom_fields` changes the keys sent (null removes one). Send `If-Match` with the
    `ETag` you read, so that a change made meanwhile is not overwritten (412)."""
    contact = await service.update_contact(
        session,
        platform,
        contact_id=contact_id,
        values=body.model_dump(exclude_unset=True),
        if_match=if_match,
    )
    await session.commit()
    _tagged(response, contact)
    return await _one(session, contact)


@router.delete(
    "/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a contact",
    responses=problem_responses(CONTACT_NOT_FOUND, CONTACT_CHANGED),
)
async def remove(
    contact_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    principal: Deleter,
    if_match: IfMatch = None,
) -> Response:
    """Deletes the contact and its timeline. The consent ledger and the do-not-call list
    keep their entries (they prove what was allowed); to remove personal data everywhere,
    erase the contact instead."""
    await service.delete_contact(session, platform, contact_id=contact_id, if_match=if_match)
    record_audit_event(
        session,
        principal,
        "contacts.contact_deleted",
        request=request,
        target_type="contact",
        target_id=contact_id,
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{contact_id}/merge",
    response_model=ContactOut,
    summary="Merge another contact into this one",
    responses=problem_responses(CONTACT_NOT_FOUND, CONTACT_CHANGED, MERGE_REFUSED),
)
async def merge(
    contact_id: uuid.UUID,
    body: MergeIn,
    request: Request,
    response: Response,
    session: SessionDep,
    platform: PlatformDep,
    principal: Writer,
    if_match: IfMatch = None,
) -> ContactOut:
    """The other contact's numbers, e-mails, tags, timeline and list memberships move here,
    and values this one lacks are taken from it; the other stays, marked `merged_into`."""
    contact = await service.merge_contacts(
        session, platform, survivor_id=contact_id, other_id=body.other_id, if_match=if_match
    )
    record_audit_event(
        session,
        principal,
        "contacts.contact_merged",
        request=request,
        target_type="contact",
        target_id=contact_id,
        details={"merged_id": str(body.other_id)},
    )
    await session.commit()
    _tagged(response, contact)
    return await _one(session, contact)


# Custom fields and settings: fixed paths, mounted before /{contact_id}.


@fixed_router.get(
    "/fields", response_model=list[FieldDefinitionOut], summary="Custom contact fields"
)
async def list_fields(session: SessionDep, _: Reader) -> list[FieldDefinitionOut]:
    rows = await definitions(session)
    return [FieldDefinitionOut.model_validate(row) for row in rows.values()]


@fixed_router.post(
    "/fields",
    response_model=FieldDefinitionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Define a custom contact field",
    responses=problem_responses(FIELD_EXISTS, INVALID_CONTACT),
)
async def define_field(
    body: FieldDefinitionIn, session: SessionDep, _: FieldWriter
) -> FieldDefinitionOut:
    row = await service.define_field(
        session,
        key=body.key,
        label=body.label,
        type=body.type.value,
        choices=body.choices,
        required=body.required,
    )
    await session.commit()
    return FieldDefinitionOut.model_validate(row)


@fixed_router.patch(
    "/fields/{key}",
    response_model=FieldDefinitionOut,
    summary="Change a custom contact field",
    responses=problem_responses(FIELD_NOT_FOUND, FIELD_TYPE_FIXED, INVALID_CONTACT),
)
async def change_field(
    key: FieldKey,
    body: FieldDefinitionPatch,
    session: SessionDep,
    _: FieldWriter,
) -> FieldDefinitionOut:
    row = await service.change_field(
        session,
        key=key,
        label=body.label,
        type=body.type.value if body.type else None,
        choices=body.choices,
        required=body.required,
    )
    await session.commit()
    return FieldDefinitionOut.model_validate(row)


@fixed_router.delete(
    "/fields/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a custom contact field",
    responses=problem_responses(FIELD_NOT_FOUND),
)
async def delete_field(key: FieldKey, session: SessionDep, _: FieldWriter) -> Response:
    await service.delete_field(session, key=key)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@fixed_router.get("/settings", response_model=SettingsOut, summary="Contacts settings")
async def get_settings(session: SessionDep, _: Reader) -> SettingsOut:
    row = await service.settings(session)
    return SettingsOut(default_country=row.default_country)


@fixed_router.put(
    "/settings",
    response_model=SettingsOut,
    summary="Change contacts settings",
    responses=problem_responses(INVALID_CONTACT),
)
async def put_settings(body: SettingsIn, session: SessionDep, _: SettingsWriter) -> SettingsOut:
    """The default country applies to numbers written from now on; stored ones are E.164
    already and do not change."""
    row = await service.change_settings(session, default_country=body.default_country)
    await session.commit()
    return SettingsOut(default_country=row.default_country)
