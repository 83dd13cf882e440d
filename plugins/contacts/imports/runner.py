"""Running one import: the stored file parsed as a stream, a batch of rows at a time.

Each batch commits together with the import's ``rows_done`` and counts, so rows
1..``rows_done`` of the file have landed and nothing after them has: a run that stops (a
crash, a cancellation, an error) loses nothing already committed, and the next run resumes
after ``rows_done``. The commit is guarded by the ``rows_done`` it started from, so two
workers that both think they run the import (a lease that ran out) never land a batch twice.

Imports publish ``contacts.import.*`` events (started, one per batch, and how it ended), not
one ``contacts.contact.created`` per row: a 100,000-row file would put 100,000 events in the
outbox and through every webhook. Consumers that mirror contacts re-read them when an import
completes (``GET /api/v1/contacts?updated_since=`` or the CSV export).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from sqlalchemy import String, Table, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, current_tenant_id, storable_text, utcnow
from plugins.contacts.config import CONTACTS_SETTINGS
from plugins.contacts.events import (
    ImportCancelled,
    ImportCompleted,
    ImportEvent,
    ImportFailed,
    ImportProgressed,
    ImportStarted,
)
from plugins.contacts.fields import FieldProblem, definitions
from plugins.contacts.imports.csvfile import Record, records
from plugins.contacts.imports.mapping import Plan, RowValues
from plugins.contacts.models import (
    Contact,
    ContactEmail,
    ContactImport,
    ContactPhone,
    ContactTag,
    FieldDefinition,
    ImportChunk,
    ImportRowError,
    ImportStatus,
)
from plugins.contacts.records import (
    Cleaned,
    apply,
    clean,
    default_country,
    emails_of,
    phones_of,
    search_text,
    write_children,
)

logger = logging.getLogger("kraliki.contacts.imports")

ACTIVE = (ImportStatus.QUEUED.value, ImportStatus.RUNNING.value)
MAX_REASON = 500
MAX_COLUMN = 200

Progress = Callable[[ContactImport], None]


@dataclass
class _Row:
    number: int
    values: RowValues
    cleaned: Cleaned
    keys: list[str]


@dataclass
class _Entry:
    """What the batch does for a contact: create it, or update an existing one."""

    row: _Row
    contact_id: uuid.UUID | None = None
    """Set for an existing contact."""
    later: list[_Row] = field(default_factory=list)
    """Rows of the same batch that update it too (policy ``update``)."""


@dataclass
class _Batch:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: dict[tuple[int, str], list[str]] = field(default_factory=dict)

    def error(self, row: int, column: str, reason: str) -> None:
        self.errors.setdefault((row, column[:MAX_COLUMN]), []).append(reason)


class _Stop(Exception):
    """The import is no longer this run's to continue (cancelled, or another run has it)."""


async def process(
    platform: Platform,
    import_id: uuid.UUID,
    *,
    budget_seconds: float | None = None,
    max_batches: int | None = None,
    on_progress: Progress | None = None,
) -> bool:
    """Run (or resume) a queued or running import; True when it ended (completed, failed,
    cancelled, or not this run's to run), False when the budget ran out first."""
    run = _Run(platform, import_id, on_progress)
    try:
        return await run.go(budget_seconds=budget_seconds, max_batches=max_batches)
    except _Stop:
        return True
    except Exception as exc:
        logger.exception("contact import %s failed at rows after %s", import_id, run.rows_done)
        await run.fail(exc)
        return True


class _Run:
    def __init__(self, platform: Platform, import_id: uuid.UUID, on_progress: Progress | None):
        self.platform = platform
        self.import_id = import_id
        self.on_progress = on_progress
        self.settings = CONTACTS_SETTINGS.get(platform)
        self.tenant_id = current_tenant_id()
        self.rows_done = 0
        self.seen: dict[str, int] = {}
        """Dry run: keys of the rows that would have been created (nothing in the database)."""

    async def go(self, *, budget_seconds: float | None, max_batches: int | None) -> bool:
        started = time.monotonic()
        async with self.platform.database.session() as session:
            job = await session.scalar(
                select(ContactImport).where(ContactImport.id == self.import_id)
            )
            if job is None or job.status not in ACTIVE:
                return True
            if job.status == ImportStatus.QUEUED.value:
                job.status = ImportStatus.RUNNING.value
                job.started_at = utcnow()
                await self._publish(session, job, ImportStarted)
                await session.commit()
            self.fields: dict[str, FieldDefinition] = await definitions(session)
            self.country = await default_country(session)
            self.job = job
            self.rows_done = job.rows_done
        self.plan = Plan.build(job.mapping, job.columns)
        self.match_on = job.match_on or "phone"
        self.dry_run = job.dry_run
        self.duplicates = job.duplicates
        batch: list[Record] = []
        batches = 0
        size = self.settings.import_batch_rows
        stream = records(
            self._chunk, encoding=job.encoding or "utf-8", delimiter=job.delimiter or ","
        )
        async for record in stream:
            if record.number == 1:
                continue  # the header
            if record.number - 1 <= self.rows_done:
                if self.dry_run and self.duplicates != "create":
                    self._remember(record)  # a resumed dry run: what earlier rows created
                continue
            batch.append(record)
            if len(batch) < size:
                continue
            await self._batch(batch)
            batch = []
            batches += 1
            if (max_batches is not None and batches >= max_batches) or (
                budget_seconds is not None and time.monotonic() - started >= budget_seconds
            ):
                return False
        if batch:
            await self._batch(batch)
        await self._finish()
        return True

    async def _chunk(self, sequence: int) -> bytes | None:
        async with self.platform.database.session() as session:
            return await session.scalar(
                select(ImportChunk.data).where(
                    ImportChunk.import_id == self.import_id, ImportChunk.sequence == sequence
                )
            )

    def _remember(self, record: Record) -> None:
        if record.cells is None:
            return
        row = self._row(record)
        if row is not None and not row.cleaned.problems:
            for key in row.keys:
                self.seen.setdefault(key, row.number)

    def _row(self, record: Record) -> _Row | None:
        cells = [storable_text(c) for c in record.cells or ()]
        if not any(c.strip() for c in cells):
            return None
        values = self.plan.values(cells)
        cleaned = clean(
            values.values, default_country=self.country, fields=self.fields, partial=True
        )
        return _Row(record.number, values, cleaned, self._keys(cleaned))

    def _keys(self, cleaned: Cleaned) -> list[str]:
        if self.match_on == "phone":
            return [p.number for p in cleaned.phones or ()]
        if self.match_on == "email":
            return list(cleaned.emails or ())
        external = cleaned.attrs.get("external_id")
        return [external] if external else []

    # -- one batch ---------------------------------------------------------------------

    async def _batch(self, records_: Sequence[Record]) -> None:
        result = _Batch()
        rows: list[_Row] = []
        for record in records_:
            if record.cells is None:
                result.failed += 1
                result.error(record.number, "", record.error)
                continue
            row = self._row(record)
            if row is None:
                result.skipped += 1  # a blank line
                continue
            if row.cleaned.problems:
                result.failed += 1
                for problem in row.cleaned.problems:
                    result.error(row.number, row.values.column_of(problem.field), problem.reason)
                continue
            rows.append(row)
        async with self.platform.database.session() as session:
            await self._check(session)
            existing = await self._existing(session, rows)
            new, updates = self._decide(rows, existing, result)
            result.created += len(new)
            if not self.dry_run:
                await self._create(session, new)
                result.updated += await self._update(session, updates, result)
            else:
                result.updated += len(updates)
            if result.errors:
                await session.execute(
                    insert(ImportRowError),
                    [
                        {
                            "tenant_id": self.tenant_id,
                            "import_id": self.import_id,
                            "row_number": number,
                            "column": column,
                            "reason": "; ".join(dict.fromkeys(reasons))[:MAX_REASON],
                        }
                        for (number, column), reasons in result.errors.items()
                    ],
                )
            done = self.rows_done + len(records_)
            job = self.job
            moved = await session.execute(
                update(ContactImport)
                .where(
                    ContactImport.id == self.import_id,
                    ContactImport.rows_done == self.rows_done,
                    ContactImport.status == ImportStatus.RUNNING.value,
                )
                .values(
                    rows_done=done,
                    created_count=ContactImport.created_count + result.created,
                    updated_count=ContactImport.updated_count + result.updated,
                    skipped_count=ContactImport.skipped_count + result.skipped,
                    failed_count=ContactImport.failed_count + result.failed,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            if not getattr(moved, "rowcount", 0):
                await session.rollback()
                raise _Stop
            job.rows_done = done
            job.created_count += result.created
            job.updated_count += result.updated
            job.skipped_count += result.skipped
            job.failed_count += result.failed
            if job.rows_total is not None and job.rows_total < done:
                job.rows_total = done
            await self._publish(session, job, ImportProgressed)
            await session.commit()
        self.rows_done = done
        if self.on_progress is not None:
            self.on_progress(job)

    async def _check(self, session: AsyncSession, *, cancel: bool = True) -> None:
        """Stop at this batch boundary when cancelled, or when another run moved on."""
        state = (
            await session.execute(
                select(
                    ContactImport.status, ContactImport.rows_done, ContactImport.cancel_requested
                ).where(ContactImport.id == self.import_id)
            )
        ).one_or_none()
        if state is None or state.status != ImportStatus.RUNNING.value:
            raise _Stop
        if state.rows_done != self.rows_done:
            raise _Stop
        if cancel and state.cancel_requested:
            await self._end(session, ImportStatus.CANCELLED, ImportCancelled)
            raise _Stop

    async def _existing(self, session: AsyncSession, rows: Sequence[_Row]) -> dict[str, uuid.UUID]:
        """The oldest live contact having each key of the batch: the keys looked up in their
        index, then which of those contacts are live (two indexed queries; a join let
        PostgreSQL scan every contact of the tenant once the table grew)."""
        if self.duplicates == "create":
            return {}
        keys = sorted({key for row in rows for key in row.keys})
        if not keys:
            return {}
        column: Any
        if self.match_on == "phone":
            column, owner = ContactPhone.number, ContactPhone.contact_id
        elif self.match_on == "email":
            column, owner = ContactEmail.email, ContactEmail.contact_id
        else:
            column, owner = Contact.external_id, Contact.id
        query = select(column, owner)
        if session.get_bind().dialect.name == "postgresql":
            # The keys as one array joined in: PostgreSQL then hashes them (or probes the
            # index per key), where an IN list of a thousand parameters is compared one by
            # one against every row it scans.
            wanted = (
                func.unnest(postgresql.array(keys, type_=String))
                .table_valued("key")
                .render_derived()
            )
            query = query.join(wanted, column == wanted.c.key)
        else:
            query = query.where(column.in_(keys))
        pairs = list(await session.execute(query))
        if not pairs:
            return {}
        live = {
            contact_id: (created_at, contact_id)
            for contact_id, created_at in await session.execute(
                select(Contact.id, Contact.created_at).where(
                    Contact.id.in_({contact_id for _, contact_id in pairs}),
                    Contact.merged_into_id.is_(None),
                    Contact.erased_at.is_(None),
                )
            )
        }
        found: dict[str, uuid.UUID] = {}
        for key, contact_id in sorted(
            ((k, c) for k, c in pairs if c in live), key=lambda pair: live[pair[1]]
        ):
            found.setdefault(key, contact_id)
        return found

    def _decide(
        self, rows: Sequence[_Row], existing: dict[str, uuid.UUID], result: _Batch
    ) -> tuple[list[_Entry], dict[uuid.UUID, _Entry]]:
        new: list[_Entry] = []
        updates: dict[uuid.UUID, _Entry] = {}
        in_batch: dict[str, _Entry] = {}
        for row in rows:
            if self.duplicates == "create":
                if self._creatable(row, result):
                    new.append(_Entry(row))
                continue
            earlier = next((in_batch[k] for k in row.keys if k in in_batch), None)
            known = next((existing[k] for k in row.keys if k in existing), None)
            seen = next((self.seen[k] for k in row.keys if k in self.seen), None)
            if earlier is not None:
                if self.duplicates == "skip":
                    result.skipped += 1
                else:  # an update of the contact an earlier row of the batch makes
                    result.updated += 1
                    earlier.later.append(row)
                entry = earlier
            elif known is not None or seen is not None:
                if self.duplicates == "skip":
                    result.skipped += 1
                    continue
                if known is None:  # dry run: a contact an earlier batch would create
                    result.updated += 1
                    continue
                entry = updates.setdefault(known, _Entry(row, contact_id=known))
                if entry.row is not row:
                    result.updated += 1
                    entry.later.append(row)
            else:
                if not self._creatable(row, result):
                    continue
                entry = _Entry(row)
                new.append(entry)
                if self.dry_run:
                    for key in row.keys:
                        self.seen.setdefault(key, row.number)
            for key in row.keys:
                in_batch.setdefault(key, entry)
        return new, updates

    def _creatable(self, row: _Row, result: _Batch) -> bool:
        """What a new contact needs beyond valid values (a partial clean does not ask)."""
        attrs = row.cleaned.attrs
        problems: list[FieldProblem] = []
        if not (
            attrs.get("name") or attrs.get("company") or row.cleaned.phones or row.cleaned.emails
        ):
            problems.append(
                FieldProblem("name", "a contact needs a name, a company, a number or an e-mail")
            )
        custom = row.cleaned.custom_fields or {}
        for key, definition in self.fields.items():
            if definition.required and custom.get(key) is None:
                problems.append(FieldProblem(f"custom_fields.{key}", "required"))
        for problem in problems:
            result.error(row.number, row.values.column_of(problem.field), problem.reason)
        if problems:
            result.failed += 1
        return not problems

    async def _create(self, session: AsyncSession, entries: Sequence[_Entry]) -> None:
        """New contacts with their numbers, e-mails and tags: one multi-row INSERT each."""
        if not entries:
            return
        tenant_id = self.tenant_id
        now = utcnow()
        contacts: list[dict[str, Any]] = []
        phones: list[dict[str, Any]] = []
        emails: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        for entry in entries:
            cleaned = _merged(entry)
            draft = _Draft()
            contact = cast(Contact, draft)  # apply() and search_text() only get and set
            apply(contact, cleaned)
            contact_id = uuid.uuid4()
            numbers = [p.number for p in cleaned.phones or ()]
            addresses = list(cleaned.emails or ())
            contacts.append(
                {
                    "tenant_id": tenant_id,
                    "id": contact_id,
                    **asdict(draft),
                    "search_text": search_text(contact, numbers, addresses),
                    "version": 1,
                    "call_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            for position, phone in enumerate(cleaned.phones or ()):
                phones.append(
                    {
                        "tenant_id": tenant_id,
                        "id": uuid.uuid4(),
                        "contact_id": contact_id,
                        "number": phone.number,
                        "type": str(phone.type),
                        "label": phone.label,
                        "position": position,
                        "number_region": phone.region,
                        "time_zones": list(phone.time_zones),
                        "line_type": phone.line_type,
                    }
                )
            emails.extend(
                {
                    "tenant_id": tenant_id,
                    "id": uuid.uuid4(),
                    "contact_id": contact_id,
                    "email": email,
                    "position": position,
                }
                for position, email in enumerate(addresses)
            )
            tags.extend(
                {"tenant_id": tenant_id, "contact_id": contact_id, "tag": tag} for tag in draft.tags
            )
        # Core inserts of plain rows (executemany: multi-row VALUES), not the ORM's bulk
        # path: a third faster, and the rows are complete already.
        await session.execute(_table(Contact).insert(), contacts)
        for model, rows in ((ContactPhone, phones), (ContactEmail, emails), (ContactTag, tags)):
            if rows:
                await session.execute(_table(model).insert(), rows)

    async def _update(
        self, session: AsyncSession, entries: dict[uuid.UUID, _Entry], result: _Batch
    ) -> int:
        """Existing contacts updated with the rows' non-empty values; how many changed (the
        others count as skipped). Tags are added to the contact's, not replaced."""
        if not entries:
            return 0
        ids = list(entries)
        contacts = {
            c.id: c for c in await session.scalars(select(Contact).where(Contact.id.in_(ids)))
        }
        numbers = await phones_of(session, ids)
        addresses = await emails_of(session, ids)
        changed_count = 0
        for contact_id, entry in entries.items():
            contact = contacts.get(contact_id)
            if contact is None:
                result.skipped += 1
                continue
            cleaned = _merged(entry)
            if cleaned.tags is not None:
                cleaned.tags = list(dict.fromkeys([*(contact.tags or []), *cleaned.tags]))
            if cleaned.phones is not None and [p.number for p in cleaned.phones] == [
                p.number for p in numbers[contact_id]
            ]:
                cleaned.phones = None
            if cleaned.emails is not None and cleaned.emails == addresses[contact_id]:
                cleaned.emails = None
            changed = apply(contact, cleaned)
            children = cleaned.phones is not None or cleaned.emails is not None
            if not changed and not children:
                result.skipped += 1
                continue
            await write_children(session, contact, cleaned, new=False)
            contact.version += 1
            contact.updated_at = utcnow()
            changed_count += 1
        await session.flush()
        return changed_count

    # -- the end -----------------------------------------------------------------------

    async def _finish(self) -> None:
        async with self.platform.database.session() as session:
            await self._check(session, cancel=False)  # every row is in: it completed
            await self._end(session, ImportStatus.COMPLETED, ImportCompleted)

    async def _end(
        self,
        session: AsyncSession,
        status: ImportStatus,
        event: type[ImportEvent],
        *,
        error: str | None = None,
    ) -> None:
        job = (
            await session.scalars(
                select(ContactImport)
                .where(ContactImport.id == self.import_id)
                .execution_options(populate_existing=True)
            )
        ).one()
        job.status = status.value
        extra: dict[str, Any] = {}
        if error is not None:
            job.error = error[:500]
            extra["error"] = error
        job.finished_at = utcnow()
        job.cancel_requested = False
        if status == ImportStatus.COMPLETED:
            job.rows_total = job.rows_done
        if not job.dry_run and status != ImportStatus.FAILED:
            # The file held personal data and is not needed any more (a dry run keeps it,
            # to be imported for real next).
            await session.execute(delete(ImportChunk).where(ImportChunk.import_id == job.id))
        await self._publish(session, job, event, **extra)
        await session.commit()
        self.job = job
        if self.on_progress is not None:
            self.on_progress(job)

    async def fail(self, exc: Exception) -> None:
        """Mark the import failed: rows 1..rows_done landed, nothing after them."""
        message = f"{type(exc).__name__} while importing rows after row {self.rows_done + 1}"
        async with self.platform.database.session() as session:
            job = await session.scalar(
                select(ContactImport).where(ContactImport.id == self.import_id)
            )
            if job is None or job.status not in ACTIVE:
                return
            await self._end(session, ImportStatus.FAILED, ImportFailed, error=message)

    async def _publish(
        self, session: AsyncSession, job: ContactImport, event: type[ImportEvent], **extra: Any
    ) -> None:
        await self.platform.events.publish(
            session,
            event(
                import_id=job.id,
                status=job.status,
                dry_run=job.dry_run,
                rows_total=job.rows_total,
                rows_done=job.rows_done,
                created=job.created_count,
                updated=job.updated_count,
                skipped=job.skipped_count,
                failed=job.failed_count,
                **extra,
            ),
        )


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


@dataclass(slots=True)
class _Draft:
    """A new contact's attributes, as :func:`apply` sets them on a :class:`Contact` (without
    the ORM's attribute instrumentation, which cost more than the rest of preparing a row)."""

    name: str = ""
    company: str = ""
    external_id: str | None = None
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str | None = None
    time_zone: str | None = None
    owner_id: uuid.UUID | None = None
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)


def _merged(entry: _Entry) -> Cleaned:
    """The entry's first row with the later rows of the same contact applied over it."""
    cleaned = entry.row.cleaned
    if not entry.later:
        return cleaned
    merged = Cleaned(
        attrs=dict(cleaned.attrs),
        phones=cleaned.phones,
        emails=cleaned.emails,
        tags=list(cleaned.tags) if cleaned.tags is not None else None,
        custom_fields=dict(cleaned.custom_fields) if cleaned.custom_fields is not None else None,
    )
    for row in entry.later:
        later = row.cleaned
        merged.attrs.update(later.attrs)
        if later.phones is not None:
            merged.phones = later.phones
        if later.emails is not None:
            merged.emails = later.emails
        if later.tags is not None:
            merged.tags = list(dict.fromkeys([*(merged.tags or []), *later.tags]))
        if later.custom_fields is not None:
            merged.custom_fields = {**(merged.custom_fields or {}), **later.custom_fields}
    return merged
