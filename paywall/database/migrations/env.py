"""Alembic environment, driven programmatically by `paywall.database.migrate`.

There is no alembic.ini: `paywall.database.migrate` builds the Config and hands over an open
connection in `config.attributes["connection"]`, so the engine, URL normalisation (psycopg 3)
and SQLite pragmas are exactly the application's.
"""

from __future__ import annotations

from alembic import context

from paywall.database.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "paywall migrations run through `kp db upgrade` (paywall.database.migrate), which passes a "
        "database connection; offline SQL generation is not supported"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
