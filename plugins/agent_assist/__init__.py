"""The public API of the ``agent_assist`` plugin: searching a tenant's knowledge base (for
plugins that want the same articles the agents get). Everything else is private. See
``docs/plugins/agent-assist.md``."""

from __future__ import annotations

from plugins.agent_assist.models import Article
from plugins.agent_assist.permissions import ARTICLES_READ, ARTICLES_WRITE, ASSIST_USE
from plugins.agent_assist.search import search_articles

__all__ = ["ARTICLES_READ", "ARTICLES_WRITE", "ASSIST_USE", "Article", "search_articles"]
