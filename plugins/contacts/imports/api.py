"""Routes of contact imports and the CSV export (under ``/api/v1/contacts``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from kernel import (
    CursorPage,
    PageParamsDep,
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    current_tenant_id,
    paginate,
    problem_responses,
    require,
)
from plugins.contacts.config import CONTACTS_SETTINGS
from plugins.contacts.imports import service
from plugins.contacts.imports.export import check_segment, export_csv
from plugins.contacts.imports.problems import (
    FILE_TOO_LARGE,
    IMPORT_NOT_FOUND,
    IMPORT_STATE,
    INVALID_MAPPING,
    MAPPING_EXISTS,
    MAPPING_NOT_FOUND,
    SEGMENT_NOT_FOUND,
    UNREADABLE_FILE,
)
from plugins.contacts.imports.schemas import (
    ImportOut,
    MappingIn,
    MappingOut,
    MappingPatch,
    RowErrorOut,
    StartIn,
)
from plugins.contacts.imports.upload import receive
from plugins.contacts.models import ContactImport, ImportMapping, ImportRowError
from plugins.contacts.permissions import CONTACTS_EXPORT, CONTACTS_IMPORT

router = APIRouter(tags=["contacts"])

Importer = Annotated[Principal, Depends(require(CONTACTS_IMPORT.resource, CONTACTS_IMPORT.action))]
Exporter = Annotated[Principal, Depends(require(CONTACTS_EXPORT.resource, CONTACTS_EXPORT.action))]

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The CSV file (UTF-8 with or without BOM, UTF-16, "
                            "Windows-1252 or Latin-1; `,`, `;`, tab or `|` separated; a header "
                            "row first).",
                        }
                    },
                }
            }
        },
    }
}


# -- saved mappings (before /imports/{import_id}) ---------------------------------------


@router.get("/imports/mappings", response_model=CursorPage[MappingOut])
async def list_mappings(
    session: SessionDep, page: PageParamsDep, _: Importer
) -> CursorPage[MappingOut]:
    """The organization's saved column mappings, newest first."""
    rows, cursor = await paginate(
        session,
        select(ImportMapping),
        order_by=(ImportMapping.created_at, ImportMapping.id),
        params=page,
    )
    return CursorPage[MappingOut](
        items=[MappingOut.model_validate(r) for r in rows], next_cursor=cursor
    )


@router.post(
    "/imports/mappings",
    response_model=MappingOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(INVALID_MAPPING, MAPPING_EXISTS),
)
async def create_mapping(body: MappingIn, session: SessionDep, _: Importer) -> MappingOut:
    """Save a column mapping (by name) to import the same kind of file again."""
    saved = await service.create_mapping(session, **body.model_dump())
    return MappingOut.model_validate(saved)


@router.get(
    "/imports/mappings/{mapping_id}",
    response_model=MappingOut,
    responses=problem_responses(MAPPING_NOT_FOUND),
)
async def get_mapping(mapping_id: uuid.UUID, session: SessionDep, _: Importer) -> MappingOut:
    return MappingOut.model_validate(await service.get_mapping(session, mapping_id))


@router.patch(
    "/imports/mappings/{mapping_id}",
    response_model=MappingOut,
    responses=problem_responses(MAPPING_NOT_FOUND, INVALID_MAPPING, MAPPING_EXISTS),
)
async def update_mapping(
    mapping_id: uuid.UUID, body: MappingPatch, session: SessionDep, _: Importer
) -> MappingOut:
    saved = await service.get_mapping(session, mapping_id)
    updated = await service.update_mapping(session, saved, body.model_dump(exclude_unset=True))
    return MappingOut.model_validate(updated)


@router.delete(
    "/imports/mappings/{mapping_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(MAPPING_NOT_FOUND),
)
async def delete_mapping(mapping_id: uuid.UUID, session: SessionDep, _: Importer) -> Response:
    await service.delete_mapping(session, await service.get_mapping(session, mapping_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- imports ------------------------------------------------------------------------------


@router.post(
    "/imports",
    response_model=ImportOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(FILE_TOO_LARGE, UNREADABLE_FILE),
    openapi_extra=_UPLOAD_BODY,
)
async def upload(
    request: Request, session: SessionDep, platform: PlatformDep, principal: Importer
) -> ImportOut:
    """Upload a CSV file (multipart, part `file`): it is stored as it arrives, its encoding,
    separator and header read, and a mapping suggested. Start it with `/start`."""
    settings = CONTACTS_SETTINGS.get(platform)
    length = request.headers.get("content-length")
    job = await receive(
        session,
        request.stream(),
        content_type=request.headers.get("content-type", ""),
        content_length=int(length) if length and length.isascii() and length.isdigit() else None,
        max_bytes=settings.import_max_bytes,
        chunk_bytes=settings.import_chunk_bytes,
        created_by=principal.subject,
    )
    return ImportOut.of(job, await service.suggested(session, job))


@router.get("/imports", response_model=CursorPage[ImportOut])
async def list_imports(
    session: SessionDep, page: PageParamsDep, _: Importer
) -> CursorPage[ImportOut]:
    """The organization's imports, newest first."""
    rows, cursor = await paginate(
        session,
        select(ContactImport),
        order_by=(ContactImport.created_at, ContactImport.id),
        params=page,
    )
    return CursorPage[ImportOut](items=[ImportOut.of(r) for r in rows], next_cursor=cursor)


@router.get(
    "/imports/{import_id}", response_model=ImportOut, responses=problem_responses(IMPORT_NOT_FOUND)
)
async def get_import(import_id: uuid.UUID, session: SessionDep, _: Importer) -> ImportOut:
    """Status, counts and progress; `landed` says which rows landed."""
    job = await service.get_import(session, import_id)
    return ImportOut.of(job, await service.suggested(session, job))


@router.post(
    "/imports/{import_id}/start",
    response_model=ImportOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(IMPORT_NOT_FOUND, IMPORT_STATE, INVALID_MAPPING, MAPPING_NOT_FOUND),
)
async def start_import(
    import_id: uuid.UUID, body: StartIn, session: SessionDep, platform: PlatformDep, _: Importer
) -> ImportOut:
    """Queue the import (or a dry run) with a column mapping; a background job runs it and
    reports progress (`contacts.import.*` events)."""
    job = await service.get_import(session, import_id)
    job = await service.start(session, platform, job, **body.model_dump())
    return ImportOut.of(job)


@router.post(
    "/imports/{import_id}/cancel",
    response_model=ImportOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(IMPORT_NOT_FOUND, IMPORT_STATE),
)
async def cancel_import(
    import_id: uuid.UUID, session: SessionDep, platform: PlatformDep, _: Importer
) -> ImportOut:
    """Stop the import at its next batch boundary (`cancel_requested`); rows before it stay."""
    job = await service.get_import(session, import_id)
    return ImportOut.of(await service.cancel(session, platform, job))


@router.delete(
    "/imports/{import_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(IMPORT_NOT_FOUND, IMPORT_STATE),
)
async def delete_import(import_id: uuid.UUID, session: SessionDep, _: Importer) -> Response:
    """Delete the import with its stored file and error report; its contacts stay."""
    await service.delete_import(session, await service.get_import(session, import_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/imports/{import_id}/errors",
    response_model=CursorPage[RowErrorOut],
    responses=problem_responses(IMPORT_NOT_FOUND),
)
async def list_errors(
    import_id: uuid.UUID, session: SessionDep, page: PageParamsDep, _: Importer
) -> CursorPage[RowErrorOut]:
    """The error report: one item per row and column, in file order."""
    await service.get_import(session, import_id)
    rows, cursor = await paginate(
        session,
        select(ImportRowError).where(ImportRowError.import_id == import_id),
        order_by=(ImportRowError.row_number, ImportRowError.column),
        params=page,
        descending=False,
    )
    return CursorPage[RowErrorOut](
        items=[RowErrorOut(row=e.row_number, column=e.column, reason=e.reason) for e in rows],
        next_cursor=cursor,
    )


@router.get(
    "/imports/{import_id}/errors.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(IMPORT_NOT_FOUND)},
)
async def download_errors(
    import_id: uuid.UUID, session: SessionDep, platform: PlatformDep, principal: Importer
) -> StreamingResponse:
    """The error report as CSV (row, column, reason), cells neutralised against formulas."""
    await service.get_import(session, import_id)
    return StreamingResponse(
        service.error_report(platform, import_id, tenant_id=_tenant(principal)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'},
    )


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(SEGMENT_NOT_FOUND)},
)
async def export_contacts_csv(
    platform: PlatformDep,
    principal: Exporter,
    segment_id: Annotated[
        uuid.UUID | None, Query(description="Only this segment's contacts.")
    ] = None,
) -> StreamingResponse:
    """Every contact (or a segment's) as CSV, streamed, with the columns an import reads
    back; formula cells neutralised."""
    tenant_id = _tenant(principal)
    if segment_id is not None and not await check_segment(
        platform, tenant_id=tenant_id, segment_id=segment_id
    ):
        raise ProblemError(SEGMENT_NOT_FOUND)
    return StreamingResponse(
        export_csv(platform, tenant_id=tenant_id, segment_id=segment_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
    )


def _tenant(principal: Principal) -> uuid.UUID:
    """The tenant a streamed answer reads, taken now (it streams after the route returned)."""
    tenant_id = principal.tenant_id or current_tenant_id()
    assert tenant_id is not None  # require() scoped the request to a tenant
    return tenant_id
