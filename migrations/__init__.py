"""The Alembic environment and the kernel's and tenants' revisions.

Run migrations with ``kraliki migrate``; it assembles every loaded plugin's version
location into one Alembic environment (one branch label per plugin).
"""
