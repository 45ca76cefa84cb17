"""Entitlements: what a member may read, why, until when, with an audit row for every change.

An entitlement is identified by (member, key, source, stripe object): buying course A twice
gives two rows (two payments that can be refunded separately), while a subscription's row is
updated in place as its Stripe status changes. `source_updated_at` stores the timestamp of
the Stripe state last applied, so a late, older event never overwrites a newer state, and a
`revoked` row (refund, dispute, admin) is never silently re-activated by a webhook.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from kp_contract.manifest import MEMBER_KEY
from paywall.database.models import SOURCES, STATUSES, AuditLog, Entitlement, Member
from paywall.database.upsert import insert_if_absent

# The note on a subscription entitlement that stays paid until its period ends and then stops
# (`cancel_at_period_end`): the account page says "Ends on" rather than "Renews on" for it.
CANCELS_AT_PERIOD_END = "cancels at period end"

_KEY_RE = re.compile(r"^(course|tier):[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")


class InvalidKey(ValueError):
    """An entitlement key that is not `course:<slug>`, `tier:<name>` or `member`."""


def validate_key(key: str) -> str:
    """The key unchanged if well-formed, else `InvalidKey` quoting it."""
    if key == MEMBER_KEY or _KEY_RE.match(key):
        return key
    raise InvalidKey(f"entitlement key {key!r} is not course:<slug>, tier:<name> or member")


def is_active(entitlement: Entitlement, now: dt.datetime) -> bool:
    """Grants access right now: status active and `now` inside [valid_from, valid_until)."""
    if entitlement.status != "active" or entitlement.valid_from > now:
        return False
    return entitlement.valid_until is None or now < entitlement.valid_until


def active_clause(now: dt.datetime) -> ColumnElement[bool]:
    """SQL for `is_active`: the rows that grant access at `now`."""
    return (
        (Entitlement.status == "active")
        & (Entitlement.valid_from <= now)
        & or_(Entitlement.valid_until.is_(None), Entitlement.valid_until > now)
    )


def active_keys(db: Session, member_id: int, now: dt.datetime) -> set[str]:
    """Every key the member holds right now."""
    rows = db.scalars(
        select(Entitlement.key).where(Entitlement.member_id == member_id, active_clause(now))
    )
    return set(rows)


def is_entitled(db: Session, member: Member | None, requires: list[str], now: dt.datetime) -> bool:
    """Whether the member may read a page that any one of `requires` unlocks. The `member`
    key is held by every member (members-only pages need only a sign-in)."""
    if member is None or not requires:
        return False
    if MEMBER_KEY in requires:
        return True
    return bool(active_keys(db, member.id, now) & set(requires))


def member_entitlements(db: Session, member_id: int) -> list[Entitlement]:
    """All of a member's rows, newest first (account page, CLI)."""
    return list(
        db.scalars(
            select(Entitlement)
            .where(Entitlement.member_id == member_id)
            .order_by(Entitlement.created_at.desc(), Entitlement.id.desc())
        )
    )


def by_stripe_object(db: Session, stripe_object_id: str) -> list[Entitlement]:
    """Rows created from one Stripe object (payment intent, session or subscription)."""
    if not stripe_object_id:
        return []
    return list(
        db.scalars(select(Entitlement).where(Entitlement.stripe_object_id == stripe_object_id))
    )


@dataclass(frozen=True)
class Desired:
    """The state a caller wants an entitlement row to have."""

    status: str = "active"
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    stripe_status: str | None = None
    note: str | None = None


def set_state(
    db: Session,
    member: Member,
    key: str,
    source: str,
    desired: Desired,
    *,
    now: dt.datetime,
    actor: str,
    stripe_object_id: str = "",
    stamp: int = 0,
    authoritative: bool = False,
    read_at: int | None = None,
    reactivate: bool = False,
) -> Entitlement | None:
    """Create or update the (member, key, source, stripe object) row to `desired`.

    `stamp` is the Stripe timestamp of the state (event `created`). The update is skipped
    (None returned) when it is older than the state already applied, or equally old but an
    earlier lifecycle stage (see `STATUS_PRECEDENCE`), unless `authoritative` (the state was
    just re-read from Stripe, so it is the current truth). An authoritative state carries
    `read_at`, when its read from Stripe started (ms): a read that started earlier than the
    one already applied may have seen an older state, and is skipped (two events of one
    subscription processed at once, the older read committing last). A revoked row is only
    re-activated with `reactivate` (an admin's grant). Writes one audit row when something
    changed.
    """
    validate_key(key)
    if source not in SOURCES:
        raise ValueError(f"entitlement source {source!r} is not one of {', '.join(SOURCES)}")
    if desired.status not in STATUSES:
        raise ValueError(f"entitlement status {desired.status!r} is not one of {STATUSES}")
    valid_from = desired.valid_from or now
    created = insert_if_absent(
        db,
        Entitlement.__table__,
        {
            "member_id": member.id,
            "key": key,
            "source": source,
            "stripe_object_id": stripe_object_id,
            "status": desired.status,
            "stripe_status": desired.stripe_status,
            "valid_from": valid_from,
            "valid_until": desired.valid_until,
            "source_updated_at": stamp,
            "stripe_read_at": read_at,
            "note": desired.note or "",
            "created_at": now,
            "updated_at": now,
        },
        ["member_id", "key", "source", "stripe_object_id"],
    )
    row = _locked_row(db, member.id, key, source, stripe_object_id)
    if created:
        _audit_change(db, row, None, now=now, actor=actor)
        return row
    if authoritative:
        if read_at is not None and row.stripe_read_at is not None and read_at < row.stripe_read_at:
            return None
    elif _is_stale(row, desired, stamp):
        return None
    if row.status == "revoked" and desired.status != "revoked" and not reactivate:
        return None
    before = _snapshot(row)
    row.status = desired.status
    row.valid_until = desired.valid_until
    if desired.valid_from is not None:
        row.valid_from = desired.valid_from
    if desired.stripe_status is not None:
        row.stripe_status = desired.stripe_status
    if desired.note is not None:
        row.note = desired.note
    row.source_updated_at = max(row.source_updated_at, stamp)
    if read_at is not None:
        row.stripe_read_at = max(row.stripe_read_at or 0, read_at)
    if _snapshot(row) != before:
        row.updated_at = now
        _audit_change(db, row, before, now=now, actor=actor)
    db.flush()
    return row


def grant(
    db: Session,
    member: Member,
    key: str,
    source: str,
    *,
    now: dt.datetime,
    actor: str,
    stripe_object_id: str = "",
    valid_until: dt.datetime | None = None,
    note: str | None = None,
) -> Entitlement:
    """Give access (idempotent: granting the same thing again changes nothing). A grant is
    a deliberate decision: it re-activates a revoked row of the same identity."""
    row = set_state(
        db,
        member,
        key,
        source,
        Desired(status="active", valid_until=valid_until, note=note),
        now=now,
        actor=actor,
        stripe_object_id=stripe_object_id,
        authoritative=True,
        reactivate=True,
    )
    if row is None:  # pragma: no cover - authoritative + reactivate never skip
        raise RuntimeError(f"grant of {key} to member {member.id} was skipped")
    return row


def revoke(
    db: Session, entitlement: Entitlement, *, now: dt.datetime, actor: str, reason: str
) -> bool:
    """End access now (refund, dispute, admin); True if it was not revoked already."""
    if entitlement.status == "revoked":
        return False
    before = _snapshot(entitlement)
    entitlement.status = "revoked"
    entitlement.note = reason
    entitlement.updated_at = now
    _audit_change(db, entitlement, before, now=now, actor=actor)
    db.flush()
    return True


def revoke_all(
    db: Session, rows: Iterable[Entitlement], *, now: dt.datetime, actor: str, reason: str
) -> int:
    """Revoke each row; the number actually changed."""
    return sum(revoke(db, row, now=now, actor=actor, reason=reason) for row in rows)


# On a timestamp tie (Stripe timestamps are whole seconds) the later stage of the lifecycle
# wins: pending → active → expired → revoked.
STATUS_PRECEDENCE = {"pending": 0, "active": 1, "expired": 2, "revoked": 3}
_OPEN_END = dt.datetime.max.replace(tzinfo=dt.UTC)


def _is_stale(row: Entitlement, desired: Desired, stamp: int) -> bool:
    """Whether `desired` (from an event payload of Stripe time `stamp`) is older than the
    row's state. On a tie in both time and stage, the state that grants longer wins, so the
    result does not depend on the order of delivery: `past_due` and `active` of the same
    second (a renewal that failed and was paid again at once) end as `active` either way."""
    if stamp != row.source_updated_at:
        return stamp < row.source_updated_at
    if stamp == 0:
        return False
    ours, theirs = STATUS_PRECEDENCE[desired.status], STATUS_PRECEDENCE[row.status]
    if ours != theirs:
        return ours < theirs
    return _end(desired.valid_until) < _end(row.valid_until)


def _end(until: dt.datetime | None) -> dt.datetime:
    if until is None:
        return _OPEN_END
    return until if until.tzinfo else until.replace(tzinfo=dt.UTC)


def _locked_row(
    db: Session, member_id: int, key: str, source: str, stripe_object_id: str
) -> Entitlement:
    """The row, locked for update on PostgreSQL so concurrent state changes serialize
    (SQLite already serializes writers)."""
    stmt = (
        select(Entitlement)
        .where(
            Entitlement.member_id == member_id,
            Entitlement.key == key,
            Entitlement.source == source,
            Entitlement.stripe_object_id == stripe_object_id,
        )
        .execution_options(populate_existing=True)
    )
    if db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = db.scalar(stmt)
    if row is None:  # pragma: no cover - inserted or present a moment ago
        raise RuntimeError(f"entitlement {key} for member {member_id} vanished")
    return row


def _snapshot(row: Entitlement) -> tuple[object, ...]:
    return (row.status, row.valid_from, row.valid_until, row.stripe_status, row.note)


def _audit_change(
    db: Session,
    row: Entitlement,
    before: tuple[object, ...] | None,
    *,
    now: dt.datetime,
    actor: str,
) -> None:
    was_active = before is not None and before[0] == "active"
    if row.status == "active":
        action = "update" if was_active else "grant"
    elif row.status in ("revoked", "expired"):
        action = "revoke" if before is None or before[0] != row.status else "update"
    else:
        action = "update"
    until = row.valid_until.isoformat() if row.valid_until else "open"
    detail = f"status={row.status} until={until}"
    if row.stripe_object_id:
        detail += f" object={row.stripe_object_id}"
    if row.stripe_status:
        detail += f" stripe_status={row.stripe_status}"
    if row.note:
        detail += f" note={row.note}"
    db.add(
        AuditLog(
            at=now,
            actor=actor,
            action=action,
            member_id=row.member_id,
            key=row.key,
            source=row.source,
            detail=detail,
        )
    )
