"""The access generation: a counter in the database that goes up with every change of access.

Workers keep sessions and entitlements in memory (`paywall.members.access_cache`) and must
drop them when another worker (or a command) changes who may read what. Every session made
by a `Paywall`'s sessionmaker is watched: a transaction that writes an entitlement, revokes
or deletes a session, or deletes a member adds one to `access_generation.value` as its last
statement before COMMIT, so the bump becomes visible exactly when the change does (same
transaction) and the row lock is held only for the commit itself (nothing else is locked
after it, so no deadlock can form around it). Readers compare the value with the one they
loaded their cache at.

Not bumped, because no cached answer depends on them: a new session (its token was never
seen, so nothing cached names it), a new member, a member's other columns, and a session's
`last_seen_at`. Writes that bypass the paywall's sessions (psql by hand) are not seen;
cached answers also expire by age (`ENTRY_TTL` in the cache) for them.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, event, inspect, select, update
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker
from sqlalchemy.sql.dml import Delete, Insert, Update

from paywall.database.models import AccessGeneration, Entitlement, Member, WebSession

ROW_ID = 1
_CHANGED = "kp_access_changed"
"""`Session.info` flag: this transaction changed access and must bump before it commits."""
_BUMPED = "kp_access_bumped"
"""`Session.info` flag: the bump is in this transaction; tell the process once committed."""
SESSION_COLUMNS = frozenset({"token_hash", "member_id", "expires_at", "revoked_at"})
"""The `sessions` columns a cached answer depends on (not `last_seen_at`)."""


def read_generation(conn: Connection | Session) -> int:
    """The current value (0 if the row is missing, as before the first migration ran)."""
    value = conn.execute(
        select(AccessGeneration.value).where(AccessGeneration.id == ROW_ID)
    ).scalar()
    return int(value or 0)


def _statement_changes_access(statement: object) -> bool:
    if not isinstance(statement, Insert | Update | Delete):
        return False
    table = getattr(statement.table, "name", None)
    if table == Entitlement.__tablename__:
        return True
    if table == WebSession.__tablename__:
        return not isinstance(statement, Insert)
    if table == Member.__tablename__:
        return isinstance(statement, Delete)
    return False


def _on_execute(state: ORMExecuteState) -> None:
    if _statement_changes_access(state.statement):
        state.session.info[_CHANGED] = True


def _on_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    """ORM changes about to be flushed: entitlements in any way, sessions' watched columns,
    deleted members or sessions."""
    for obj in session.new:
        if isinstance(obj, Entitlement):
            session.info[_CHANGED] = True
            return
    for obj in session.deleted:
        if isinstance(obj, Entitlement | WebSession | Member):
            session.info[_CHANGED] = True
            return
    for obj in session.dirty:
        if isinstance(obj, Entitlement) and session.is_modified(obj):
            session.info[_CHANGED] = True
            return
        if isinstance(obj, WebSession):
            attrs = inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in SESSION_COLUMNS):
                session.info[_CHANGED] = True
                return


def _bump_if_changed(session: Session) -> None:
    session.flush()  # the transaction's own writes first: the bump is its last statement
    if session.info.pop(_CHANGED, False):
        session.execute(
            update(AccessGeneration)
            .where(AccessGeneration.id == ROW_ID)
            .values(value=AccessGeneration.value + 1)
        )
        session.info[_BUMPED] = True


def _forget(session: Session, *_args: object) -> None:
    session.info.pop(_CHANGED, None)
    session.info.pop(_BUMPED, None)


def track_access_changes(sessions: sessionmaker[Session], on_commit: Callable[[], None]) -> None:
    """Bump the generation in every transaction of `sessions` that changes access; call
    `on_commit()` in this process after such a transaction committed (its own caches can
    drop what they hold at once instead of at their next check)."""

    def after_commit(session: Session) -> None:
        if session.info.pop(_BUMPED, False):
            on_commit()

    event.listen(sessions, "do_orm_execute", _on_execute)
    event.listen(sessions, "before_flush", _on_flush)
    event.listen(sessions, "before_commit", _bump_if_changed)
    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_rollback", _forget)
