"""Race-safe "insert unless it already exists", the building block of idempotent writes.

Two webhook deliveries, or a webhook and a sign-in, may create the same member or grant at
the same moment on different workers. `INSERT … ON CONFLICT DO NOTHING` lets the database
settle that without aborting the surrounding transaction (PostgreSQL aborts a transaction on
a unique violation, so try/except around a plain INSERT would lose the whole request).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


def insert_if_absent(
    db: Session, table: Table, values: Mapping[str, Any], conflict_columns: Sequence[str]
) -> bool:
    """Insert one row unless a row with the same `conflict_columns` exists; True if inserted."""
    dialect = db.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        make = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            make(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=conflict_columns)
            .returning(*table.primary_key.columns)
        )
        # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT inserts.
        return db.execute(stmt).first() is not None
    # Other backends: a savepoint keeps the outer transaction usable after a duplicate.
    try:
        with db.begin_nested():
            db.execute(insert(table).values(**values))
    except IntegrityError:
        return False
    return True
