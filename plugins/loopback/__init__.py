"""The public API of the ``loopback`` plugin: none yet beyond its test helpers
(:mod:`plugins.loopback.testing`). Other plugins must not import its other modules (enforced by
the import contract, ``tests/test_import_contract.py``); the hook implementations live in
:mod:`plugins.loopback.plugin` (the entry point). Its modules follow the shape of every provider
plugin (``docs/providers.md``, "Shape of a provider plugin")."""
