"""Members: people known by e-mail address, created on sign-in, purchase or import.

E-mail addresses are normalized (trimmed, lower-cased) everywhere, so `Ann@X.com` buying and
`ann@x.com` signing in are the same member.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from paywall.database.models import AuditLog, Member
from paywall.database.upsert import insert_if_absent

MAX_EMAIL_LENGTH = 320
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class InvalidEmail(ValueError):
    """An address that cannot be a deliverable e-mail; the message quotes it."""


def normalize_email(email: str) -> str:
    """Trimmed and lower-cased, or `InvalidEmail` naming what is wrong with it."""
    value = (email or "").strip().lower()
    if not value:
        raise InvalidEmail("e-mail address is empty")
    if len(value) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"e-mail address is longer than {MAX_EMAIL_LENGTH} characters")
    if not _EMAIL_RE.match(value):
        raise InvalidEmail(f"not an e-mail address: {email.strip()!r}")
    return value


def find_member(db: Session, email: str) -> Member | None:
    """The member with this address (any case), or None; an invalid address finds nobody."""
    try:
        normalized = normalize_email(email)
    except InvalidEmail:
        return None
    return db.scalar(select(Member).where(Member.email == normalized))


def find_member_by_customer(db: Session, customer_id: str | None) -> Member | None:
    """The member linked to a Stripe customer id, or None."""
    if not customer_id:
        return None
    return db.scalar(select(Member).where(Member.stripe_customer_id == customer_id))


def get_or_create_member(
    db: Session, email: str, *, now: dt.datetime, lang: str = "en", source: str | None = None
) -> Member:
    """The member with this address, created if new. Safe when two requests create the same
    address at once: the database keeps one row and both callers get it."""
    normalized = normalize_email(email)
    insert_if_absent(
        db,
        Member.__table__,
        {
            "email": normalized,
            "created_at": now,
            "lang": lang,
            "newsletter": True,
            "source": source[:500] if source else None,
        },
        ["email"],
    )
    member = db.scalar(
        select(Member).where(Member.email == normalized).execution_options(populate_existing=True)
    )
    if member is None:  # pragma: no cover - the row was inserted or already existed
        raise RuntimeError(f"member {normalized!r} vanished right after insert")
    return member


def link_stripe_customer(db: Session, member: Member, customer_id: str | None) -> bool:
    """Remember the member's Stripe customer (for the billing portal and later events).

    Keeps an existing link, and never steals a customer id already linked to someone else
    (that would move one person's subscription events onto another); True if linked now.
    """
    if not customer_id or member.stripe_customer_id == customer_id:
        return False
    if member.stripe_customer_id is not None:
        return False
    if find_member_by_customer(db, customer_id) is not None:
        return False
    member.stripe_customer_id = customer_id
    db.flush()
    return True


def flag_member(db: Session, member: Member, reason: str, *, now: dt.datetime, actor: str) -> None:
    """Mark a member for the admin's attention (e.g. a payment dispute) and audit it."""
    member.flagged = reason[:255]
    db.add(
        AuditLog(
            at=now,
            actor=actor,
            action="flag",
            member_id=member.id,
            key=None,
            source=None,
            detail=reason,
        )
    )
    db.flush()
