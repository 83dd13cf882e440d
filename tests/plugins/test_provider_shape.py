"""Every telephony provider the loaded plugins contribute has the shape ``docs/providers.md``
documents ("Shape of a provider plugin"): the same role under the same module name."""

from __future__ import annotations

import importlib
import types

import pytest

from kernel import Platform
from plugins.calls import installed_providers
from plugins.calls.testing import PROVIDER_SHAPE, provider_shape_problems

PROJECT = "kraliki-voice"


def built_in(platform: Platform, name: str) -> bool:
    """Shipped with the platform (a provider installed beside it answers for its own shape,
    with ``provider_shape_problems`` in its tests)."""
    distribution = platform.plugins.get(installed_providers(platform).owner(name)).distribution
    return distribution is None or distribution.split()[0] == PROJECT


def providers(platform: Platform) -> list[str]:
    return [name for name in installed_providers(platform) if built_in(platform, name)]


async def test_every_built_in_provider_has_the_shape(kraliki_platform: Platform):
    names = providers(kraliki_platform)
    if not names:
        pytest.skip("no telephony provider plugin is loaded (KRALIKI_PLUGINS)")
    problems = [p for name in names for p in provider_shape_problems(kraliki_platform, name)]
    assert problems == []


async def test_the_documented_table_is_the_checked_shape():
    """The table in docs/providers.md names every module the check requires."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "providers.md").read_text()
    section = text.split("## Shape of a provider plugin", 1)[1].split("\n## ", 1)[0]
    for module in [*PROVIDER_SHAPE, "client", "__init__"]:
        assert f"`{module}.py`" in section, module


async def test_a_provider_missing_a_role_is_told_what_is_missing(
    kraliki_platform: Platform, monkeypatch: pytest.MonkeyPatch
):
    names = providers(kraliki_platform)
    if not names:
        pytest.skip("no telephony provider plugin is loaded (KRALIKI_PLUGINS)")
    name = names[0]
    package = kraliki_platform.plugins.get(name).obj.__name__.rpartition(".")[0]
    real = importlib.import_module

    def without_signature(module: str, package_name: str | None = None) -> types.ModuleType:
        if module == f"{package}.signature":
            raise ModuleNotFoundError(module)
        return real(module, package_name)

    monkeypatch.setattr(importlib, "import_module", without_signature)
    assert provider_shape_problems(kraliki_platform, name) == [
        f"{name}: no module {package}.signature"
    ]
