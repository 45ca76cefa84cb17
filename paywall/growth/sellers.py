"""Member-sellers (the "diamond" member): a tier with `sellers: {commission_percent: 20}`
makes its members sellers. Their invite link (`/?ref=CODE`, the one every member has on
/account/) then also earns that commission on paid purchases it brings: a checkout that
carried their code, or one by a member who signed up through it. Self-serve: no admin step.

The partner machinery does the rest: a seller earns on a partner row of their own
(`Seller` → `Partner`, made the first time they earn; no Stripe code, `SELLER-<id>`), so the
ledger, subscription invoices, and refunds and disputes reversing commission work exactly
as for partners, and `kp partners report` lists them. A seller is a seller while they hold
one of those tiers: once it ends, new sales earn nothing (what they earned stays).
A partner's own code or link wins over a seller's link (`paywall.growth.hooks`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kp_contract.manifest import Manifest, Tier, tier_key
from paywall.billing import stripe_objects as so
from paywall.database.models import Member, Partner, Referral, Seller
from paywall.database.upsert import insert_if_absent
from paywall.growth.referrals import normalize_ref, referrer_for
from paywall.members.entitlements import is_entitled
from paywall.runtime.logs import get_logger, kv

log = get_logger("paywall.growth.sellers")

META_REF = "kp_ref"


def seller_code(member_id: int) -> str:
    """The seller's partner row's code: never a Stripe promotion code, never typed."""
    return f"SELLER-{member_id}"


def seller_tier(
    db: Session, manifest: Manifest | None, member: Member, now: dt.datetime
) -> Tier | None:
    """The seller tier `member` holds now with the best commission; None: not a seller."""
    if manifest is None:
        return None
    held = [
        tier
        for tier in manifest.tiers.values()
        if tier.seller_commission_bp and is_entitled(db, member, [tier_key(tier.name)], now)
    ]
    return max(held, key=lambda tier: tier.seller_commission_bp or 0) if held else None


def seller_commission_bp(
    db: Session, manifest: Manifest | None, member: Member, now: dt.datetime
) -> int | None:
    """The commission (basis points) `member` earns as a seller now, or None."""
    tier = seller_tier(db, manifest, member, now)
    return tier.seller_commission_bp if tier is not None else None


def seller_partner(db: Session, member: Member, commission_bp: int, now: dt.datetime) -> Partner:
    """The seller's partner row (made on first use, race-safe), at the current rate."""
    code = seller_code(member.id)
    insert_if_absent(
        db,
        Partner.__table__,
        {
            "name": f"seller #{member.id}",
            "ref_code": f"seller-{member.id}",
            "promotion_code": code,
            "promotion_code_id": f"seller:{member.id}",
            "coupon_id": "",
            "discount_bp": 0,
            "commission_bp": commission_bp,
            "active": True,
            "created_at": now,
        },
        ["promotion_code"],
    )
    partner = db.scalar(select(Partner).where(Partner.promotion_code == code))
    if partner is None:  # pragma: no cover - inserted or present a moment ago
        raise RuntimeError(f"seller partner row of member {member.id} vanished")
    insert_if_absent(
        db,
        Seller.__table__,
        {"member_id": member.id, "partner_id": partner.id, "created_at": now},
        ["member_id"],
    )
    if partner.commission_bp != commission_bp:  # the tier's rate changed, or another tier
        partner.commission_bp = commission_bp
    return partner


def seller_for_checkout(
    db: Session,
    manifest: Manifest | None,
    session: dict[str, Any],
    buyer: Member | None,
    now: dt.datetime,
) -> tuple[Partner, str] | None:
    """The seller a paid checkout earns for, and why (`seller_link`: it carried their
    invite code; `seller_member`: the buyer signed up through it), or None: no seller's
    link brought it, the seller is the buyer, or they are not a seller (any more)."""
    seller = referrer_for(db, normalize_ref(so.metadata(session).get(META_REF)))
    how = "seller_link"
    if seller is None and buyer is not None:
        seller = db.scalar(
            select(Member)
            .join(Referral, Referral.referrer_id == Member.id)
            .where(Referral.member_id == buyer.id)
        )
        how = "seller_member"
    if seller is None or seller.deleted_at is not None:
        return None
    if buyer is not None and seller.id == buyer.id:
        return None  # their own purchase through their own link
    rate = seller_commission_bp(db, manifest, seller, now)
    if rate is None:
        return None
    log.info(kv("seller.sale", seller=seller.id, how=how))
    return seller_partner(db, seller, rate, now), how


def seller_of(db: Session, member_id: int) -> Partner | None:
    """The member's seller partner row, if they ever earned as one."""
    return db.scalar(
        select(Partner)
        .join(Seller, Seller.partner_id == Partner.id)
        .where(Seller.member_id == member_id)
    )
