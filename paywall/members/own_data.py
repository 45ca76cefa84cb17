"""Everything the site holds about one member, as one JSON document (GDPR art. 15 and 20,
PIPL art. 45): the account, access and where it came from, sessions and sign-in links
(times only: their secrets are never stored readable, and never exported), the audit trail,
invites, partner attribution, sign-up and purchase records and the newsletter log. Only
what is about this member: nobody else's address appears (an inviter or invitee is
counted, not named)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paywall.database.models import (
    Certificate,
    Conversion,
    Gift,
    LessonProgress,
    LoginToken,
    Member,
    NewsletterSend,
    Partner,
    PartnerMember,
    Referral,
    ReferralCode,
    ReferralReward,
    WebSession,
)
from paywall.members.audit import audit_lines
from paywall.members.entitlements import member_entitlements

FORMAT = "knowledge-pay.member-data/1"


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def member_data(db: Session, member: Member, now: dt.datetime) -> dict[str, Any]:
    """The member's data as JSON-able values."""
    mid = member.id
    code = db.scalar(select(ReferralCode.code).where(ReferralCode.member_id == mid))
    partner = db.scalar(
        select(Partner.name)
        .join(PartnerMember, PartnerMember.partner_id == Partner.id)
        .where(PartnerMember.member_id == mid)
    )
    invited = db.scalar(select(func.count()).where(Referral.referrer_id == mid)) or 0
    was_invited = db.scalar(select(Referral.confirmed_at).where(Referral.member_id == mid))
    return {
        "format": FORMAT,
        "exported_at": _iso(now),
        "account": {
            "email": member.email,
            "created_at": _iso(member.created_at),
            "confirmed_at": _iso(member.confirmed_at),
            "lang": member.lang,
            "newsletter": member.newsletter,
            "stripe_customer_id": member.stripe_customer_id,
            "signed_up_from": member.source,
            "flagged": member.flagged,
        },
        "access": [
            {
                "key": e.key,
                "source": e.source,
                "status": e.status,
                "valid_from": _iso(e.valid_from),
                "valid_until": _iso(e.valid_until),
                "stripe_object_id": e.stripe_object_id or None,
                "stripe_status": e.stripe_status,
                "note": e.note,
                "created_at": _iso(e.created_at),
                "updated_at": _iso(e.updated_at),
            }
            for e in member_entitlements(db, mid)
        ],
        "sessions": [
            {
                "created_at": _iso(s.created_at),
                "expires_at": _iso(s.expires_at),
                "last_seen_at": _iso(s.last_seen_at),
                "revoked_at": _iso(s.revoked_at),
            }
            for s in db.scalars(
                select(WebSession).where(WebSession.member_id == mid).order_by(WebSession.id)
            )
        ],
        "sign_in_links": [
            {
                "created_at": _iso(t.created_at),
                "expires_at": _iso(t.expires_at),
                "used_at": _iso(t.used_at),
                "from_page": t.source,
                "ref": t.ref,
            }
            for t in db.scalars(
                select(LoginToken).where(LoginToken.email == member.email).order_by(LoginToken.id)
            )
        ],
        "audit_trail": [
            {
                "at": _iso(line.at),
                "actor": line.actor,
                "action": line.action,
                "key": line.key,
                "source": line.source,
                "detail": line.detail,
            }
            for line in audit_lines(db, member_id=mid)
        ],
        "invites": {
            "code": code,
            "members_invited": int(invited),
            "joined_through_an_invite_at": _iso(was_invited),
            "rewards": [
                {"rule": r.rule_id, "key": r.key, "granted_at": _iso(r.granted_at)}
                for r in db.scalars(select(ReferralReward).where(ReferralReward.member_id == mid))
            ],
        },
        "partner": partner,
        "conversions": [
            {
                "kind": c.kind,
                "page": c.path,
                "ref": c.ref,
                "amount_total": c.amount_total,
                "currency": c.currency,
                "at": _iso(c.at),
            }
            for c in db.scalars(select(Conversion).where(Conversion.member_id == mid))
        ],
        "newsletter_sent": [
            {"article": n.article_url, "sent_at": _iso(n.sent_at)}
            for n in db.scalars(select(NewsletterSend).where(NewsletterSend.member_id == mid))
        ],
        "lessons_done": [
            {"course": p.course, "lesson": p.lesson_url, "done_at": _iso(p.done_at)}
            for p in db.scalars(select(LessonProgress).where(LessonProgress.member_id == mid))
        ],
        "certificates": [
            {
                "id": c.id,
                "course": c.course,
                "name": c.name,
                "issued_at": _iso(c.issued_at),
                "revoked_at": _iso(c.revoked_at),
            }
            for c in db.scalars(select(Certificate).where(Certificate.member_id == mid))
        ],
        "gifts_given": [
            _gift(g) for g in db.scalars(select(Gift).where(Gift.buyer_member_id == mid))
        ],
        "gifts_received": [
            _gift(g) for g in db.scalars(select(Gift).where(Gift.recipient_member_id == mid))
        ],
    }


def _gift(gift: Gift) -> dict[str, Any]:
    """A gift as its giver or recipient sees it (no link token, not even hashed)."""
    return {
        "key": gift.key,
        "months": gift.months,
        "recipient": gift.recipient_email,
        "message": gift.message,
        "state": gift.state,
        "created_at": _iso(gift.created_at),
        "sent_at": _iso(gift.sent_at),
        "redeemed_at": _iso(gift.redeemed_at),
        "ended_at": _iso(gift.ended_at),
    }
