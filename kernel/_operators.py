"""Platform operators and the first-start bootstrap of the operator account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, String, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from kernel._db import Database
from kernel._models import Base, TimestampMixin, UTCDateTime, UUIDPrimaryKeyMixin
from kernel._passwords import generate_password, hash_password
from kernel._settings import Settings


class PlatformOperator(UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """An account that manages tenants; it has no tenant and reads no tenant data."""

    __tablename__ = "platform_operators"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


@dataclass(frozen=True)
class BootstrapResult:
    email: str
    created: bool
    generated_password: str | None = None


async def bootstrap_operator(database: Database, settings: Settings) -> BootstrapResult:
    """Create the first operator account if there is none; idempotent and race-safe.

    The password comes from ``KRALIKI_BOOTSTRAP_PASSWORD`` or is generated; a generated one is
    returned so the caller can show it exactly once (it is never logged).
    """
    email = settings.bootstrap_email.strip().lower()
    async with database.session() as session:
        existing = await session.scalar(select(func.count()).select_from(PlatformOperator))
        if existing:
            return BootstrapResult(email=email, created=False)
        provided = settings.bootstrap_password
        password = provided.get_secret_value() if provided is not None else generate_password()
        session.add(PlatformOperator(email=email, password_hash=hash_password(password)))
        try:
            await session.commit()
        except IntegrityError:
            return BootstrapResult(email=email, created=False)  # another process won the race
    return BootstrapResult(
        email=email, created=True, generated_password=None if provided else password
    )
