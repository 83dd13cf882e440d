"""The import job: runs queued imports of a tenant."""

from __future__ import annotations

import uuid
from datetime import datetime

from kernel import JobTopic, Platform


async def run_imports(platform: Platform, tenant_id: uuid.UUID) -> datetime | None:
    return None


IMPORT_JOB = JobTopic("contacts.import", run_imports, "Run queued contact imports.")
