"""The members desk's work on the database (`/admin/members/`, paywall.web.members_desk):
finding members by address and access, one member's whole picture, and the admin's actions
on them, each audited with the admin's address as actor.

A refund is not here: it is asked of Stripe (paywall.billing.refunds) and the access ends
through the `charge.refunded` webhook like any other refund.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from paywall.database.models import SOURCES, Entitlement, Member, WebSession
from paywall.members.audit import SIGN_OUT_ALL, AuditLine, audit_lines, record
from paywall.members.entitlements import (
    active_clause,
    grant,
    is_active,
    member_entitlements,
    revoke,
    validate_key,
)
from paywall.members.sign_in import revoke_member_sessions
from paywall.runtime.context import Paywall

STATES = ("active", "ended", "none", "deleted")
PAGE_SIZE = 100
COMP_SOURCE = "complimentary"


class DeskError(ValueError):
    """An action the desk cannot do as asked; the message says why (shown to the admin)."""


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to; empty fields do not narrow."""

    q: str = ""
    key: str = ""  # course:<slug> | tier:<name>
    source: str = ""
    state: str = ""  # active | ended | none | deleted
    flagged: bool = False

    def check(self) -> Filters:
        if self.key:
            validate_key(self.key)
        if self.source and self.source not in SOURCES:
            raise DeskError(f"source {self.source!r} is not one of {', '.join(SOURCES)}")
        if self.state and self.state not in STATES:
            raise DeskError(f"state {self.state!r} is not one of {', '.join(STATES)}")
        return self


@dataclass(frozen=True)
class MemberRow:
    id: int
    email: str
    created_at: dt.datetime
    access: list[str]
    flagged: str | None
    deleted: bool


def find_members(
    db: Session, filters: Filters, now: dt.datetime, limit: int = PAGE_SIZE
) -> tuple[list[MemberRow], int]:
    """The members matching `filters` (newest first, at most `limit`) and how many match."""
    stmt = select(Member)
    if filters.q:
        stmt = stmt.where(Member.email.contains(filters.q.strip().lower(), autoescape=True))
    if filters.flagged:
        stmt = stmt.where(Member.flagged.is_not(None))
    stmt = stmt.where(
        Member.deleted_at.is_not(None)
        if filters.state == "deleted"
        else Member.deleted_at.is_(None)
    )
    matching = [Entitlement.member_id == Member.id]
    if filters.key:
        matching.append(Entitlement.key == filters.key)
    if filters.source:
        matching.append(Entitlement.source == filters.source)
    any_row = exists().where(*matching)
    active_row = exists().where(*matching, active_clause(now))
    if filters.state == "active" or (filters.state == "" and (filters.key or filters.source)):
        stmt = stmt.where(active_row)
    elif filters.state == "ended":
        stmt = stmt.where(any_row, ~active_row)
    elif filters.state == "none":
        stmt = stmt.where(~any_row)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    members = db.scalars(stmt.order_by(Member.created_at.desc(), Member.id.desc()).limit(limit))
    rows = []
    for member in members:
        keys = sorted({e.key for e in member_entitlements(db, member.id) if is_active(e, now)})
        rows.append(
            MemberRow(
                member.id,
                member.email,
                member.created_at,
                keys,
                member.flagged,
                member.deleted_at is not None,
            )
        )
    return rows, int(total)


@dataclass(frozen=True)
class Profile:
    member: Member
    entitlements: list[Entitlement]
    live_sessions: int
    trail: list[AuditLine] = field(default_factory=list)


def member_profile(db: Session, member_id: int, now: dt.datetime) -> Profile | None:
    member = db.get(Member, member_id)
    if member is None:
        return None
    live = db.scalar(
        select(func.count())
        .select_from(WebSession)
        .where(
            WebSession.member_id == member_id,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
        )
    )
    return Profile(
        member,
        member_entitlements(db, member_id),
        int(live or 0),
        audit_lines(db, member_id=member_id, newest_first=True, limit=200),
    )


def _live_member(db: Session, member_id: int) -> Member:
    member = db.get(Member, member_id)
    if member is None:
        raise DeskError(f"no member #{member_id}")
    if member.deleted_at is not None:
        raise DeskError(f"member #{member_id} deleted their account")
    return member


def comp(
    db: Session,
    member_id: int,
    key: str,
    *,
    until: dt.datetime | None,
    note: str,
    now: dt.datetime,
    actor: str,
) -> Entitlement:
    """Complimentary access to `key` (until `until`, or open-ended), with the admin's note."""
    validate_key(key)
    if until is not None and until <= now:
        raise DeskError(f"the end date {until.date().isoformat()} is already past")
    member = _live_member(db, member_id)
    return grant(
        db,
        member,
        key,
        COMP_SOURCE,
        now=now,
        actor=actor,
        valid_until=until,
        note=note.strip() or "complimentary, from the members desk",
    )


def end_access(
    db: Session, member_id: int, entitlement_id: int, *, reason: str, now: dt.datetime, actor: str
) -> Entitlement:
    """Revoke one of the member's entitlements now (a comp ended, or any access taken back)."""
    row = db.get(Entitlement, entitlement_id)
    if row is None or row.member_id != member_id:
        raise DeskError(f"member #{member_id} has no entitlement #{entitlement_id}")
    if row.status == "revoked":
        raise DeskError(f"{row.key} ({row.source}) is already revoked")
    revoke(db, row, now=now, actor=actor, reason=reason.strip() or "revoked from the members desk")
    return row


def sign_out_everywhere(pw: Paywall, db: Session, member_id: int, *, actor: str) -> int:
    """Revoke every live session of the member (every browser signed out at once)."""
    member = _live_member(db, member_id)
    count = revoke_member_sessions(pw, db, member.id)
    record(
        db,
        SIGN_OUT_ALL,
        now=pw.now(),
        actor=actor,
        member_id=member.id,
        detail=f"{count} session(s) ended",
    )
    return count
