"""The public API of the ``telnyx`` plugin: none yet beyond its test helpers
(:mod:`plugins.telnyx.testing`). Other plugins must not import its other modules (enforced by
the import contract, ``tests/test_import_contract.py``); the hook implementations live in
:mod:`plugins.telnyx.plugin` (the entry point). Its modules follow the shape of every provider
plugin (``docs/providers.md``, "Shape of a provider plugin")."""
