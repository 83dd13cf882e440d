"""The public API of the ``anthropic`` plugin: none beyond its stand-in for tests
(:mod:`plugins.anthropic.testing`). It contributes the Anthropic model provider to the
``ai`` gateway (``kraliki_ai_providers``) and the tenant's key to the vault
(``anthropic.api_key``); the hook implementations live in :mod:`plugins.anthropic.plugin`.
See ``docs/plugins/ai.md``."""
