"""The public API of the ``system`` plugin: none. Other plugins must not import its modules
(enforced by the import contract, ``tests/test_import_contract.py``); the hook implementations
live in :mod:`plugins.system.plugin` (the entry point)."""
