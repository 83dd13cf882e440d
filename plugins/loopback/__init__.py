"""The public API of the ``loopback`` plugin: :func:`validate_script` checks a callee script
(what a loopback agent's phone does) before anyone runs it, and :mod:`plugins.loopback.testing`
holds its test helpers. Other plugins must not import its other modules (enforced by the import
contract, ``tests/test_import_contract.py``); the hook implementations live in
:mod:`plugins.loopback.plugin` (the entry point). Its modules follow the shape of every provider
plugin (``docs/providers.md``, "Shape of a provider plugin")."""

from __future__ import annotations

from plugins.loopback.checks import validate_script

__all__ = ["validate_script"]
