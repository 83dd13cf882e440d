"""Erasure of a contact across every plugin (``kraliki_contact_erased``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from kernel import JobTopic, Platform


async def run_erasures(platform: Platform, tenant_id: uuid.UUID) -> datetime | None:
    return None


ERASURE_JOB = JobTopic("contacts.erase", run_erasures, "Erase contacts in every plugin.")
