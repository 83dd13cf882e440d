"""Documentation stays true: every hook and every setting is documented, every hook tested."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kernel import Settings, hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("kraliki_"))


def test_hookspecs_exist():
    assert "kraliki_plugin_info" in HOOKS
    assert len(HOOKS) >= 9


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook):
    text = (ROOT / "docs" / "plugins" / "hooks.md").read_text()
    assert re.search(rf"^## {hook}\b", text, re.MULTILINE), f"{hook} missing from hooks.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring(hook):
    assert (getattr(hookspecs, hook).__doc__ or "").strip(), hook


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_exercised_by_a_test(hook):
    """A hook is tested when some test implements it (by name or through make_plugin)."""
    short = hook.removeprefix("kraliki_")
    sources = [
        path.read_text() for path in (ROOT / "tests").rglob("*.py") if path.name != "test_docs.py"
    ]
    assert any(re.search(rf"\bdef {hook}\b|\b{short}=", source) for source in sources), (
        f"no test implements {hook}"
    )


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(field):
    readme = (ROOT / "README.md").read_text()
    assert f"`KRALIKI_{field.upper()}`" in readme, f"KRALIKI_{field.upper()} not in README"


def test_readme_names_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_every_public_name_is_in_the_plugin_guide():
    import kernel

    guide = (ROOT / "docs" / "plugins" / "guide.md").read_text()
    missing = [name for name in kernel.__all__ if f"`{name}`" not in guide]
    assert missing == []


def test_the_event_catalogue_is_generated_from_the_code():
    """docs/events.md lists exactly the installed plugins' events, with their schemas
    (regenerate with `kraliki events catalog --write docs/events.md`)."""
    from kernel._events.catalog import START, render
    from kernel._platform import build_platform

    platform = build_platform(Settings(_env_file=None, database_url="sqlite+aiosqlite://"))
    try:
        expected = render(platform.events.catalog)
    finally:
        platform.database.engine.sync_engine.dispose()
        platform.tracing.shutdown()
    document = (ROOT / "docs" / "events.md").read_text()
    assert START in document
    assert expected in document, "docs/events.md is stale: run kraliki events catalog --write"


def plugin_hookspecs() -> dict[str, tuple[str, object]]:
    """Hooks the plugins declare (``plugins/*/hookspecs.py``): name -> (plugin, function)."""
    import importlib

    declared: dict[str, tuple[str, object]] = {}
    for path in sorted((ROOT / "plugins").glob("*/hookspecs.py")):
        plugin = path.parent.name
        module = importlib.import_module(f"plugins.{plugin}.hookspecs")
        for name in dir(module):
            if name.startswith("kraliki_"):
                declared[name] = (plugin, getattr(module, name))
    return declared


PLUGIN_HOOKS = plugin_hookspecs()


def test_plugins_declare_hooks():
    assert {"kraliki_telephony_providers", "kraliki_ivr_node_types"} <= set(PLUGIN_HOOKS)


@pytest.mark.parametrize("hook", sorted(PLUGIN_HOOKS))
def test_every_plugin_hook_is_documented(hook):
    """In the hook reference's table of plugin-declared hooks, and in the plugin's guide
    when it has one; with a docstring."""
    plugin, function = PLUGIN_HOOKS[hook]
    hooks_md = ROOT / "docs" / "plugins" / "hooks.md"
    table = hooks_md.read_text().split("### Hooks the built-in plugins declare")[1]
    row = re.search(
        rf"^\| `{hook}` \| `{plugin}` \|.*\[[^]]+\]\((?P<doc>[^)#]+)[^)]*\) \|$",
        table,
        re.MULTILINE,
    )
    assert row, f"{hook} (declared by {plugin}) missing from the table in hooks.md"
    guide = (hooks_md.parent / row["doc"]).resolve()
    assert hook in guide.read_text(), f"{hook} not mentioned in {guide.name}"
    assert (getattr(function, "__doc__", None) or "").strip(), hook


DEF = re.compile(
    r"^(?P<decorator>@\w+[^\n]*\n)?[ \t]*(?:async[ \t]+)?def[ \t]+(?P<name>kraliki_\w+)[ \t]*"
    r"\((?P<params>[^)]*)\)[ \t]*(?:->[ \t]*(?P<returns>[^\n]+?))?[ \t]*:",
    re.MULTILINE,
)


def documented_defs() -> list[tuple[str, str, str, str | None, bool]]:
    """Every ``def kraliki_*`` in a Python block of the docs: (where, name, params,
    returns, shown as a hookspec)."""
    found = []
    for path in sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]):
        blocks = re.findall(r"^```python\n(.*?)^```$", path.read_text(), re.M | re.S)
        for block in blocks:
            for match in DEF.finditer(block):
                where = f"{path.relative_to(ROOT)}:{match['name']}"
                spec = "@hookspec" in (match["decorator"] or "")
                found.append((where, match["name"], match["params"], match["returns"], spec))
    return found


def parameters(source: str) -> list[tuple[str, str | None]]:
    import ast

    function = ast.parse(f"def f({source}): pass").body[0]
    assert isinstance(function, ast.FunctionDef)
    return [
        (arg.arg, ast.unparse(arg.annotation) if arg.annotation else None)
        for arg in function.args.args
    ]


def real_hooks() -> dict[str, object]:
    return {
        **{name: getattr(hookspecs, name) for name in HOOKS},
        **{name: function for name, (_, function) in PLUGIN_HOOKS.items()},
    }


def squash_type(annotation: str | None) -> str | None:
    return None if annotation is None else re.sub(r"\s+", "", annotation)


@pytest.mark.parametrize(
    ("where", "name", "params", "returns", "spec"), documented_defs(), ids=lambda v: str(v)
)
def test_every_documented_hook_signature_is_the_hookspecs(where, name, params, returns, spec):
    """An implementation shown in the docs takes only arguments the hookspec names, with its
    annotations (pluggy passes arguments by name, so a subset is fine); a hookspec shown is
    the real one, return type included. Pytest fixtures of ``kernel.testing`` are skipped."""
    import inspect

    import kernel.testing

    if name not in real_hooks():
        assert callable(getattr(kernel.testing, name, None)), f"{where}: no such hook"
        return
    real = inspect.signature(real_hooks()[name])  # type: ignore[arg-type]
    expected = {p.name: p.annotation for p in real.parameters.values()}
    shown = parameters(params)
    for argument, annotation in shown:
        assert argument in expected, f"{where}: the hookspec has no argument {argument!r}"
        if annotation is not None:
            assert squash_type(annotation) == squash_type(str(expected[argument])), (
                f"{where}: {argument}: {annotation} is {expected[argument]} in the hookspec"
            )
    if spec:
        assert [a for a, _ in shown] == list(expected), f"{where}: not the hookspec's arguments"
        assert squash_type(returns) == squash_type(str(real.return_annotation)), (
            f"{where}: returns {returns}, the hookspec {real.return_annotation}"
        )
