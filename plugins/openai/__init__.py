"""The public API of the ``openai`` plugin: none beyond its stand-in for tests
(:mod:`plugins.openai.testing`). It contributes the OpenAI model provider to the ``ai``
gateway (``kraliki_ai_providers``) and the tenant's key to the vault (``openai.api_key``);
the hook implementations live in :mod:`plugins.openai.plugin`. See ``docs/plugins/ai.md``."""
