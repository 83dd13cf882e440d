"""Identity: tenant users, login sessions, API keys, roles (Casbin) and the audit logs.

Internal to the kernel; plugins see only :class:`kernel.Principal`, :func:`kernel.require`
and :func:`kernel.record_audit_event`.
"""
