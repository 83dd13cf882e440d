"""Migrations: every branch upgrades, round-trips, follows the naming convention."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import String, inspect
from sqlalchemy.orm import Mapped, mapped_column
from suite_plugins import suite_plugins

from kernel import Base, MigrationSource, PluginLoadError
from kernel._db import make_engine
from kernel._migrations import create_revision, downgrade, upgrade
from kernel._platform import resolve_plugins
from kernel.testing import app_client

KERNEL_VERSIONS = Path(__file__).parents[2] / "migrations" / "versions" / "kernel"

CORE_TABLES = {
    "platform_operators",
    "tenants",
    "users",
    "auth_sessions",
    "refresh_tokens",
    "operator_sessions",
    "operator_refresh_tokens",
    "api_keys",
    "roles",
    "casbin_rule",
    "audit_events",
    "operator_audit_events",
    "platform_secrets",
    "tenant_settings",
    "vault_data_keys",
    "vault_secrets",
    "vault_access_events",
    "kernel_events",
    "kernel_event_cursors",
    "kernel_event_hook_cursors",
    "kernel_event_relay_cursors",
    "kernel_wakeups",
    "kernel_idempotency_keys",
}
WEBHOOKS_TABLES = {"webhooks_endpoints", "webhooks_deliveries", "webhooks_attempts"}
CALLS_TABLES = {
    "calls_calls",
    "calls_timeline",
    "calls_recordings",
    "calls_transcript_segments",
    "calls_numbers",
    "calls_settings",
    "calls_webhook_receipts",
}
IVR_TABLES = {"ivr_flows", "ivr_flow_versions", "ivr_sessions", "ivr_tests", "ivr_settings"}
LOOPBACK_TABLES = {"loopback_carriers"}
CONTACTS_TABLES = {
    "contacts_consents",
    "contacts_contacts",
    "contacts_dnc",
    "contacts_emails",
    "contacts_erasures",
    "contacts_field_definitions",
    "contacts_import_chunks",
    "contacts_import_errors",
    "contacts_import_mappings",
    "contacts_imports",
    "contacts_interactions",
    "contacts_phones",
    "contacts_segment_members",
    "contacts_segments",
    "contacts_settings",
    "contacts_tags",
}
AGENTS_TABLES = {
    "agents_agents",
    "agents_agent_skills",
    "agents_handled_calls",
    "agents_reason_codes",
    "agents_settings",
    "agents_state_changes",
    "agents_teams",
    "agents_team_members",
    "agents_team_supervisors",
}
QUEUES_TABLES = {
    "queues_queues",
    "queues_queue_agents",
    "queues_queue_teams",
    "queues_items",
    "queues_offers",
}
CAMPAIGNS_TABLES = {
    "campaigns_campaigns",
    "campaigns_list_entries",
    "campaigns_settings",
    "campaigns_contacts",
    "campaigns_attempts",
    "campaigns_seats",
}
SUPERVISOR_TABLES = {
    "supervisor_sessions",
    "supervisor_settings",
    "supervisor_alert_rules",
    "supervisor_alerts",
}
AI_TABLES = {"ai_settings", "ai_usage"}
SENTIMENT_TABLES = {"sentiment_segments", "sentiment_calls"}
SUMMARIES_TABLES = {"summaries_call_summaries"}
AGENT_ASSIST_TABLES = {
    "agent_assist_articles",
    "agent_assist_article_embeddings",
    "agent_assist_suggestions",
    "agent_assist_feedback",
}
PAYMENTS_TABLES = {
    "payments_payments",
    "payments_refunds",
    "payments_ledger_entries",
    "payments_processor_events",
    "payments_settings",
    "payments_reconciliations",
    "payments_reconciliation_differences",
    "payments_agent_captures",
}


@pytest.fixture
def kraliki_installed_plugins(acme_distribution):
    return suite_plugins()


async def tables(database) -> set[str]:
    engine = make_engine(database.owner_url, schema=database.schema)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def calls_columns(database, table: str = "calls_calls") -> set[str]:
    engine = make_engine(database.owner_url, schema=database.schema)
    async with engine.connect() as connection:
        names = await connection.run_sync(
            lambda sync: {c["name"] for c in inspect(sync).get_columns(table)}
        )
    await engine.dispose()
    return names


async def test_upgrade_downgrade_upgrade_round_trip(kraliki_database, kraliki_installed_plugins):
    settings = kraliki_database.settings()
    plugins = resolve_plugins(settings, kraliki_installed_plugins)
    telephony = CALLS_TABLES | IVR_TABLES | LOOPBACK_TABLES
    people = CONTACTS_TABLES | AGENTS_TABLES | QUEUES_TABLES | CAMPAIGNS_TABLES | SUPERVISOR_TABLES
    ai = AI_TABLES | SENTIMENT_TABLES | SUMMARIES_TABLES | AGENT_ASSIST_TABLES
    everything = (
        CORE_TABLES
        | WEBHOOKS_TABLES
        | telephony
        | people
        | ai
        | PAYMENTS_TABLES
        | {"acme_blocklist_numbers"}
    )

    await upgrade(settings, plugins)
    assert await tables(kraliki_database) == everything
    assert await calls_columns(kraliki_database) >= {"handler", "handler_target", "heard_at"}
    await downgrade(settings, plugins, "payments@base")
    assert await tables(kraliki_database) == everything - PAYMENTS_TABLES
    # The plugins that ask the gateway go first, then the gateway itself.
    left = everything - PAYMENTS_TABLES
    for plugin, gone in (
        ("sentiment", SENTIMENT_TABLES),
        ("summaries", SUMMARIES_TABLES),
        ("agent_assist", AGENT_ASSIST_TABLES),
        ("ai", AI_TABLES),
    ):
        await downgrade(settings, plugins, f"{plugin}@base")
        left -= gone
        assert await tables(kraliki_database) == left
    await downgrade(settings, plugins, "acme_blocklist@base")
    assert await tables(kraliki_database) == CORE_TABLES | WEBHOOKS_TABLES | telephony | people
    await downgrade(settings, plugins, "supervisor@base")
    assert await tables(kraliki_database) == (
        CORE_TABLES | WEBHOOKS_TABLES | telephony | people - SUPERVISOR_TABLES
    )
    await downgrade(settings, plugins, "campaigns@base")
    assert await tables(kraliki_database) == (
        CORE_TABLES | WEBHOOKS_TABLES | telephony | people - SUPERVISOR_TABLES - CAMPAIGNS_TABLES
    )
    assert "target_agent_id" in await calls_columns(kraliki_database, "queues_items")
    await downgrade(settings, plugins, "queues@queues_0001")  # calls moved to an agent go
    assert "target_agent_id" not in await calls_columns(kraliki_database, "queues_items")
    await downgrade(settings, plugins, "queues@base")
    assert await tables(kraliki_database) == (
        CORE_TABLES | WEBHOOKS_TABLES | telephony | CONTACTS_TABLES | AGENTS_TABLES
    )
    await downgrade(settings, plugins, "agents@base")
    assert await tables(kraliki_database) == (
        CORE_TABLES | WEBHOOKS_TABLES | telephony | CONTACTS_TABLES
    )
    await downgrade(settings, plugins, "contacts@base")
    assert await tables(kraliki_database) == CORE_TABLES | WEBHOOKS_TABLES | telephony
    await downgrade(settings, plugins, "ivr@base")
    calls_and_loopback = CALLS_TABLES | LOOPBACK_TABLES
    assert await tables(kraliki_database) == CORE_TABLES | WEBHOOKS_TABLES | calls_and_loopback
    await downgrade(settings, plugins, "loopback@base")
    assert await tables(kraliki_database) == CORE_TABLES | WEBHOOKS_TABLES | CALLS_TABLES
    await downgrade(settings, plugins, "calls@calls_0002")  # when a call was heard of goes
    assert "heard_at" not in await calls_columns(kraliki_database)
    assert await calls_columns(kraliki_database) >= {"handler", "handler_target"}
    await downgrade(settings, plugins, "calls@calls_0001")  # the call handler columns go
    assert await tables(kraliki_database) == CORE_TABLES | WEBHOOKS_TABLES | CALLS_TABLES
    assert not await calls_columns(kraliki_database) & {"handler", "handler_target"}
    await downgrade(settings, plugins, "calls@base")
    assert await tables(kraliki_database) == CORE_TABLES | WEBHOOKS_TABLES
    await downgrade(settings, plugins, "webhooks@base")
    assert await tables(kraliki_database) == CORE_TABLES
    await downgrade(settings, plugins, "base")
    assert await tables(kraliki_database) == set()
    await upgrade(settings, plugins)
    assert await tables(kraliki_database) == everything
    assert await calls_columns(kraliki_database) >= {"handler", "handler_target"}
    await upgrade(settings, plugins)  # idempotent at head
    assert await tables(kraliki_database) == everything


async def test_constraints_follow_the_naming_convention(kraliki_database, kraliki_make_app):
    await kraliki_make_app()
    engine = make_engine(kraliki_database.owner_url, schema=kraliki_database.schema)
    async with engine.connect() as connection:

        def names(sync):
            inspector = inspect(sync)
            return (
                inspector.get_pk_constraint("tenants")["name"],
                {u["name"] for u in inspector.get_unique_constraints("tenants")},
                {c["name"] for c in inspector.get_check_constraints("tenants")},
                {u["name"] for u in inspector.get_unique_constraints("acme_blocklist_numbers")},
            )

        pk, uniques, checks, plugin_uniques = await connection.run_sync(names)
    await engine.dispose()
    assert pk == "pk_tenants"
    assert uniques == {"uq_tenants_slug"}
    assert checks == {"ck_tenants_status_valid"}
    assert plugin_uniques == {"uq_acme_blocklist_numbers_tenant_id_number"}


async def test_models_match_migrations(kraliki_database, kraliki_make_app):
    """Autogenerate finds nothing to do: the migrations create exactly what the models say."""
    app = await kraliki_make_app()
    known = CORE_TABLES | {
        model.__table__.name for p in app.state.platform.plugins.plugins for model in p.models
    }
    engine = make_engine(kraliki_database.owner_url, schema=kraliki_database.schema)
    async with engine.connect() as connection:

        def diff(sync):
            context = MigrationContext.configure(
                sync,
                opts={
                    "compare_type": True,
                    "include_name": lambda name, kind, _parent: kind != "table" or name in known,
                },
            )
            return compare_metadata(context, Base.metadata)

        changes = await connection.run_sync(diff)
    await engine.dispose()
    assert changes == []


async def test_readiness_reports_pending_migrations(kraliki_make_app, kraliki_database):
    app = await kraliki_make_app(migrate=False)
    async with app_client(app) as client:
        pending = await client.get("/readyz")
        assert pending.status_code == 503
        assert pending.headers["content-type"] == "application/problem+json"
        assert pending.json()["checks"] == {"database": "ok", "migrations": "pending"}

        await upgrade(kraliki_database.settings(), app.state.platform.plugins)
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}


def write_revision(directory: Path, revision: str, labels: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{revision}.py").write_text(
        f'revision = "{revision}"\ndown_revision = None\nbranch_labels = {labels}\n'
        'depends_on = ("kernel_0001",)\n\n\ndef upgrade():\n    pass\n\n\n'
        "def downgrade():\n    pass\n"
    )


async def test_plugin_revisions_must_carry_the_plugin_branch_label(
    kraliki_database, make_plugin, tmp_path
):
    write_revision(tmp_path / "versions", "stray_0001", "None")
    plugin = make_plugin("stray", migrations=lambda: MigrationSource(tmp_path / "versions"))
    settings = kraliki_database.settings()
    with pytest.raises(PluginLoadError, match="not on branch 'stray'"):
        await upgrade(settings, resolve_plugins(settings, [plugin]))


async def test_missing_migrations_directory_is_a_load_error(make_plugin, tmp_path):
    plugin = make_plugin("ghost", migrations=lambda: tmp_path / "missing")
    with pytest.raises(PluginLoadError, match=r"migrations directory .* is missing"):
        resolve_plugins(None, [plugin])  # type: ignore[arg-type]


async def test_new_revision_opens_the_plugin_branch(kraliki_database, make_plugin, tmp_path):
    versions = tmp_path / "versions"
    versions.mkdir()
    plugin = make_plugin("notes", migrations=lambda: MigrationSource(versions))
    settings = kraliki_database.settings()
    plugins = resolve_plugins(settings, [plugin])
    await create_revision(
        settings, plugins, branch="notes", message="create notes", autogenerate=False
    )
    (written,) = versions.glob("*.py")
    text = written.read_text()
    assert "branch_labels: str | Sequence[str] | None = ('notes',)" in text
    kernel_head = sorted(p.stem[:11] for p in KERNEL_VERSIONS.glob("kernel_*.py"))[-1]
    assert f"depends_on: str | Sequence[str] | None = '{kernel_head}'" in text
    await upgrade(settings, plugins)
    await create_revision(settings, plugins, branch="notes", message="second", autogenerate=False)
    assert len(list(versions.glob("*.py"))) == 2
    await upgrade(settings, plugins)


async def test_autogenerated_revision_uses_the_public_api(kraliki_database, tmp_path):
    """A plugin model's UTCDateTime renders as `from kernel import UTCDateTime`."""
    import importlib.util
    import types

    from kernel import PluginInfo, TimestampMixin, UUIDPrimaryKeyMixin, hookimpl

    class Memo(UUIDPrimaryKeyMixin, TimestampMixin, Base):
        __tablename__ = "memos_memos"
        text: Mapped[str] = mapped_column(String(100))

    versions = tmp_path / "versions"
    versions.mkdir()
    plugin = types.SimpleNamespace(
        kraliki_plugin_info=hookimpl(lambda: PluginInfo(name="memos", version="1.0")),
        kraliki_models=hookimpl(lambda: [Memo]),
        kraliki_migrations=hookimpl(lambda: versions),
    )
    settings = kraliki_database.settings()
    plugins = resolve_plugins(settings, [plugin])
    try:
        await upgrade(settings, plugins)
        await create_revision(settings, plugins, branch="memos", message="memos", autogenerate=True)
        (written,) = versions.glob("*.py")
        assert written.name.startswith("memos_0001_")
        text = written.read_text()
        assert "from kernel import UTCDateTime" in text
        assert "kernel._models" not in text
        spec = importlib.util.spec_from_file_location("memos_rev", written)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # imports cleanly
        await upgrade(settings, plugins)
        assert "memos_memos" in await tables(kraliki_database)
    finally:
        Base.metadata.remove(Memo.__table__)


async def test_autogenerated_revision_enables_rls_on_tenant_owned_tables(
    kraliki_database, tmp_path
):
    """A tenant-owned table in an autogenerated draft gets enable_tenant_rls right after its
    creation (forced RLS on PostgreSQL once applied); a platform table does not."""
    import types

    from sqlalchemy import Column, PrimaryKeyConstraint, Table, Uuid

    from kernel import PluginInfo, hookimpl
    from kernel._rls import rls_status

    jots = Table(
        "jots_jots",
        Base.metadata,
        Column("tenant_id", Uuid(), nullable=False),
        Column("id", Uuid(), nullable=False),
        Column("text", String(100), nullable=False),
        PrimaryKeyConstraint("tenant_id", "id"),
    )
    kinds = Table("jots_kinds", Base.metadata, Column("id", Uuid(), primary_key=True))
    versions = tmp_path / "versions"
    versions.mkdir()
    plugin = types.SimpleNamespace(
        kraliki_plugin_info=hookimpl(lambda: PluginInfo(name="jots", version="1.0")),
        kraliki_migrations=hookimpl(lambda: versions),
    )
    settings = kraliki_database.settings()
    plugins = resolve_plugins(settings, [plugin])
    try:
        await upgrade(settings, plugins)
        await create_revision(settings, plugins, branch="jots", message="jots", autogenerate=True)
        (written,) = versions.glob("*.py")
        text = written.read_text()
        assert "from kernel import enable_tenant_rls" in text
        assert "enable_tenant_rls('jots_kinds')" not in text
        created = text.index("op.create_table('jots_jots'")
        assert text.index("enable_tenant_rls('jots_jots')", created) < text.index("def downgrade")
        await upgrade(settings, plugins)
        if kraliki_database.dialect == "postgresql":
            engine = make_engine(kraliki_database.owner_url, schema=kraliki_database.schema)
            async with engine.connect() as connection:
                status = await connection.run_sync(rls_status, ["jots_jots", "jots_kinds"])
            await engine.dispose()
            assert status == {"jots_jots": (True, True, 1), "jots_kinds": (False, False, 0)}
    finally:
        Base.metadata.remove(jots)
        Base.metadata.remove(kinds)


async def test_revision_of_a_removed_plugin_is_reported_not_a_crash(
    kraliki_make_app, kraliki_database, kraliki_installed_plugins
):
    """acme_blocklist migrated, then left out: readiness says so instead of failing with 500."""
    from kernel import UnknownRevisionError
    from kernel._migrations import pending_heads

    settings = kraliki_database.settings()
    await upgrade(settings, resolve_plugins(settings, kraliki_installed_plugins))
    without = [p for p in kraliki_installed_plugins if p.entry_point != "acme_blocklist"]
    app = await kraliki_make_app(plugins=without, migrate=False)
    async with app_client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "unknown-revision"
    with pytest.raises(UnknownRevisionError, match="acme_blocklist_0001"):
        pending_heads(app.state.platform.plugins, {"acme_blocklist_0001"})


def test_tenants_brings_its_branch_and_the_kernel_imports_no_migrations_package(
    kraliki_settings,
):
    """The tenants branch comes through ``kraliki_migrations`` like a plugin's, with the
    revision ids it always had; the kernel finds ``migrations/`` by path, never by import."""
    import subprocess
    import sys

    from kernel._migrations import MIGRATIONS_ROOT, version_locations

    root = Path(__file__).parents[2]
    plugins = resolve_plugins(kraliki_settings, [])
    tenants = plugins.get("tenants").migrations
    assert tenants is not None
    assert tenants.directory == (root / "tenants" / "migrations" / "versions").resolve()
    assert sorted(p.name for p in tenants.directory.glob("tenants_*.py")) == [
        "tenants_0001_settings.py"
    ]
    assert version_locations(plugins)["tenants"] == tenants.directory
    assert (root / "migrations").resolve() == MIGRATIONS_ROOT
    assert list((root / "migrations" / "versions").rglob("tenants_*.py")) == []
    probe = "import sys, kernel._migrations, kernel._cli; print('migrations' in sys.modules)"
    imported = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert imported.stdout.strip() == "False"


async def test_existing_tenants_hooks_resume_where_their_dispatch_stood(
    kraliki_database, kraliki_installed_plugins
):
    """kernel_0007: before it, whatever was dispatched had had its hooks run; the hook cursor
    starts at the dispatch cursor, so no event is handed to the hooks a second time."""
    import uuid

    from sqlalchemy import Uuid, bindparam, text

    settings = kraliki_database.settings()
    plugins = resolve_plugins(settings, kraliki_installed_plugins)
    await upgrade(settings, plugins, "kernel@kernel_0006")
    tenant = uuid.uuid4()
    tenant_param = bindparam("tenant", type_=Uuid())
    engine = make_engine(kraliki_database.owner_url, schema=kraliki_database.schema)
    postgres = engine.dialect.name == "postgresql"

    async def in_tenant(connection, statement: str) -> object:
        if postgres:
            await connection.execute(
                text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)}
            )
        result = await connection.execute(
            text(statement).bindparams(tenant_param), {"tenant": tenant}
        )
        return result.scalar() if result.returns_rows else None

    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO tenants (id, slug, name) VALUES (:tenant, 'old', 'Old')").bindparams(
                tenant_param
            ),
            {"tenant": tenant},
        )
        await in_tenant(
            connection,
            "INSERT INTO kernel_event_cursors (tenant_id, position, updated_at) "
            "VALUES (:tenant, 41, CURRENT_TIMESTAMP)",
        )
    await upgrade(settings, plugins)
    async with engine.begin() as connection:
        position = await in_tenant(
            connection,
            "SELECT position FROM kernel_event_hook_cursors WHERE tenant_id = :tenant",
        )
    await engine.dispose()
    assert position == 41
