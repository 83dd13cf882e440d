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
