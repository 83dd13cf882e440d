"""Tenant lifecycle: provisioning, settings, plugin enablement, suspension, purge.

Uses the kernel's public API; it is not a plugin (every tenant exists before any plugin
sees it). Its tables migrate on the ``tenants`` Alembic branch.
"""
