"""Receiving a CSV file: the request body is read as it arrives and stored in pieces
(``contacts_import_chunks``), never held whole; past the size limit the upload stops and
nothing of it is kept."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import ProblemError, current_tenant_id, storable_text
from plugins.contacts.imports.csvfile import FileSniffer, UnreadableFile, shape
from plugins.contacts.imports.problems import FILE_TOO_LARGE, UNREADABLE_FILE
from plugins.contacts.models import ContactImport, ImportChunk, ImportStatus

MULTIPART_OVERHEAD = 64 * 1024
"""Room for the multipart headers and boundaries around the file in a request."""


class TooLarge(Exception):
    pass


class _FilePart:
    """python-multipart callbacks that keep the bytes of the part named ``file``."""

    def __init__(self) -> None:
        self.filename = ""
        self.found = False
        self._in_file = False
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self.data = bytearray()

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._field,
            "on_header_value": self._value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._in_file = False

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") == b"file" and not self.found:
            self.found = self._in_file = True
            raw = options.get(b"filename", b"").decode("utf-8", "replace")
            self.filename = storable_text(raw.replace("\\", "/").rsplit("/", 1)[-1])[:255]

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.data += data[start:end]


async def receive(
    session: AsyncSession,
    body: AsyncIterator[bytes],
    *,
    content_type: str,
    content_length: int | None,
    max_bytes: int,
    chunk_bytes: int,
    created_by: str | None,
) -> ContactImport:
    """Store the ``file`` part of a multipart body as a new import (see :func:`store`)."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise ProblemError(
            UNREADABLE_FILE, "send the file as multipart/form-data, in a part named `file`"
        )
    if content_length is not None and content_length > max_bytes + MULTIPART_OVERHEAD:
        raise ProblemError(
            FILE_TOO_LARGE, f"the file is larger than {max_bytes} bytes", limit_bytes=max_bytes
        )
    part = _FilePart()
    parser = MultipartParser(boundary, part.callbacks())

    async def file_bytes() -> AsyncIterator[bytes]:
        async for received in body:
            try:
                parser.write(received)
            except MultipartParseError:
                raise UnreadableFile("the multipart form is malformed") from None
            if part.data:
                yield bytes(part.data)
                part.data.clear()
        try:
            parser.finalize()
        except MultipartParseError:
            raise UnreadableFile("the multipart form is malformed") from None
        if part.data:
            yield bytes(part.data)
        if not part.found:
            raise UnreadableFile("the request has no part named `file`")

    return await store(
        session,
        file_bytes(),
        filename=lambda: part.filename,
        max_bytes=max_bytes,
        chunk_bytes=chunk_bytes,
        created_by=created_by,
    )


async def store(
    session: AsyncSession,
    data: AsyncIterator[bytes],
    *,
    filename: Callable[[], str],
    max_bytes: int,
    chunk_bytes: int,
    created_by: str | None,
) -> ContactImport:
    """Store a file's bytes as a new import (status ``uploaded``): its encoding, separator,
    header and row count read on the way.

    Commits as it goes (one piece at a time); a refused file (too large, unreadable) deletes
    what it stored and raises the problem.
    """
    job = ContactImport(status=ImportStatus.UPLOADING.value, created_by=created_by)
    session.add(job)
    await session.commit()
    import_id = job.id
    sniffer = FileSniffer()
    pending = bytearray()
    sequence = 0
    try:
        async for received in data:
            pending += received
            if sniffer.size + len(pending) > max_bytes:
                raise TooLarge
            while len(pending) >= chunk_bytes:
                piece = bytes(pending[:chunk_bytes])
                del pending[:chunk_bytes]
                await _store(session, import_id, sequence, piece, sniffer)
                sequence += 1
        if pending:
            await _store(session, import_id, sequence, bytes(pending), sniffer)
        pending.clear()
        sniffer.finish()
        found = shape(sniffer)
    except TooLarge:
        await _discard(session, import_id)
        raise ProblemError(
            FILE_TOO_LARGE, f"the file is larger than {max_bytes} bytes", limit_bytes=max_bytes
        ) from None
    except UnreadableFile as exc:
        await _discard(session, import_id)
        raise ProblemError(UNREADABLE_FILE, str(exc)) from None
    except BaseException:
        await _discard(session, import_id)
        raise
    job = (await session.scalars(select(ContactImport).where(ContactImport.id == import_id))).one()
    job.filename = storable_text(filename())[:255]
    job.size_bytes = sniffer.size
    job.encoding = found.encoding
    job.delimiter = found.delimiter
    job.columns = found.columns
    job.rows_total = found.rows_total
    job.status = ImportStatus.UPLOADED.value
    await session.commit()
    return job


async def _store(
    session: AsyncSession, import_id: uuid.UUID, sequence: int, data: bytes, sniffer: FileSniffer
) -> None:
    sniffer.feed(data)
    await session.execute(
        insert(ImportChunk).values(
            tenant_id=current_tenant_id(), import_id=import_id, sequence=sequence, data=data
        )
    )
    await session.commit()


async def _discard(session: AsyncSession, import_id: uuid.UUID) -> None:
    await session.rollback()
    await session.execute(delete(ImportChunk).where(ImportChunk.import_id == import_id))
    await session.execute(delete(ContactImport).where(ContactImport.id == import_id))
    await session.commit()
