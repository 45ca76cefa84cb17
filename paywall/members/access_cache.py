"""Who a session cookie belongs to and what they may read, without a database query per page.

A gated page used to cost two database calls (the session, then the member's entitlements),
each in a database thread. `AccessCache` keeps, per session token (by its hash), the member
and their active entitlements with their validity windows, and decides each request in
memory against `Paywall.now()` (so a session or an entitlement that runs out by time stops
at once). What it holds is dropped:

- at once, in this process, when a transaction committed here changed access
  (`Paywall.access_changes`);
- within `CHECK_INTERVAL` (0.5 s) in every other worker or host: the first request after
  the interval reads the database's access generation (one small query per worker per
  interval, and none while idle), which every change of access bumps in its own transaction
  (`paywall.database.access_generation`). A refund, a cancellation, a sign-out or an
  admin's revoke handled by one worker is therefore in force on every worker within 0.5 s
  (plus the time that query takes);
- after `ENTRY_TTL` (30 s) whatever happened, for writes made outside the paywall's code.

An entry loaded while a drop happened is not stored (an epoch counter), so a load that read
the old state cannot outlive the change. Unknown tokens are remembered too (a token never
becomes valid later: new sessions get new random tokens), bounded like everything here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select

from paywall.database.access_generation import read_generation
from paywall.database.models import Entitlement
from paywall.members.page_access import holds
from paywall.members.sign_in import hash_token, live_session, note_seen
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db

CHECK_INTERVAL = 0.5
"""Seconds between two reads of the access generation: the bound for a change made in
another worker to take effect here."""
ENTRY_TTL = 30.0
"""Seconds an entry is used at most, even when the generation did not move."""
MAX_ENTRIES = 10_000
MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class Grant:
    """One active entitlement: its key and when it applies."""

    key: str
    valid_from: dt.datetime
    valid_until: dt.datetime | None

    def applies(self, now: dt.datetime) -> bool:
        return self.valid_from <= now and (self.valid_until is None or now < self.valid_until)


@dataclass(frozen=True)
class SessionAccess:
    """A live session's member and what they hold, as loaded from the database."""

    member_id: int
    session_expires_at: dt.datetime
    grants: tuple[Grant, ...]

    def live(self, now: dt.datetime) -> bool:
        return now < self.session_expires_at

    def holds(self, requires: Iterable[str], now: dt.datetime) -> bool:
        """Whether any one of `requires` is unlocked (`member`: by any signed-in member)."""
        return holds(self.grants, requires, now)


def load_session_access(pw: Paywall, token: str) -> SessionAccess | None:
    """The session's member and active entitlements from the database (a database thread),
    or None for an unknown, revoked or expired session. Notes `last_seen_at` at most every
    `LAST_SEEN_RESOLUTION` (best effort: `note_seen`), as `member_for_token` does."""
    with pw.sessions() as db:
        row = live_session(pw, db, token)
        if row is None:
            return None
        grants = db.execute(
            select(Entitlement.key, Entitlement.valid_from, Entitlement.valid_until).where(
                Entitlement.member_id == row.member_id, Entitlement.status == "active"
            )
        ).all()
        access = SessionAccess(
            member_id=row.member_id,
            session_expires_at=row.expires_at,
            grants=tuple(Grant(key, since, until) for key, since, until in grants),
        )
        note_seen(pw, db, row)
        return access


def current_generation(pw: Paywall) -> int:
    with pw.engine.connect() as conn:
        return read_generation(conn)


@dataclass(frozen=True)
class _Entry:
    access: SessionAccess | None
    loaded_at: float


class AccessCache:
    """Per worker process; used from the event loop's thread only."""

    def __init__(
        self,
        pw: Paywall,
        *,
        check_interval: float = CHECK_INTERVAL,
        ttl: float = ENTRY_TTL,
        max_entries: int = MAX_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pw = pw
        self.check_interval = check_interval
        self.ttl = ttl
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._epoch = 0
        self._generation: int | None = None
        self._checked_at = -float("inf")
        self._local_seen = pw.access_changes.count
        self._check: asyncio.Task[None] | None = None
        self.loads = 0
        """Database loads so far (tests and diagnostics)."""

    def __len__(self) -> int:
        return len(self._entries)

    async def lookup(self, token: str | None) -> SessionAccess | None:
        """The session behind a cookie value, or None (no cookie, unknown, revoked)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        await self._sync()
        key = hash_token(token)
        entry = self._entries.get(key)
        if entry is not None and self._monotonic() - entry.loaded_at < self.ttl:
            self._entries.move_to_end(key)
            return entry.access
        epoch, started = self._epoch, self._monotonic()
        access = await run_db(self.pw, load_session_access, self.pw, token)
        self.loads += 1
        if epoch == self._epoch:
            self._store(key, _Entry(access, started))
        return access

    def clear(self) -> None:
        """Drop everything (and anything being loaded now)."""
        self._entries.clear()
        self._epoch += 1

    def _store(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def _sync(self) -> None:
        """Drop what changed: at once for this process' commits, every `check_interval` for
        the database's generation (one read shared by the requests that wait for it)."""
        local = self.pw.access_changes.count
        if local != self._local_seen:
            self._local_seen = local
            self.clear()
        if self._monotonic() - self._checked_at < self.check_interval:
            return
        check = self._check
        if check is None or check.done() or check.get_loop() is not asyncio.get_running_loop():
            check = asyncio.ensure_future(self._read_generation())
            self._check = check
        await asyncio.shield(check)

    async def _read_generation(self) -> None:
        started = self._monotonic()
        value = await run_db(self.pw, current_generation, self.pw)
        if value != self._generation:
            self._generation = value
            self.clear()
        self._checked_at = max(self._checked_at, started)
