"""Receive an uploaded file (``multipart/form-data``, part ``file``) as a stream: spooled to a
temporary file as it arrives, never held whole in memory, refused as soon as it passes the
size limit, and its encoding told on the way (UTF-8 if every byte decodes, else Latin-1)."""

from __future__ import annotations

import codecs
import tempfile
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

SPOOL_IN_MEMORY = 1024 * 1024
"""Files up to this size stay in memory; bigger ones go to a temporary file."""
FORM_OVERHEAD = 64 * 1024
"""What the form around the file may add (boundaries, headers, small fields)."""
FIELD_MAX = 1024


class TooLargeError(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than {limit} bytes")
        self.limit = limit


class UnreadableUploadError(ValueError):
    """Not a multipart form with a ``file`` part."""


@dataclass
class Upload:
    file: IO[bytes]
    size: int
    encoding: str
    """``utf-8-sig`` (a BOM is dropped when read) or ``latin-1``."""
    fields: dict[str, str] = field(default_factory=dict)
    filename: str = ""


@dataclass
class _Part:
    name: str = ""
    filename: str = ""
    data: bytearray = field(default_factory=bytearray)


class _Receiver:
    """The parser's callbacks: the ``file`` part goes to the spool, other parts to fields."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        self.size = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.utf8 = True
        self.fields: dict[str, str] = {}
        self.found_file = False
        self.filename = ""
        self._part = _Part()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._header_field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._part = _Part()
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).decode("latin-1").lower()] = bytes(
            self._header_value
        )
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _kind, options = parse_options_header(self._headers.get("content-disposition", b""))
        self._part.name = options.get(b"name", b"").decode("utf-8", "replace")
        self._part.filename = options.get(b"filename", b"").decode("utf-8", "replace")

    def _data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._part.name != "file":
            if len(self._part.data) + len(chunk) > FIELD_MAX:
                raise UnreadableUploadError(f"form field {self._part.name!r} is too long")
            self._part.data.extend(chunk)
            return
        if self.found_file:
            raise UnreadableUploadError("the form has more than one file")
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLargeError(self.limit)
        if self.utf8:
            try:
                self.decoder.decode(chunk)
            except UnicodeDecodeError:
                self.utf8 = False
        self.spool.write(chunk)

    def _end(self) -> None:
        if self._part.name == "file":
            self.found_file = True
            self.filename = self._part.filename
        elif self._part.name:
            self.fields[self._part.name] = self._part.data.decode("utf-8", "replace")


async def receive(request: Request, *, limit: int) -> Upload:
    """Read the request's form; the caller closes ``Upload.file``.

    Raises :class:`TooLargeError` (before reading on when ``Content-Length`` says so) or
    :class:`UnreadableUploadError`.
    """
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UnreadableUploadError("the upload is not a multipart/form-data form")
    declared = request.headers.get("content-length")
    if (
        declared is not None
        and declared.isascii()
        and declared.isdigit()
        and int(declared) > limit + FORM_OVERHEAD
    ):
        raise TooLargeError(limit)
    receiver = _Receiver(limit)
    parser = MultipartParser(boundary, receiver.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if receiver.utf8:
            try:
                receiver.decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                receiver.utf8 = False
    except (TooLargeError, UnreadableUploadError):
        receiver.spool.close()
        raise
    except Exception as exc:  # the parser's own errors: a broken form
        receiver.spool.close()
        raise UnreadableUploadError("the multipart form is malformed") from exc
    if not receiver.found_file:
        receiver.spool.close()
        raise UnreadableUploadError("the form has no 'file' part")
    receiver.spool.seek(0)
    return Upload(
        file=receiver.spool,
        size=receiver.size,
        encoding="utf-8-sig" if receiver.utf8 else "latin-1",
        fields=receiver.fields,
        filename=receiver.filename,
    )
