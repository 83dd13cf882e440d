"""``kraliki contacts``: import and export contacts from the command line."""

from __future__ import annotations

import click


@click.group()
def contacts() -> None:
    """Contacts: import a CSV file, export contacts."""
