"""Permissions of the agent_assist plugin (tenant-scoped).

Agents read the knowledge base and use the suggestions made on their own calls (and say
whether they helped); supervisors and admins keep the knowledge base and see the
suggestions of the agents they reach (the agents plugin's team scoping)."""

from __future__ import annotations

from kernel import Permission

ARTICLES_READ = Permission(
    "agent_assist.articles",
    "read",
    "Read and search the organization's knowledge base.",
    ("admin", "supervisor", "agent"),
)
ARTICLES_WRITE = Permission(
    "agent_assist.articles",
    "write",
    "Write, change, delete and import knowledge base articles.",
    ("admin", "supervisor"),
)
ASSIST_USE = Permission(
    "agent_assist",
    "use",
    "Receive live suggestions on your calls, read them and give feedback on them "
    "(supervisors: on the calls of the agents they reach).",
    ("admin", "supervisor", "agent"),
)
PERMISSIONS = [ARTICLES_READ, ARTICLES_WRITE, ASSIST_USE]
