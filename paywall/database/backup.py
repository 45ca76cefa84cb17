"""`kp backup` and `kp restore`: the paywall's whole database in one file, and back.

SQLite is copied through its online backup API (`sqlite3.Connection.backup`): the copy is one
consistent snapshot even while `kp serve` writes (WAL readers do not block writers, nor the
other way round), then checked with `PRAGMA integrity_check`. PostgreSQL is dumped by
`pg_dump` in its custom format (one snapshot transaction, so also consistent while serving)
and restored by `pg_restore`. Connection details go to the tools in libpq's environment
variables, never on a command line another user could read with `ps`, nor in a message.

A restore goes into an empty database: one with no tables, or only the schema of an empty
paywall (`kp db upgrade` on a fresh database). Anything else is refused unless `force`, and
then replaced whole. After a restore the schema is brought to this version's head, so a
backup taken by an older version can be restored by a newer one.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, make_url, text

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
# Rows that exist in every migrated database, empty or not.
BOOKKEEPING_TABLES = frozenset({"alembic_version", "access_generation"})


class BackupError(RuntimeError):
    """A backup or restore that could not be done; the message says what and where."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    kind: str  # "sqlite" | "postgresql"
    size: int


def backup_database(engine: Engine, out: Path) -> BackupResult:
    """Write the database behind `engine` to `out` (replaced only once the copy is whole)."""
    out = out.expanduser()
    if out.is_dir():
        raise BackupError(f"{out} is a directory: name the backup file (--out FILE)")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent} does not exist: create it first")
    partial = out.with_name(f".{out.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        if engine.dialect.name == "sqlite":
            _sqlite_backup(_sqlite_file(engine), partial)
            kind = "sqlite"
        elif engine.dialect.name == "postgresql":
            _run(engine, ["pg_dump", "--format=custom", "--no-owner", "--file", str(partial)])
            kind = "postgresql"
        else:
            raise BackupError(f"no backup for {engine.dialect.name} databases")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(out, kind, out.stat().st_size)


def backup_kind(path: Path) -> str:
    """ "sqlite" or "postgresql", from the file's first bytes; `BackupError` otherwise."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is not a backup made by kp backup (neither SQLite nor pg_dump)")


def nonempty_tables(engine: Engine) -> list[str]:
    """The tables that hold rows (bookkeeping rows of an empty paywall not counted)."""
    names = [n for n in inspect(engine).get_table_names() if n not in BOOKKEEPING_TABLES]
    found = []
    with engine.connect() as conn:
        for name in sorted(names):
            quoted = engine.dialect.identifier_preparer.quote(name)
            if conn.execute(text(f"SELECT 1 FROM {quoted} LIMIT 1")).first():  # noqa: S608
                found.append(name)
    return found


def restore_database(engine: Engine, source: Path, *, force: bool = False) -> str:
    """Replace the (empty, unless `force`) database behind `engine` with `source`; returns
    the backup's kind. The caller brings the schema to head afterwards."""
    kind = backup_kind(source)
    if kind != engine.dialect.name:
        raise BackupError(
            f"{source} is a {kind} backup and the database (KP_DATABASE_URL) is "
            f"{engine.dialect.name}: restore it into a {kind} database"
        )
    holding = nonempty_tables(engine)
    if holding and not force:
        raise BackupError(
            "the database is not empty (rows in "
            + ", ".join(holding[:6])
            + (", …" if len(holding) > 6 else "")
            + "): restore into an empty database, or pass --force to replace everything in it"
        )
    if kind == "sqlite":
        _sqlite_check(source)
        engine.dispose()  # no pooled connection of ours keeps the old pages
        with sqlite3.connect(source) as src, sqlite3.connect(_sqlite_file(engine)) as dst:
            src.backup(dst)
    else:
        _drop_everything(engine)
        _run(
            engine,
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                str(source),
            ],
            database_flag=True,
        )
    return kind


# ---------------------------------------------------------------- SQLite


def _sqlite_file(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"the SQLite database {source} does not exist")
    with sqlite3.connect(source, timeout=30) as src:  # read-write: a WAL reader needs -shm
        with sqlite3.connect(target) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
        dst.close()
    src.close()
    _sqlite_check(target)


def _sqlite_check(path: Path) -> None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database ({exc})") from None
    if not verdict or verdict[0] != "ok":
        raise BackupError(f"{path} failed SQLite's integrity check: {verdict}")
    if "alembic_version" not in tables:
        raise BackupError(f"{path} is a SQLite database but not a paywall's (no alembic_version)")


# ---------------------------------------------------------------- PostgreSQL


def _libpq_environment(engine: Engine) -> dict[str, str]:
    """The connection as libpq variables (password included, so never on argv)."""
    url = make_url(str(engine.url.render_as_string(hide_password=False)))
    env = dict(os.environ)
    for variable, value in (
        ("PGHOST", url.host),
        ("PGPORT", str(url.port) if url.port else None),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value:
            env[variable] = str(value)
    return env


def _run(engine: Engine, command: list[str], *, database_flag: bool = False) -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (Debian: apt install postgresql-client)")
    env = _libpq_environment(engine)
    if database_flag:
        command = [*command[:-1], "--dbname", env["PGDATABASE"], command[-1]]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"{tool} failed (exit {done.returncode}): " + " ".join(message[-3:]))


def _drop_everything(engine: Engine) -> None:
    """Empty the database's schema before `pg_restore` recreates it from the dump."""
    with engine.begin() as conn:
        for name in inspect(conn).get_table_names():
            quoted = engine.dialect.identifier_preparer.quote(name)
            conn.execute(text(f"DROP TABLE IF EXISTS {quoted} CASCADE"))
        conn.execute(text("DROP FUNCTION IF EXISTS audit_log_append_only() CASCADE"))
    engine.dispose()
