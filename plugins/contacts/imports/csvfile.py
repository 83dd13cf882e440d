"""Reading CSV files as they arrive and as they are stored: encoding, separator, header, row
count, and rows parsed one chunk at a time so a file is never held whole in memory.

Encodings: a UTF-8 byte order mark means UTF-8; a UTF-16 one, UTF-16. Otherwise a file that
is valid UTF-8 throughout is UTF-8, and anything else is a Windows "ANSI" file from Western
Europe: ``cp1252`` (what Excel writes there, with its curly quotes and euro sign in
0x80-0x9F) unless it holds one of the five bytes cp1252 leaves undefined, then ``latin-1``
(which decodes every byte). Plain ISO 8859-1 text decodes the same in both except for C1
control characters, which nobody types into a contact list.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

HEAD_BYTES = 64 * 1024
"""How much of the file's start is kept to read the header and guess the separator."""
MAX_COLUMNS = 500
MAX_COLUMN_NAME = 200
DELIMITERS = ",;\t|"
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class UnreadableFile(ValueError):
    """The file is not a CSV file this importer can read; the message says why."""


def neutralise(cell: str) -> str:
    """A cell that a spreadsheet would run as a formula, prefixed with ``'`` (OWASP CSV
    injection guidance); E.164 numbers start with ``+`` and get it too, which keeps them
    text (not a number that loses its ``+``)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


@dataclass
class FileSniffer:
    """Looks at an upload's bytes as they stream past: encoding evidence, the head of the
    file, the record count (newlines outside quotes; corrected by the import itself)."""

    size: int = 0
    head: bytearray = field(default_factory=bytearray)
    _utf8: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")()
    )
    _utf16: codecs.IncrementalDecoder | None = None
    valid_utf8: bool = True
    cp1252_ok: bool = True
    _quoted: bool = False
    _records: int = 0
    _pending: bool = False
    _started: bool = False

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        if not self._started and len(self.head) >= 4:
            self._start()
        self.size += len(data)
        if self._utf16 is not None:
            self._count(self._utf16.decode(data).encode())
            return
        if self.valid_utf8:
            try:
                self._utf8.decode(data)
            except UnicodeDecodeError:
                self.valid_utf8 = False
        if self.cp1252_ok and any(b in data for b in _CP1252_UNDEFINED):
            self.cp1252_ok = False
        self._count(data)

    def _start(self) -> None:
        self._started = True
        if self.head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self._utf16 = codecs.getincrementaldecoder("utf-16")()
            self._utf16.decode(bytes(self.head))  # what was counted so far is redone
            self._quoted, self._records, self._pending = False, 0, False

    def _count(self, data: bytes) -> None:
        for index, piece in enumerate(data.split(b"\n")):
            if index:
                if self._quoted:
                    self._pending = True
                elif self._pending:
                    self._records += 1
                    self._pending = False
                else:
                    self._records += 1  # a blank line is a row too (as in a spreadsheet)
            if piece:
                if piece.count(b'"') % 2:
                    self._quoted = not self._quoted
                if piece.strip(b"\r"):
                    self._pending = True

    def finish(self) -> None:
        if not self._started:
            self._start()
        if self.valid_utf8:
            try:
                self._utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                self.valid_utf8 = False

    @property
    def encoding(self) -> str:
        for bom, name in _BOMS:
            if self.head.startswith(bom):
                return name
        if self.valid_utf8:
            return "utf-8"
        return "cp1252" if self.cp1252_ok else "latin-1"

    @property
    def records(self) -> int:
        """Records in the file (header included), as far as counting quotes tells."""
        return self._records + (1 if self._pending else 0)


@dataclass(frozen=True)
class FileShape:
    encoding: str
    delimiter: str
    columns: list[str]
    rows_total: int


def shape(sniffer: FileSniffer) -> FileShape:
    """The file's encoding, separator and header; :class:`UnreadableFile` if it has none."""
    head = bytes(sniffer.head)
    encoding = sniffer.encoding
    if not head.strip() or head in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise UnreadableFile("the file is empty")
    if encoding != "utf-16" and b"\x00" in head:
        raise UnreadableFile(
            "this is not a text file (a spreadsheet workbook? save it as CSV first)"
        )
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head)
    lines = text.splitlines(keepends=True)
    if len(head) < sniffer.size and len(lines) > 1:
        lines = lines[:-1]  # the last line of the head may be cut short
    if not lines or not lines[0].strip():
        raise UnreadableFile("the first line (the header row: column names) is empty")
    delimiter = guess_delimiter("".join(lines[:50]))
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except (csv.Error, StopIteration) as exc:
        raise UnreadableFile(f"the header row cannot be read: {exc}") from None
    columns = column_names(header)
    if not any(columns):
        raise UnreadableFile("the header row has no column names")
    return FileShape(encoding, delimiter, columns, max(sniffer.records - 1, 0))


def guess_delimiter(sample: str) -> str:
    """``,``, ``;``, tab or ``|``: what :class:`csv.Sniffer` finds, else the one the first
    line holds most of (a single-column file: ``,``)."""
    try:
        found = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        found = ""
    if found in DELIMITERS and found:
        return found
    first = sample.splitlines()[0] if sample else ""
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def column_names(header: list[str]) -> list[str]:
    """The header's names, trimmed, made unique (``Phone``, ``Phone (2)``); a blank one is
    ``Column <n>``."""
    if len(header) > MAX_COLUMNS:
        raise UnreadableFile(f"the file has more than {MAX_COLUMNS} columns")
    names: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(header, start=1):
        name = " ".join(raw.replace("\ufeff", "").split())[:MAX_COLUMN_NAME] or f"Column {index}"
        unique, n = name, 2
        while unique.lower() in seen:
            unique, n = f"{name} ({n})", n + 1
        seen.add(unique.lower())
        names.append(unique)
    return names


class _NeedMore(Exception):
    """The lines read so far end inside a record: fetch the next chunk."""


class _LineFeed:
    """Lines for :func:`csv.reader`; when they run out mid-record it raises, and the lines
    of the unfinished record are given again once the next chunk arrived."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque()
        self.taken: list[str] = []
        self.eof = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.lines:
            line = self.lines.popleft()
            self.taken.append(line)
            return line
        if self.eof:
            raise StopIteration
        raise _NeedMore

    def rewind(self) -> None:
        self.lines.extendleft(reversed(self.taken))
        self.taken.clear()


_LINE = re.compile(r"[^\n]*\n|[^\n]+")


@dataclass(frozen=True)
class Record:
    number: int
    """The record's row in the file, the header being row 1."""
    cells: list[str] | None
    """None: the row could not be parsed (``error`` says why)."""
    error: str = ""


async def records(
    fetch: Callable[[int], Awaitable[bytes | None]], *, encoding: str, delimiter: str
) -> AsyncIterator[Record]:
    """Every record of a stored file, header first; ``fetch(n)`` gives chunk ``n`` (from 0)
    or None after the last. Holds one chunk and one record at a time."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    feed = _LineFeed()
    reader = csv.reader(feed, delimiter=delimiter, strict=False)
    partial = ""
    sequence = 0
    number = 0
    while True:
        try:
            cells = next(reader)
        except _NeedMore:
            feed.rewind()
            data = await fetch(sequence)
            sequence += 1
            text = partial + (
                decoder.decode(data) if data is not None else decoder.decode(b"", True)
            )
            lines = _LINE.findall(text)
            partial = ""
            if data is not None and lines and not lines[-1].endswith("\n"):
                partial = lines.pop()
            feed.lines.extend(lines)
            feed.eof = data is None
            continue
        except StopIteration:
            return
        except csv.Error as exc:
            feed.taken.clear()
            number += 1
            yield Record(number, None, f"this row cannot be read as CSV: {exc}")
            continue
        feed.taken.clear()
        number += 1
        yield Record(number, cells)
