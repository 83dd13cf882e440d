"""Alembic environment: always driven by ``kernel`` with a connection it opened.

``kraliki migrate`` passes the connection and the target metadata in ``config.attributes``;
running the ``alembic`` command directly is not supported (it would not know the plugins).
"""

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `kraliki migrate`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=config.attributes["target_metadata"],
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
