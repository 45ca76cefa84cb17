"""charge.refunded and charge.dispute.created: take back what a reversed payment bought.

Either may arrive before the purchase it reverses; `prior_reversal` lets the late checkout
event see it (the event rows are stored with the payment intent as `related_id`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from paywall.billing import stripe_objects as so
from paywall.billing.event_context import EventContext, NotYetApplicable
from paywall.billing.gifts import reverse_gift
from paywall.database.models import Entitlement, Member, StripeEvent
from paywall.members.entitlements import by_stripe_object, revoke_all
from paywall.members.records import find_member, find_member_by_customer, flag_member


def on_charge_refunded(ctx: EventContext) -> str:
    """A full refund revokes the one-time purchase it paid for; partial refunds keep it."""
    charge = ctx.obj
    payment_intent = so.object_id(charge.get("payment_intent"))
    if not _fully_refunded(charge):
        return f"recorded: partial refund of {charge.get('id')}; access kept"
    gift = reverse_gift(ctx, payment_intent, f"refunded {charge['id']}")
    if gift is not None:
        return f"gift {gift.id} of {payment_intent} {gift.state}: link ended, access revoked"
    rows = _purchases_for(ctx.db, payment_intent)
    if not rows:
        return f"recorded: no purchase for {payment_intent} yet; a late checkout event sees this"
    count = revoke_all(
        ctx.db, rows, now=ctx.now, actor=ctx.actor, reason=f"refunded {charge['id']}"
    )
    return f"revoked {count} purchase(s) of {payment_intent}: refunded"


def on_dispute_created(ctx: EventContext) -> str:
    """Revoke what the disputed payment bought and flag the member for the admin."""
    dispute = ctx.obj
    payment_intent = so.object_id(dispute.get("payment_intent"))
    reason = f"disputed {dispute.get('id')} ({dispute.get('reason') or 'no reason given'})"
    gift = reverse_gift(ctx, payment_intent, reason)
    if gift is not None:  # the gift's buyer disputed, not its recipient
        buyer = ctx.db.get(Member, gift.buyer_member_id) if gift.buyer_member_id else None
        if buyer is not None:
            flag_member(ctx.db, buyer, reason, now=ctx.now, actor=ctx.actor)
        return f"member={gift.buyer_member_id} flagged, gift {gift.id} {gift.state}: {reason}"
    rows = _purchases_for(ctx.db, payment_intent)
    member = rows[0].member if rows else _dispute_member(ctx)
    if member is None:
        if _sells_to_customer(ctx):
            raise NotYetApplicable(
                f"dispute {dispute.get('id')}: the customer's subscription is not known here yet"
            )
        return f"recorded: no member for {payment_intent} yet; a late checkout event sees this"
    if not rows:
        # A disputed renewal: the payment bought the member's subscription access.
        rows = [
            r
            for r in member.entitlements
            if r.source == "subscription" and r.status in ("active", "pending")
        ]
    count = revoke_all(ctx.db, rows, now=ctx.now, actor=ctx.actor, reason=reason)
    flag_member(ctx.db, member, reason, now=ctx.now, actor=ctx.actor)
    return f"member={member.id} flagged, revoked {count}: {reason}"


def _sells_to_customer(ctx: EventContext) -> bool:
    """Whether Stripe shows the disputed charge's customer holding a subscription to
    something this site sells: then its checkout event is on its way (a one-time purchase's
    late checkout finds the dispute itself, `prior_reversal`)."""
    for sub in ctx.fresh.customer_subscriptions or []:
        named = so.metadata(sub).get(so.META_PRODUCT)
        if named or so.product_for_prices(ctx.manifest, so.subscription_prices(sub)):
            return True
    return False


def _dispute_member(ctx: EventContext) -> Member | None:
    charge = ctx.fresh.charge or {}
    member = find_member_by_customer(ctx.db, so.object_id(charge.get("customer")))
    if member is not None:
        return member
    billing = charge.get("billing_details") or {}
    email = (billing.get("email") if isinstance(billing, dict) else None) or charge.get(
        "receipt_email"
    )
    return find_member(ctx.db, str(email)) if email else None


def _purchases_for(db: Session, payment_intent: str | None) -> list[Entitlement]:
    if not payment_intent:
        return []
    return [r for r in by_stripe_object(db, payment_intent) if r.source == "purchase"]


def _fully_refunded(charge: dict[str, Any]) -> bool:
    if charge.get("refunded") is True:
        return True
    amount, refunded = charge.get("amount"), charge.get("amount_refunded")
    return isinstance(amount, int) and isinstance(refunded, int) and 0 < amount <= refunded


def prior_reversal(db: Session, payment_intent: str | None) -> str | None:
    """A refund or dispute of this payment that arrived before its checkout event."""
    if not payment_intent:
        return None
    rows = db.scalars(
        select(StripeEvent).where(
            StripeEvent.related_id == payment_intent,
            StripeEvent.type.in_(("charge.refunded", "charge.dispute.created")),
        )
    ).all()
    for row in sorted(rows, key=lambda r: r.created):
        obj = row.payload["data"]["object"]
        if row.type == "charge.dispute.created":
            return f"disputed {obj.get('id')} ({obj.get('reason') or 'no reason given'})"
        if _fully_refunded(obj):
            return f"refunded {obj.get('id')}"
    return None
