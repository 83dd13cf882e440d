"""Loading plugins: requirements, ordering, conflicts, allowlist, entry-point discovery."""

from __future__ import annotations

import pytest

from kernel import (
    MissingRequirementError,
    Permission,
    PluginConflictError,
    PluginDefinitionError,
    PluginError,
    PluginInfo,
    PluginLoadError,
    hookimpl,
)
from kernel._plugins import PluginSource, installed_plugins, load_plugins, select_plugins


def load(*plugins, installed=()):
    return load_plugins([PluginSource(p) for p in plugins], installed=installed)


def test_plugins_load_in_dependency_order(make_plugin):
    ivr = make_plugin("ivr", requires=["calls"])
    calls = make_plugin("calls")
    campaigns = make_plugin("campaigns", requires=["calls", "contacts"])
    contacts = make_plugin("contacts")
    loaded = load(campaigns, ivr, contacts, calls)
    order = loaded.names()
    assert order.index("calls") < order.index("ivr")
    assert order.index("contacts") < order.index("campaigns")
    assert order.index("calls") < order.index("campaigns")


def test_missing_requirement_names_both_plugins(make_plugin):
    with pytest.raises(MissingRequirementError) as raised:
        load(make_plugin("ivr", requires=["calls"]))
    message = str(raised.value)
    assert "'ivr'" in message
    assert "'calls'" in message
    assert "not installed" in message


def test_requirement_excluded_by_allowlist_says_so(make_plugin):
    with pytest.raises(MissingRequirementError, match="not listed in KRALIKI_PLUGINS"):
        load(make_plugin("ivr", requires=["calls"]), installed=["calls", "ivr"])


def test_requirement_version_specifier_is_checked(make_plugin):
    with pytest.raises(MissingRequirementError, match=r"calls 1\.0\.0 is loaded"):
        load(make_plugin("ivr", requires=["calls>=2"]), make_plugin("calls", "1.0.0"))
    assert load(make_plugin("ivr", requires=["calls>=1,<2"]), make_plugin("calls", "1.4"))


def test_requirement_cycle_is_refused(make_plugin):
    with pytest.raises(PluginError, match="cycle"):
        load(make_plugin("a", requires=["b"]), make_plugin("b", requires=["a"]))


def test_duplicate_permission_fails_naming_both(make_plugin):
    permission = Permission("calls", "read", "Read calls")
    with pytest.raises(PluginConflictError) as raised:
        load(
            make_plugin("calls", permissions=[permission]),
            make_plugin("shadow", permissions=[permission]),
        )
    assert raised.value.plugins == ("calls", "shadow")
    assert "calls:read" in str(raised.value)


def test_duplicate_route_prefix_fails_naming_both(make_plugin):
    with pytest.raises(PluginConflictError) as raised:
        load(make_plugin("agent_assist"), make_plugin("assist", prefix="agent-assist"))
    assert "route prefix 'agent-assist'" in str(raised.value)
    assert set(raised.value.plugins) == {"agent_assist", "assist"}


def test_kernel_prefixes_are_reserved(make_plugin):
    with pytest.raises(PluginConflictError, match=r"'auth'.*'kernel'.*'evil'"):
        load(make_plugin("evil", prefix="auth"))


def test_duplicate_plugin_name_fails(make_plugin):
    with pytest.raises(PluginConflictError, match="plugin 'calls'"):
        load(make_plugin("calls"), make_plugin("calls"))


def test_plugin_without_info_is_refused():
    class Anonymous:
        __name__ = "anonymous"

        @hookimpl
        def kraliki_routes(self):
            return []

    with pytest.raises(PluginLoadError, match="does not implement kraliki_plugin_info"):
        load(Anonymous())


def test_unknown_hook_is_refused(make_plugin):
    plugin = make_plugin("typo", startupp=lambda: None)
    with pytest.raises(PluginLoadError, match="kraliki_startupp"):
        load(plugin)


def test_entry_point_name_must_match_declared_name(make_plugin):
    with pytest.raises(PluginLoadError, match="entry point 'calls' loads a plugin that calls"):
        load_plugins([PluginSource(make_plugin("telephony"), entry_point="calls")])


def test_plugin_info_is_validated():
    with pytest.raises(PluginDefinitionError, match="name"):
        PluginInfo(name="Bad-Name", version="1.0")
    with pytest.raises(PluginDefinitionError, match="PEP 440"):
        PluginInfo(name="ok", version="one")
    with pytest.raises(PluginDefinitionError, match="requirement"):
        PluginInfo(name="ok", version="1.0", requires=("calls >>> 2",))
    with pytest.raises(PluginDefinitionError):
        Permission("Calls", "read", "bad resource")


def test_models_must_use_the_shared_base(make_plugin):
    class NotAModel:
        pass

    with pytest.raises(PluginLoadError, match=r"not a subclass of kernel\.Base"):
        load(make_plugin("bad", models=lambda: [NotAModel]))


def test_registration_hook_error_names_the_plugin(make_plugin):
    def broken():
        raise RuntimeError("boom")

    with pytest.raises(PluginError, match="plugin 'broken' failed in kraliki_permissions: "):
        load(make_plugin("broken", permissions=broken))


def test_builtin_plugins_come_from_entry_points():
    sources = {source.entry_point: source for source in installed_plugins()}
    assert "system" in sources
    assert sources["system"].distribution.startswith("kraliki-voice ")


def test_allowlist_limits_and_rejects_unknown_names(make_plugin):
    available = [
        PluginSource(make_plugin("calls"), "calls"),
        PluginSource(make_plugin("ivr"), "ivr"),
    ]
    assert [s.entry_point for s in select_plugins(available, ["ivr"])] == ["ivr"]
    assert len(select_plugins(available, None)) == 2
    with pytest.raises(PluginLoadError, match="'nope', which is not installed"):
        select_plugins(available, ["ivr", "nope"])


def test_allowlist_from_environment(monkeypatch):
    from kernel import Settings

    monkeypatch.setenv("KRALIKI_PLUGINS", " system , ,calls")
    assert Settings(_env_file=None).plugins == ["system", "calls"]
