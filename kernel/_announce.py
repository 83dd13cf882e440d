"""Which database a ``kraliki`` command acts on, said on stderr before it does.

A shell whose environment differs from the server's (another ``.env``, another working
directory for a relative SQLite path) otherwise migrates or creates tenants in a database
the server never reads, silently. stdout stays the command's machine-readable answer.
"""

from __future__ import annotations

import logging

import click
from sqlalchemy.engine import make_url

from kernel._settings import sqlite_path

_ANNOUNCE = "kraliki.announce_database"
_LOGGING_COMMANDS = frozenset({"serve", "worker"})
"""Long-running commands, whose stderr is a log stream (JSON lines by default): they log it."""
logger = logging.getLogger("kraliki.cli")
_ANNOUNCED = "kraliki.database_announced"


def masked_url(url: str) -> str:
    """``url`` without its password; a relative SQLite path also resolved to an absolute one."""
    shown = make_url(url).render_as_string(hide_password=True)
    path = sqlite_path(url)
    if path is not None and not path.is_absolute():
        shown += f" ({path.resolve()})"
    return shown


def describe(url: str, schema: str | None) -> str:
    return masked_url(url) + (f", schema {schema}" if schema else "")


def enable(ctx: click.Context) -> None:
    """Called by the root ``kraliki`` group: commands run from it announce their database."""
    ctx.meta[_ANNOUNCE] = True


def announce(url: str, schema: str | None, *, purpose: str = "database") -> None:
    """Print ``kraliki: <purpose>: <masked url>`` on stderr, once per command, when a
    ``kraliki`` command is running (never for scripts or the web app); ``serve`` and
    ``worker`` log it instead, so their stderr stays one log record per line."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or not ctx.meta.get(_ANNOUNCE):
        return
    announced: set[str] = ctx.meta.setdefault(_ANNOUNCED, set())
    line = f"kraliki: {purpose}: {describe(url, schema)}"
    if line in announced:
        return
    announced.add(line)
    if ctx.info_name in _LOGGING_COMMANDS:
        logger.info(line)
    else:
        click.echo(line, err=True)
