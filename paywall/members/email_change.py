"""Changing a member's e-mail address: it takes effect only once a link mailed to the new
address is used, so nobody can move an account to an address they do not read (nor take
over someone else's by typing it). The link is single-use, lasts an hour and is stored
hashed, like sign-in links; opening it (GET) shows a button, only the POST changes it."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from paywall.database.models import EmailChange, LoginToken, Member
from paywall.members.audit import EMAIL_CHANGE_REQUESTED, EMAIL_CHANGED, member_actor, record
from paywall.members.records import normalize_email
from paywall.members.sign_in import hash_token
from paywall.runtime.context import Paywall

CHANGE_TTL = dt.timedelta(hours=1)
CONFIRM_PATH = "/account/email/confirm"


class AddressTaken(ValueError):
    """The new address already belongs to another account."""


class SameAddress(ValueError):
    """The new address is the member's current one."""


def request_change(pw: Paywall, db: Session, member: Member, new_email: str) -> tuple[str, str]:
    """Store a pending change (normalized address; `InvalidEmail` if it is not one) and
    return (address, confirmation URL). The caller commits, then mails the URL to it."""
    address = normalize_email(new_email)
    if address == member.email:
        raise SameAddress(address)
    if db.scalar(select(Member.id).where(Member.email == address)) is not None:
        raise AddressTaken(address)
    now = pw.now()
    token = secrets.token_urlsafe(32)
    db.add(
        EmailChange(
            member_id=member.id,
            new_email=address,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + CHANGE_TTL,
        )
    )
    record(
        db,
        EMAIL_CHANGE_REQUESTED,
        now=now,
        actor=member_actor(member.id),
        member_id=member.id,
        detail="confirmation link sent to the new address",
    )
    db.flush()
    return address, f"{pw.settings.base_url}{CONFIRM_PATH}?token={token}"


@dataclass(frozen=True)
class PendingChange:
    member_id: int
    new_email: str


def pending_change(pw: Paywall, db: Session, token: str) -> PendingChange | None:
    """The change a link would make, if the link is valid (nothing is used)."""
    row = db.scalar(select(EmailChange).where(EmailChange.token_hash == hash_token(token)))
    if row is None or row.used_at is not None or row.expires_at <= pw.now():
        return None
    return PendingChange(row.member_id, row.new_email)


def confirm_change(pw: Paywall, db: Session, token: str) -> Member | None:
    """Use the link: the member's address becomes the new one. None when the link is not
    valid, or the address was taken (or the account deleted) in the meantime."""
    now = pw.now()
    row = db.scalar(select(EmailChange).where(EmailChange.token_hash == hash_token(token)))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    member = db.get(Member, row.member_id)
    if member is None or member.deleted_at is not None:
        return None
    if db.scalar(select(Member.id).where(Member.email == row.new_email)) is not None:
        return None
    row.used_at = now
    old = member.email
    member.email = row.new_email
    # Unused sign-in links to the old address would otherwise make a new, empty account.
    db.execute(delete(LoginToken).where(LoginToken.email == old, LoginToken.used_at.is_(None)))
    record(
        db,
        EMAIL_CHANGED,
        now=now,
        actor=member_actor(member.id),
        member_id=member.id,
        detail="confirmed by the link sent to the new address",
    )
    db.flush()
    return member
