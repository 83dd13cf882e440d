"""The public API of the ``webhooks`` plugin: none yet beyond its test helpers
(:mod:`plugins.webhooks.testing`). Other plugins must not import its other modules (enforced by
the import contract, ``tests/test_import_contract.py``); the hook implementations live in
:mod:`plugins.webhooks.plugin` (the entry point)."""
