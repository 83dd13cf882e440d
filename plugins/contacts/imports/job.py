"""The import job (``contacts.import``): runs a tenant's queued imports, oldest first.

One run works for a bounded time and asks to run again at once, so a long import never
outlives the job's lease (another worker would take it over); each batch commits with the
import's progress, so whichever run comes next resumes after the last committed row.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from kernel import JobTopic, Platform, utcnow
from plugins.contacts.imports.runner import ACTIVE, process
from plugins.contacts.models import ContactImport

TOPIC = "contacts.import"
RUN_SECONDS = 60.0
"""How long one run imports before it hands over (well within the default 300 s lease)."""
BATCHES_PER_RUN: int | None = None
"""At most this many batches per run (tests stop an import between two batches)."""


async def run_imports(platform: Platform, tenant_id: uuid.UUID) -> datetime | None:
    """Run the tenant's queued and running imports; when due again (None: nothing left)."""
    budget = min(RUN_SECONDS, platform.settings.jobs_lease_seconds / 3)
    started = utcnow()
    tried: set[uuid.UUID] = set()
    while True:
        async with platform.database.session() as session:
            query = select(ContactImport.id).where(ContactImport.status.in_(ACTIVE))
            if tried:
                query = query.where(ContactImport.id.not_in(tried))
            import_id = await session.scalar(
                query.order_by(ContactImport.created_at, ContactImport.id).limit(1)
            )
        if import_id is None:
            return None
        tried.add(import_id)
        left = budget - (utcnow() - started).total_seconds()
        if not await process(
            platform, import_id, budget_seconds=max(left, 0.0), max_batches=BATCHES_PER_RUN
        ):
            return utcnow()


IMPORT_JOB = JobTopic(TOPIC, run_imports, "Run queued contact imports.")
