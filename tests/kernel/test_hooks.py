"""The async hook facade: awaiting, isolation, loud firstresult, plugin-declared hooks."""

from __future__ import annotations

import logging

import click
import pytest

from kernel import (
    HookCallError,
    PluginConflictError,
    PluginError,
    UniqueRegistry,
    hookimpl,
    hookspec,
)
from kernel._plugins import PluginSource, load_plugins


def load(*plugins):
    return load_plugins([PluginSource(p) for p in plugins])


class TelephonySpecs:
    """Hookspecs a plugin adds, the way `calls` will add kraliki_telephony_providers."""

    @hookspec
    def kraliki_telephony_providers(self):
        """Return provider names."""

    @hookspec(firstresult=True)
    def kraliki_route_number(self, number):
        """Return where a number goes (first answer wins)."""


async def test_notification_hook_failure_is_isolated_logged_and_counted(make_plugin, caplog):
    calls = []

    def broken(platform):
        raise RuntimeError("plugin bug")

    async def healthy(platform):
        calls.append(("healthy", platform))

    loaded = load(make_plugin("alpha", startup=broken), make_plugin("beta", startup=healthy))
    with caplog.at_level(logging.ERROR, logger="kraliki.hooks"):
        await loaded.hooks.startup(platform="the-platform")  # type: ignore[arg-type]
    assert calls == [("healthy", "the-platform")], "the other plugin still ran"
    assert loaded.hooks.failures[("alpha", "kraliki_startup")] == 1
    record = next(r for r in caplog.records if r.name == "kraliki.hooks")
    assert record.plugin == "alpha"
    assert "'alpha' failed in kraliki_startup" in record.getMessage()
    assert record.exc_info is not None


async def test_shutdown_runs_in_reverse_dependency_order(make_plugin):
    order = []
    base = make_plugin("base", shutdown=lambda: order.append("base"))
    child = make_plugin("child", requires=["base"], shutdown=lambda: order.append("child"))
    loaded = load(base, child)
    await loaded.hooks.startup(platform=None)  # type: ignore[arg-type]
    await loaded.hooks.shutdown(platform=None)  # type: ignore[arg-type]
    assert order == ["child", "base"]


async def test_plugin_declared_hooks_collect_and_await(make_plugin):
    async def async_providers():
        return ["telnyx"]

    calls = make_plugin("calls", add_hookspecs=lambda: TelephonySpecs)
    twilio = make_plugin("twilio", requires=["calls"], telephony_providers=lambda: ["twilio"])
    telnyx = make_plugin("telnyx", requires=["calls"], telephony_providers=async_providers)
    loaded = load(telnyx, twilio, calls)
    assert loaded.hooks.implementers("kraliki_telephony_providers") == ["telnyx", "twilio"]
    results = await loaded.hooks.collect("kraliki_telephony_providers")
    assert results == [("telnyx", ["telnyx"]), ("twilio", ["twilio"])]


async def test_first_result_hook_returns_first_answer(make_plugin):
    calls = make_plugin("calls", add_hookspecs=lambda: TelephonySpecs)
    silent = make_plugin("a_silent", requires=["calls"], route_number=lambda number: None)
    ivr = make_plugin("ivr", requires=["calls"], route_number=lambda number: f"flow:{number}")
    loaded = load(calls, silent, ivr)
    assert await loaded.hooks.first("kraliki_route_number", number="+1555") == "flow:+1555"


async def test_first_result_hook_fails_loudly(make_plugin):
    def broken(number):
        raise LookupError("no table")

    loaded = load(
        make_plugin("calls", add_hookspecs=lambda: TelephonySpecs),
        make_plugin("ivr", requires=["calls"], route_number=broken),
    )
    with pytest.raises(HookCallError) as raised:
        await loaded.hooks.first("kraliki_route_number", number="+1555")
    assert raised.value.plugin == "ivr"
    assert isinstance(raised.value.__cause__, LookupError)
    assert not loaded.hooks.failures


async def test_collect_errors_name_the_plugin(make_plugin):
    def broken():
        raise ValueError("bad config")

    loaded = load(
        make_plugin("calls", add_hookspecs=lambda: TelephonySpecs),
        make_plugin("twilio", requires=["calls"], telephony_providers=broken),
    )
    with pytest.raises(HookCallError, match="'twilio' failed in kraliki_telephony_providers"):
        await loaded.hooks.collect("kraliki_telephony_providers")


def test_registration_hooks_must_be_synchronous(make_plugin):
    async def routes():
        return []

    with pytest.raises(HookCallError, match="must be synchronous"):
        load(make_plugin("sloppy", routes=routes)).hooks.routes()


def test_provider_names_must_be_unique_across_plugins(make_plugin):
    """Plugins with their own extension points use UniqueRegistry: a clash names both."""
    registry = UniqueRegistry[str]("telephony provider")
    registry.register("twilio", "TwilioProvider", plugin="twilio")
    with pytest.raises(PluginConflictError) as raised:
        registry.register("twilio", "Impostor", plugin="cheap_twilio")
    assert raised.value.plugins == ("twilio", "cheap_twilio")
    assert "telephony provider 'twilio'" in str(raised.value)
    assert registry.owner("twilio") == "twilio"
    assert registry.get("twilio") == "TwilioProvider"


def test_cli_hook_adds_commands_and_refuses_clashes(make_plugin):
    @click.command("reports")
    def reports():
        """A plugin command."""

    @click.command("reports")
    def other_reports():
        """Same name."""

    group = click.Group("kraliki")
    load(make_plugin("analytics", cli=lambda cli: cli.add_command(reports))).hooks.cli(group)
    assert group.commands["reports"] is reports

    clash = load(
        make_plugin("analytics", cli=lambda cli: cli.add_command(reports)),
        make_plugin("zz_more", cli=lambda cli: cli.add_command(other_reports)),
    )
    with pytest.raises(PluginConflictError, match=r"'analytics'.*'zz_more'"):
        clash.hooks.cli(click.Group("kraliki"))

    @click.command("migrate")
    def impostor():
        """Pretends to migrate."""

    root = click.Group("kraliki", commands=[click.Command("migrate")])
    kernel_migrate = root.commands["migrate"]
    with pytest.raises(PluginConflictError, match=r"'migrate' is registered by both .*'kernel'"):
        load(make_plugin("evil", cli=lambda cli: cli.add_command(impostor))).hooks.cli(root)
    assert root.commands["migrate"] is kernel_migrate


async def test_calling_an_undeclared_hook_is_an_error(make_plugin):
    with pytest.raises(PluginError, match="no hook named"):
        await load(make_plugin("a")).hooks.notify("kraliki_nonexistent")


def test_hookimpl_marker_is_public():
    @hookimpl
    def kraliki_startup():
        pass

    assert hasattr(kraliki_startup, "kraliki_impl")


async def test_collect_isolated_leaves_out_a_failing_plugin_and_keeps_the_others(
    make_plugin, caplog
):
    def broken():
        raise RuntimeError("plugin bug")

    async def async_providers():
        return ["telnyx"]

    loaded = load(
        make_plugin("calls", add_hookspecs=lambda: TelephonySpecs),
        make_plugin("a_broken", requires=["calls"], telephony_providers=broken),
        make_plugin("b_silent", requires=["calls"], telephony_providers=lambda: None),
        make_plugin("telnyx", requires=["calls"], telephony_providers=async_providers),
    )
    with caplog.at_level(logging.ERROR, logger="kraliki.hooks"):
        results = await loaded.hooks.collect_isolated("kraliki_telephony_providers")
    assert results == [("telnyx", ["telnyx"])]
    assert loaded.hooks.failures[("a_broken", "kraliki_telephony_providers")] == 1
    record = next(r for r in caplog.records if r.name == "kraliki.hooks")
    assert record.plugin == "a_broken"
    assert record.exc_info is not None
