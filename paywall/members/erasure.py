"""Deleting a member's account (GDPR art. 17, PIPL art. 47): access ends at once, every
browser is signed out, and the personal data is erased or made anonymous, while the records
of payments that Stripe reconciliation and tax law need are kept without the person.

Kept: the member row (as `deleted-<id>@deleted.invalid`, with `deleted_at`) so its
purchase and subscription rows (Stripe ids, dates, amounts in the partner ledger and the
conversions) still add up, and the Stripe customer id, which names no one here but lets a
late Stripe event (a dispute) find the payment it concerns; the audit trail, which names
members by id only. Erased: the address everywhere (sign-in links, pending address changes,
the invite ledger keeps a one-way hash so an address is not counted twice, and the copies
inside stored Stripe events), the sign-up page, the invite code, sessions, the newsletter
log and opt-in, lessons marked done and certificates (their public pages name the person).
Subscriptions are cancelled in Stripe first (paywall.billing.account_deletion)
so nobody is charged for an account that no longer exists.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, delete, select, update
from sqlalchemy.orm import Session

from paywall.database.models import (
    Certificate,
    EmailChange,
    Entitlement,
    Gift,
    LessonProgress,
    LoginToken,
    Member,
    NewsletterSend,
    Referral,
    ReferralCode,
    StripeEvent,
    WebSession,
)
from paywall.members.audit import ACCOUNT_DELETED, record
from paywall.members.entitlements import revoke_all
from paywall.runtime.context import Paywall

ERASED = "[erased]"
PERSONAL_KEYS = frozenset(
    {"email", "customer_email", "receipt_email", "name", "phone", "address", "shipping"}
)


def erased_address(member_id: int) -> str:
    return f"deleted-{member_id}@deleted.invalid"


@dataclass(frozen=True)
class Erasure:
    member_id: int
    revoked: int
    sessions: int
    events_scrubbed: int


def scrub(value: Any, email: str) -> Any:
    """`value` (a Stripe payload) with personal fields and every copy of `email` erased."""
    if isinstance(value, dict):
        return {
            k: (ERASED if k in PERSONAL_KEYS and v not in (None, "", {}) else scrub(v, email))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v, email) for v in value]
    if isinstance(value, str) and email in value.lower():
        return ERASED
    return value


def erase_member(pw: Paywall, db: Session, member: Member, *, actor: str) -> Erasure:
    """Delete the account in the caller's transaction (see the module docstring)."""
    now = pw.now()
    email = member.email
    live = [e for e in member.entitlements if e.status in ("active", "pending")]
    revoked = revoke_all(db, live, now=now, actor=actor, reason="account deleted")
    sessions = len(
        db.scalars(
            select(WebSession.id).where(
                WebSession.member_id == member.id, WebSession.revoked_at.is_(None)
            )
        ).all()
    )
    db.execute(delete(WebSession).where(WebSession.member_id == member.id))
    db.execute(delete(LoginToken).where(LoginToken.email == email))
    db.execute(delete(EmailChange).where(EmailChange.member_id == member.id))
    db.execute(delete(ReferralCode).where(ReferralCode.member_id == member.id))
    db.execute(delete(NewsletterSend).where(NewsletterSend.member_id == member.id))
    # Learning: what they read and the certificates in their chosen name (a public page).
    db.execute(delete(LessonProgress).where(LessonProgress.member_id == member.id))
    db.execute(delete(Certificate).where(Certificate.member_id == member.id))
    # Gifts: the messages they wrote; gifts sent to their address lose it (and their link).
    db.execute(update(Gift).where(Gift.buyer_member_id == member.id).values(message=""))
    db.execute(
        update(Gift)
        .where(Gift.recipient_email == email)
        .values(recipient_email=erased_address(member.id), message="", token_hash=None)
    )
    digest = hashlib.sha256(email.encode()).hexdigest()
    db.execute(update(Referral).where(Referral.email == email).values(email=f"erased:{digest}"))
    scrubbed = 0
    pattern = f"%{email}%"
    for event in db.scalars(
        select(StripeEvent).where(cast(StripeEvent.payload, Text).ilike(pattern))
    ):
        event.payload = scrub(event.payload, email)
        scrubbed += 1
    for row in db.scalars(select(Entitlement).where(Entitlement.member_id == member.id)):
        if email in row.note.lower():
            row.note = ERASED
    member.email = erased_address(member.id)
    member.source = None
    member.confirmed_at = None
    member.newsletter = False
    member.deleted_at = now
    record(
        db,
        ACCOUNT_DELETED,
        now=now,
        actor=actor,
        member_id=member.id,
        detail=f"access ended ({revoked}), personal data erased; purchase records kept",
    )
    db.flush()
    return Erasure(member.id, revoked, sessions, scrubbed)
