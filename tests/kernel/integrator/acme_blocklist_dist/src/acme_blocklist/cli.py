"""`kraliki blocklist ...` subcommands."""

from __future__ import annotations

import click


@click.group()
def blocklist() -> None:
    """Manage the ACME blocklist."""


@blocklist.command("check")
@click.argument("number")
def check(number: str) -> None:
    """Say whether NUMBER looks dialable (E.164)."""
    click.echo("ok" if number.startswith("+") and number[1:].isdigit() else "not E.164")
