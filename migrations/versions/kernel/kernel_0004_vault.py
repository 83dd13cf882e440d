"""Vault: tenant data keys, secrets and the decryption log

Revision ID: kernel_0004
Revises: kernel_0003
Create Date: 2026-11-21 22:18:37.043333
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "kernel_0004"
down_revision: str | Sequence[str] | None = "kernel_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_OWNED_TABLES = ("vault_data_keys", "vault_secrets", "vault_access_events")


def upgrade() -> None:
    op.create_table(
        "vault_access_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("secret_name", sa.String(length=120), nullable=False),
        sa.Column("plugin", sa.String(length=63), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=True),
        sa.Column("actor_id", sa.String(length=80), nullable=True),
        sa.Column("job", sa.String(length=120), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_vault_access_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_vault_access_events")),
    )
    with op.batch_alter_table("vault_access_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vault_access_events_tenant_id_occurred_at_id"),
            ["tenant_id", "occurred_at", "id"],
            unique=False,
        )

    op.create_table(
        "vault_data_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kek_id", sa.String(length=200), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("rewrapped_at", UTCDateTime(), nullable=True),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_vault_data_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_vault_data_keys")),
        sa.UniqueConstraint(
            "tenant_id", "version", name=op.f("uq_vault_data_keys_tenant_id_version")
        ),
    )
    op.create_table(
        "vault_secrets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("plugin", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data_key_id", sa.Uuid(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.Column("updated_by", sa.String(length=80), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("validation_status", sa.String(length=16), nullable=True),
        sa.Column("validation_detail", sa.String(length=300), nullable=True),
        sa.Column("validated_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            UTCDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            UTCDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "data_key_id"],
            ["vault_data_keys.tenant_id", "vault_data_keys.id"],
            name=op.f("fk_vault_secrets_tenant_id_data_key_id_vault_data_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_vault_secrets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_vault_secrets")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_vault_secrets_tenant_id_name")),
    )
    with op.batch_alter_table("vault_secrets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vault_secrets_tenant_id_data_key_id"),
            ["tenant_id", "data_key_id"],
            unique=False,
        )

    for table in TENANT_OWNED_TABLES:
        enable_tenant_rls(table)

    # The platform's own secrets are sealed by the key provider from now on; a row without
    # kek_id is still in clear and gets sealed when it is next read.
    with op.batch_alter_table("platform_secrets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kek_id", sa.String(length=200), nullable=True))
        batch_op.alter_column(
            "value", existing_type=sa.String(length=255), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("platform_secrets", schema=None) as batch_op:
        batch_op.alter_column(
            "value", existing_type=sa.Text(), type_=sa.String(length=255), existing_nullable=False
        )
        batch_op.drop_column("kek_id")

    with op.batch_alter_table("vault_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_secrets_tenant_id_data_key_id"))

    op.drop_table("vault_secrets")
    op.drop_table("vault_data_keys")
    with op.batch_alter_table("vault_access_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_access_events_tenant_id_occurred_at_id"))

    op.drop_table("vault_access_events")
