"""Which installed plugins this suite's whole-platform tests load, and installing more."""

from __future__ import annotations

import tomllib
from pathlib import Path

from kernel._plugins import PluginSource, installed_plugins

SUITE_DISTRIBUTIONS = ("kraliki-voice", "acme-kraliki-blocklist")
"""The distributions whose plugins this suite's whole-platform tests (route walk, migrations
round trip, RLS) seed and know: another installed plugin leaves those tests unchanged and
proves its own isolation with ``kernel.testing.assert_tenant_isolation``."""


def suite_plugins() -> list[PluginSource]:
    """The installed plugins of this project and of its example integrator distribution, in
    entry-point order, whatever else is installed (``KRALIKI_PLUGINS`` is not applied: these
    tests need every built-in)."""
    return [
        source
        for source in installed_plugins()
        if (source.distribution or "").rsplit(" ", 1)[0] in SUITE_DISTRIBUTIONS
    ]


def expose_distribution(project: Path, site: Path, *, top_level: str = "acme_blocklist") -> None:
    """Write the ``.dist-info`` an installer would write, from the project's pyproject.

    importlib.metadata then sees the distribution, its version and its entry points exactly
    as if ``pip install`` had put it in site-packages; the code stays in ``project/src``.
    """
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    dist_info = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
        f"Summary: {meta.get('description', '')}\n"
    )
    lines = []
    for group, entries in meta.get("entry-points", {}).items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {target}" for name, target in entries.items())
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    (dist_info / "top_level.txt").write_text(f"{top_level}\n")
