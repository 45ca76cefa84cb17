"""Engine and sessions from `KP_DATABASE_URL`: SQLite under `var/` by default, PostgreSQL
(`postgresql://…`) with no code change. Migrations are applied with Alembic (`kp db upgrade`)."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from kp_contract.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL: the default SQLite file, or the configured one with the psycopg 3
    driver made explicit (`postgresql://` alone would mean psycopg2, which we do not ship)."""
    url = settings.database_url
    if not url:
        settings.var_path.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{settings.var_path / 'paywall.sqlite3'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# Every engine keeps at most this many connections (pool + overflow); the paywall runs at
# most as many database threads (paywall.runtime.db_threads), so a thread never queues for
# a connection it could not get.
POOL_SIZE = 10
MAX_OVERFLOW = 20
MAX_CONNECTIONS = POOL_SIZE + MAX_OVERFLOW


def make_engine(settings: Settings) -> Engine:
    """An engine that never waits long: `KP_DB_BUSY_TIMEOUT` bounds a wait for a SQLite write
    lock (busy timeout), a PostgreSQL lock (`lock_timeout`), a new PostgreSQL connection
    (`connect_timeout`) and a pooled connection (`pool_timeout`). Past it the driver raises
    `OperationalError` (or the pool `TimeoutError`), which the app answers 503.

    No `statement_timeout`: the waits that stalled requests were all lock and connection
    waits, and a statement that is merely slow holds no lock anyone else waits on here;
    a deployment that wants one sets it on the database (`ALTER DATABASE … SET`), where it
    also covers the CLI's long exports and migrations deliberately."""
    url = database_url(settings)
    busy = settings.db_busy_timeout
    if url.startswith("sqlite"):
        pool: dict[str, Any] = {}
        if not _sqlite_in_memory(url):  # memory databases get a single-connection pool
            pool = {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW, "pool_timeout": busy}
        engine = create_engine(
            url, connect_args={"timeout": busy, "check_same_thread": False}, **pool
        )
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, busy_timeout=busy))
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_timeout=busy,
        connect_args={
            "connect_timeout": max(2, math.ceil(busy)),  # libpq: whole seconds, 2 at least
            "options": _pg_options(url, f"-c lock_timeout={round(busy * 1000)}"),
        },
    )


def _sqlite_in_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"


def _pg_options(url: str, ours: str) -> str:
    """libpq `options` for the session: ours after any the URL gives (`?options=…`)."""
    given = make_url(url).query.get("options")
    given = given[-1] if isinstance(given, tuple) else given
    return f"{given} {ours}" if given else ours


def _sqlite_pragmas(
    dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry, *, busy_timeout: float
) -> None:
    """WAL lets readers run beside the writer; foreign keys are off by default in SQLite;
    a writer waits at most `busy_timeout` seconds for the lock ("database is locked")."""
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
