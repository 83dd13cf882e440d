"""Which installed plugins this suite's whole-platform tests load."""

from __future__ import annotations

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
