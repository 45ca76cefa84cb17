"""Apply the Alembic migrations programmatically (`kp db upgrade`, and `kp serve` on start).

Several workers may start at once against the same database, so the upgrade holds a lock
while it runs: a PostgreSQL advisory lock, or a file lock next to a SQLite database file.
Whoever comes second finds the schema already at head and does nothing.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from kp_contract.settings import Settings
from paywall.database.engine import MIGRATIONS_DIR, make_engine

# Arbitrary constant identifying "knowledge-pay schema migration" among advisory locks.
_PG_LOCK_KEY = 0x6B70_6D69


def alembic_config() -> Config:
    """Alembic configuration without an ini file: the scripts ship inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision the code knows about."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions found under {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(settings: Settings, revision: str = "head", *, engine: Engine | None = None) -> str:
    """Bring the database to `revision` (default: head) and return the revision it is at.

    Pass `engine` to reuse an existing one (the app's); otherwise one is made from settings
    and disposed afterwards.
    """
    own_engine = engine is None
    engine = engine or make_engine(settings)
    try:
        with _migration_lock(engine), engine.begin() as conn:
            _lock_in_transaction(conn)
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
        return current_revision(engine) or "base"
    finally:
        if own_engine:
            engine.dispose()


def downgrade(settings: Settings, revision: str, *, engine: Engine | None = None) -> None:
    """Step the schema back to `revision` ("base" drops every table). Used by tests and by
    operators undoing a release; never run automatically."""
    own_engine = engine is None
    engine = engine or make_engine(settings)
    try:
        with _migration_lock(engine), engine.begin() as conn:
            _lock_in_transaction(conn)
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, revision)
    finally:
        if own_engine:
            engine.dispose()


def _lock_in_transaction(conn: Connection) -> None:
    """PostgreSQL: serialize concurrent upgrades; the lock is released at commit."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """SQLite file databases: an exclusive file lock beside the database file, because
    SQLite DDL outside a transaction could otherwise interleave between two processes."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
