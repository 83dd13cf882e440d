"""Webhook endpoints, deliveries and attempts

Revision ID: webhooks_0001
Revises:
Create Date: 2026-11-22 00:14:21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "webhooks_0001"
down_revision: str | Sequence[str] | None = None
# The plugin's own branch; it needs the events outbox and the job wake-ups (kernel_0005).
branch_labels: str | Sequence[str] | None = ("webhooks",)
depends_on: str | Sequence[str] | None = ("kernel_0005",)

TABLES = ("webhooks_endpoints", "webhooks_deliveries", "webhooks_attempts")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "webhooks_endpoints",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=300), nullable=True),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("consecutive_dead", sa.Integer(), nullable=False),
        sa.Column("failing_since", UTCDateTime(), nullable=True),
        sa.Column("last_success_at", UTCDateTime(), nullable=True),
        sa.Column("secret_version", sa.Integer(), nullable=False),
        sa.Column("secret_rotated_at", UTCDateTime(), nullable=True),
        sa.Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
        *_timestamps(),
        _tenant_fk("webhooks_endpoints"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_webhooks_endpoints")),
    )
    enable_tenant_rls("webhooks_endpoints")

    op.create_table(
        "webhooks_deliveries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=120), nullable=False),
        sa.Column("aggregate", sa.String(length=200), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("schedule_step", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "status IN ('pending', 'failed', 'succeeded', 'dead')",
            name=op.f("ck_webhooks_deliveries_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["webhooks_endpoints.tenant_id", "webhooks_endpoints.id"],
            name=op.f("fk_webhooks_deliveries_tenant_id_endpoint_id_webhooks_endpoints"),
            ondelete="CASCADE",
        ),
        _tenant_fk("webhooks_deliveries"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_webhooks_deliveries")),
        sa.UniqueConstraint(
            "tenant_id",
            "endpoint_id",
            "event_id",
            name=op.f("uq_webhooks_deliveries_tenant_id_endpoint_id_event_id"),
        ),
    )
    op.create_index(
        "ix_webhooks_deliveries_queue",
        "webhooks_deliveries",
        ["tenant_id", "endpoint_id", "aggregate", "sequence"],
    )
    op.create_index(
        "ix_webhooks_deliveries_due",
        "webhooks_deliveries",
        ["tenant_id", "status", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhooks_deliveries_listing", "webhooks_deliveries", ["tenant_id", "created_at", "id"]
    )
    enable_tenant_rls("webhooks_deliveries")

    op.create_table(
        "webhooks_attempts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("response_excerpt", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "delivery_id"],
            ["webhooks_deliveries.tenant_id", "webhooks_deliveries.id"],
            name=op.f("fk_webhooks_attempts_tenant_id_delivery_id_webhooks_deliveries"),
            ondelete="CASCADE",
        ),
        _tenant_fk("webhooks_attempts"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_webhooks_attempts")),
        sa.UniqueConstraint(
            "tenant_id",
            "delivery_id",
            "number",
            name=op.f("uq_webhooks_attempts_tenant_id_delivery_id_number"),
        ),
    )
    enable_tenant_rls("webhooks_attempts")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
