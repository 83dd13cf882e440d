"""``kraliki events ...`` and ``kraliki worker``: the catalogue, and running the dispatcher and
job workers without the web server."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click


@click.group()
def events() -> None:
    """Domain events: the catalogue, dispatching by hand."""


@events.command("catalog")
@click.option(
    "--write",
    "target",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Replace the catalogue section of this Markdown file (docs/events.md).",
)
def catalog(target: Path | None) -> None:
    """Print the loaded plugins' events with their payload schemas (Markdown)."""
    from kernel._events.catalog import render, replace_catalogue
    from kernel._platform import build_platform
    from kernel._settings import Settings

    platform = build_platform(Settings())
    text = render(platform.events.catalog)
    platform.database.engine.sync_engine.dispose()
    platform.tracing.shutdown()
    if target is None:
        click.echo(text)
        return
    target.write_text(replace_catalogue(target.read_text(), text))
    click.echo(f"wrote the catalogue of {len(platform.events.catalog)} events into {target}")


@events.command("dispatch")
def dispatch() -> None:
    """Dispatch every pending event of every tenant now, then exit."""
    from kernel._platform import open_platform

    async def main() -> int:
        async with open_platform() as platform:
            return await platform.dispatcher.drain()

    click.echo(f"dispatched {asyncio.run(main())} events")


@click.command()
def worker() -> None:
    """Run the event dispatcher and the job workers (no web server) until SIGTERM/SIGINT."""
    from kernel._dbrole import UnsafeDatabaseRoleError, check_database_role
    from kernel._platform import open_platform

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with open_platform() as platform:
            try:
                await check_database_role(platform.database, platform.settings)
            except UnsafeDatabaseRoleError as exc:
                raise click.ClickException(str(exc)) from None
            await platform.start_background(run_workers=True)
            click.echo("worker started: dispatching events and running jobs", err=True)
            try:
                await stop.wait()
            finally:
                await platform.stop_background()

    asyncio.run(main())
