"""What integrators' type checkers need from the distribution."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_package_in_the_wheel_is_marked_typed():
    """PEP 561: without py.typed, ``mypy --strict`` on a plugin sees the kernel as untyped."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    typed = {"kernel", "plugins", "tenants"}
    assert typed <= set(packages)
    assert [name for name in sorted(typed) if not (ROOT / name / "py.typed").is_file()] == []
