"""Calls, timeline, recordings, transcripts, numbers, settings, webhook receipts

Revision ID: calls_0001
Revises:
Create Date: 2026-11-22 02:45:29.780141
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "calls_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("calls",)
# The plugin's own branch; it publishes events and wakes jobs (kernel_0005).
depends_on: str | Sequence[str] | None = ("kernel_0005",)

TABLES = (
    "calls_calls",
    "calls_numbers",
    "calls_settings",
    "calls_webhook_receipts",
    "calls_recordings",
    "calls_timeline",
    "calls_transcript_segments",
)


def upgrade() -> None:
    op.create_table(
        "calls_calls",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("from_number", sa.String(length=32), nullable=False),
        sa.Column("to_number", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("provider_call_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=True),
        sa.Column("ringing_at", UTCDateTime(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("hangup_cause", sa.String(length=64), nullable=True),
        sa.Column("answered_by", sa.String(length=16), nullable=True),
        sa.Column("disposition", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("parent_call_id", sa.Uuid(), nullable=True),
        sa.Column("instructions", sa.JSON(), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=True),
        sa.Column("on_hold", sa.Boolean(), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.Column("recording", sa.String(length=16), nullable=True),
        sa.Column("placed_by", sa.String(length=80), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "parent_call_id"],
            ["calls_calls.tenant_id", "calls_calls.id"],
            name="fk_calls_calls_parent",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_calls_calls_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calls_calls")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "provider_call_id",
            name=op.f("uq_calls_calls_tenant_id_provider_provider_call_id"),
        ),
    )
    with op.batch_alter_table("calls_calls", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calls_calls_listing", ["tenant_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_calls_calls_pacing", ["tenant_id", "provider", "placed_at"], unique=False
        )
        batch_op.create_index("ix_calls_calls_status", ["tenant_id", "status"], unique=False)

    op.create_table(
        "calls_numbers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("forward_to", sa.String(length=32), nullable=True),
        sa.Column("ivr_flow_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_calls_numbers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calls_numbers")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_calls_numbers_tenant_id_number")),
    )
    op.create_table(
        "calls_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("primary_provider", sa.String(length=64), nullable=True),
        sa.Column("secondary_provider", sa.String(length=64), nullable=True),
        sa.Column("max_concurrent_calls", sa.Integer(), nullable=False),
        sa.Column("calls_per_second", sa.JSON(), nullable=False),
        sa.Column("recording_retention_days", sa.Integer(), nullable=True),
        sa.Column("recording_consent_message", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_calls_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_calls_settings")),
    )
    op.create_table(
        "calls_webhook_receipts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("answer_type", sa.String(length=64), nullable=True),
        sa.Column("answer_body", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_calls_webhook_receipts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calls_webhook_receipts")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "dedupe_key",
            name=op.f("uq_calls_webhook_receipts_tenant_id_provider_dedupe_key"),
        ),
    )
    with op.batch_alter_table("calls_webhook_receipts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calls_webhook_receipts_received", ["tenant_id", "received_at"], unique=False
        )

    op.create_table(
        "calls_recordings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("provider_recording_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("channels", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=64), nullable=True),
        sa.Column("media_ref", sa.String(length=2048), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "call_id"],
            ["calls_calls.tenant_id", "calls_calls.id"],
            name="fk_calls_recordings_call",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_calls_recordings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calls_recordings")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "provider_recording_id",
            name=op.f("uq_calls_recordings_tenant_id_provider_provider_recording_id"),
        ),
    )
    with op.batch_alter_table("calls_recordings", schema=None) as batch_op:
        batch_op.create_index("ix_calls_recordings_call", ["tenant_id", "call_id"], unique=False)
        batch_op.create_index(
            "ix_calls_recordings_retention", ["tenant_id", "completed_at"], unique=False
        )

    op.create_table(
        "calls_timeline",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "call_id"],
            ["calls_calls.tenant_id", "calls_calls.id"],
            name="fk_calls_timeline_call",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_calls_timeline_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calls_timeline")),
    )
    with op.batch_alter_table("calls_timeline", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calls_timeline_call", ["tenant_id", "call_id", "recorded_at"], unique=False
        )

    op.create_table(
        "calls_transcript_segments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("speaker", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("start_seconds", sa.Float(), nullable=True),
        sa.Column("end_seconds", sa.Float(), nullable=True),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "call_id"],
            ["calls_calls.tenant_id", "calls_calls.id"],
            name="fk_calls_transcript_segments_call",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_calls_transcript_segments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calls_transcript_segments")),
    )
    with op.batch_alter_table("calls_transcript_segments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calls_transcript_segments_call",
            ["tenant_id", "call_id", "recorded_at"],
            unique=False,
        )

    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    with op.batch_alter_table("calls_transcript_segments", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_transcript_segments_call")

    op.drop_table("calls_transcript_segments")
    with op.batch_alter_table("calls_timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_timeline_call")

    op.drop_table("calls_timeline")
    with op.batch_alter_table("calls_recordings", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_recordings_retention")
        batch_op.drop_index("ix_calls_recordings_call")

    op.drop_table("calls_recordings")
    with op.batch_alter_table("calls_webhook_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_webhook_receipts_received")

    op.drop_table("calls_webhook_receipts")
    op.drop_table("calls_settings")
    op.drop_table("calls_numbers")
    with op.batch_alter_table("calls_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_calls_status")
        batch_op.drop_index("ix_calls_calls_pacing")
        batch_op.drop_index("ix_calls_calls_listing")

    op.drop_table("calls_calls")
