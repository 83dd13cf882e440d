"""The ``kraliki`` command line: serve, migrate, plugins, and whatever plugins add."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

from kernel._errors import PluginError
from kernel._settings import Settings


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from exc


def _announce_database(url: str, settings: Settings, purpose: str) -> None:
    from kernel._announce import announce

    announce(url, settings.database_schema, purpose=purpose)


def _plugin_set(settings: Settings) -> Any:
    from kernel._platform import resolve_plugins

    try:
        return resolve_plugins(settings)
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kraliki-voice", prog_name="kraliki")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Kraliki Voice: multi-tenant, plugin-based contact center platform."""
    from kernel import _announce
    from kernel._observability.logging import configure_logging

    _announce.enable(ctx)  # commands say on stderr which database they act on

    settings = _settings()
    try:
        configure_logging(settings.log_level, settings.log_format)
    except ValueError as exc:  # an unknown level name
        raise click.ClickException(f"invalid configuration: KRALIKI_LOG_LEVEL: {exc}") from exc


@cli.command()
@click.option("--host", default=None, help="Bind address (default: KRALIKI_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: KRALIKI_PORT).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@click.option(
    "--bootstrap/--no-bootstrap",
    default=True,
    show_default=True,
    help="Create the first operator account if there is none.",
)
def serve(host: str | None, port: int | None, workers: int, bootstrap: bool) -> None:
    """Serve the API with uvicorn."""
    from kernel._observability.logging import logging_config
    from kernel._serve import export_served_base_url, run_api, serve_with_metrics_port

    settings = _settings()
    # Plugins that must reach the API (calls' provider webhooks) default to where it runs.
    export_served_base_url(host or settings.host, port or settings.port)
    settings = _settings()
    if settings.metrics_port is not None and workers != 1:
        raise click.ClickException(
            "KRALIKI_METRICS_PORT needs --workers 1: each worker process has its own metrics, "
            "and only one can listen on the port (run one worker per container instead)"
        )
    _announce_database(settings.database_url, settings, "serving")
    if bootstrap:
        _bootstrap(settings)
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "proxy_headers": True,
        # Every worker applies it, so uvicorn's own lines come out in the same format.
        "log_config": logging_config(settings.log_level, settings.log_format),
        "log_level": settings.log_level.lower(),
    }
    if settings.metrics_port is None:
        run_api(settings, workers=workers, **options)
        return
    asyncio.run(serve_with_metrics_port(settings, settings.metrics_port, **options))


def _bootstrap(settings: Settings) -> None:
    from kernel._db import Database, make_engine
    from kernel._operators import bootstrap_operator

    async def run() -> Any:
        database = Database(make_engine(settings.database_url, schema=settings.database_schema))
        try:
            return await bootstrap_operator(database, settings)
        finally:
            await database.dispose()

    from sqlalchemy.exc import DBAPIError

    try:
        result = asyncio.run(run())
    except DBAPIError as exc:
        raise click.ClickException(
            f"cannot create the operator account ({type(exc.orig).__name__}): "
            "is the database migrated? Run `kraliki migrate` first."
        ) from exc
    if result.generated_password is not None:
        # Shown once, on the terminal only: it is never written to a log.
        click.echo(
            "\n"
            f"  Created the platform operator account {result.email}\n"
            f"  Its generated password (shown only now): {result.generated_password}\n"
            "  Set KRALIKI_BOOTSTRAP_PASSWORD to choose it yourself.\n",
            err=True,
        )
    elif result.created:
        click.echo(f"Created the platform operator account {result.email}", err=True)


@cli.group(invoke_without_command=True)
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Upgrade the database: kernel, tenants and every loaded plugin's branch."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(upgrade)


@migrate.command()
@click.argument("target", default="heads")
def upgrade(target: str) -> None:
    """Upgrade to TARGET (default: every branch's head; e.g. calls@head)."""
    from kernel._migrations import upgrade as run_upgrade

    settings = _settings()
    _announce_database(settings.owner_database_url, settings, "migrating")
    asyncio.run(run_upgrade(settings, _plugin_set(settings), target))
    click.echo(f"database upgraded to {target}")


@migrate.command()
@click.argument("target")
def downgrade(target: str) -> None:
    """Downgrade to TARGET (e.g. calls@base, or base for everything)."""
    from kernel._migrations import downgrade as run_downgrade

    settings = _settings()
    _announce_database(settings.owner_database_url, settings, "migrating")
    asyncio.run(run_downgrade(settings, _plugin_set(settings), target))
    click.echo(f"database downgraded to {target}")


@migrate.command()
def status() -> None:
    """Show the applied and the expected head revisions."""
    from kernel._db import make_engine
    from kernel._migrations import current_revisions, head_revisions, pending_heads

    settings = _settings()
    plugins = _plugin_set(settings)
    _announce_database(settings.database_url, settings, "database")

    async def current() -> set[str]:
        engine = make_engine(settings.database_url, schema=settings.database_schema)
        try:
            return await current_revisions(engine)
        finally:
            await engine.dispose()

    applied, heads = asyncio.run(current()), head_revisions(plugins)
    try:
        pending = pending_heads(plugins, applied)
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"applied: {', '.join(sorted(applied)) or '(none)'}")
    click.echo(f"heads:   {', '.join(sorted(heads))}")
    if pending:
        click.echo(f"pending: {', '.join(sorted(pending))}: run `kraliki migrate`")
        sys.exit(1)
    click.echo("up to date")


@migrate.command()
@click.argument("branch")
@click.option("-m", "--message", required=True, help="What the revision does.")
@click.option("--autogenerate", is_flag=True, help="Diff the models against the database.")
def revision(branch: str, message: str, autogenerate: bool) -> None:
    """Write a new revision on BRANCH (a plugin name, kernel or tenants)."""
    from kernel._migrations import create_revision

    settings = _settings()
    try:
        asyncio.run(
            create_revision(
                settings,
                _plugin_set(settings),
                branch=branch,
                message=message,
                autogenerate=autogenerate,
            )
        )
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.group()
def plugins() -> None:
    """Inspect installed plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_list(as_json: bool) -> None:
    """Installed plugins: name, version, requires, routes, permissions, enabled."""
    from kernel._introspection import describe_plugins

    listing = describe_plugins(_settings())
    rows = listing["plugins"]
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        sys.exit(1 if listing["error"] else 0)
    if not rows:
        click.echo("no plugins installed")
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        click.echo(
            f"{row['name']} {row['version']} [{state}]"
            + (f" from {row['distribution']}" if row["distribution"] else "")
        )
        click.echo(f"  requires:    {', '.join(row['requires']) or '-'}")
        click.echo(f"  routes:      {len(row['routes'])}")
        for route in row["routes"]:
            click.echo(f"    {route['method']:6} {route['path']}  ({route['access']})")
        click.echo(f"  permissions: {', '.join(row['permissions']) or '-'}")
        if row["error"]:
            click.echo(f"  error:       {row['error']}")
    if listing["error"]:
        raise click.ClickException(f"the plugins cannot load: {listing['error']}")


@cli.command()
def routes() -> None:
    """Every API route with the permission it requires (or why it is public)."""
    from kernel._introspection import route_table

    for row in route_table(_settings()):
        click.echo(f"{row['method']:6} {row['path']:50} {row['access']}")


def _add_kernel_groups() -> None:
    from kernel._events.cli import events, worker
    from kernel._vault.cli import vault

    cli.add_command(vault)
    cli.add_command(events)
    cli.add_command(worker)


_add_kernel_groups()


def build_cli() -> click.Group:
    """The root group with the plugins' subcommands added (``kraliki_cli``).

    If the plugins cannot load, the kernel's own commands still work (``plugins list``
    shows what is wrong); commands that need the plugins report the error themselves.
    """
    settings = _settings()
    from kernel._platform import resolve_plugins

    try:
        plugins = resolve_plugins(settings)
    except PluginError as exc:
        click.echo(f"warning: plugins not loaded: {exc}", err=True)
        return cli
    try:
        plugins.hooks.cli(cli)
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    return cli


def main() -> None:
    try:
        group = build_cli()
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    group()
