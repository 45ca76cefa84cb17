"""checkout.session.completed / async_payment_succeeded / async_payment_failed: grant
what was bought to the buyer (signed in, known customer, or the e-mail Checkout collected)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from paywall.billing import stripe_objects as so
from paywall.billing.bundles import granted_keys, known_bundle
from paywall.billing.event_context import (
    PAID_STATUSES,
    EventContext,
    PurchaseMail,
    apply_state,
    member_by_email,
    purchase_landing,
    valid_key,
)
from paywall.billing.gifts import META_GIFT, on_gift_checkout
from paywall.billing.on_reversal import prior_reversal
from paywall.billing.on_subscription import latest_stored_subscription, subscription_desired
from paywall.database.models import Member
from paywall.members.entitlements import Desired, active_keys
from paywall.members.records import find_member_by_customer, flag_member, link_stripe_customer
from paywall.members.sign_in import valid_intent_hash


def on_checkout_session(ctx: EventContext) -> str:
    """completed / async_payment_succeeded / async_payment_failed: grant what was bought."""
    session = ctx.obj
    key = _session_product(ctx, session)
    if key is None:
        return "ignored: the session sells nothing this site knows (no kp_product, no price match)"
    member = _session_buyer(ctx, session)
    if member is None:
        return "ignored: the session names no buyer (no member id, customer or e-mail)"
    link_stripe_customer(ctx.db, member, so.object_id(session.get("customer")))
    if so.metadata(session).get(META_GIFT):  # bought for someone else: the buyer gets none
        reversal = prior_reversal(ctx.db, so.object_id(session.get("payment_intent")))
        return f"member={member.id} {on_gift_checkout(ctx, session, member, reversal)}"
    if session.get("mode") == "subscription":
        outcome, became_active = _checkout_subscription(ctx, session, member, key)
    else:
        outcome, became_active = _checkout_payment(ctx, session, member, key)
    if not session.get("client_reference_id") and _announce(ctx, member, key, became_active):
        meta = so.metadata(session)
        landing = purchase_landing(ctx.manifest, key, meta.get(so.META_FROM))
        intent = valid_intent_hash(meta.get(so.META_INTENT))
        ctx.mails.append(PurchaseMail(member.email, landing, member.lang, intent))
    return f"member={member.id} {outcome}"


def _announce(ctx: EventContext, member: Member, key: str, became_active: bool) -> bool:
    """Whether an anonymous buyer gets the "purchase confirmed" sign-in mail now: when this
    event opened access, or when it is the session's paid event and access is open already
    (a subscription's own events may have arrived first). Each session has exactly one
    such event, so one mail; a replay only mails if it opened access."""
    if became_active:
        return True
    if ctx.replay or ctx.type == "checkout.session.async_payment_failed":
        return False
    if ctx.obj.get("payment_status") not in PAID_STATUSES:
        return False
    return bool(set(granted_keys(ctx.manifest, key)) & active_keys(ctx.db, member.id, ctx.now))


def _checkout_payment(
    ctx: EventContext, session: dict[str, Any], member: Member, key: str
) -> tuple[str, bool]:
    payment_intent = so.object_id(session.get("payment_intent"))
    object_id = payment_intent or str(session["id"])
    reversal = prior_reversal(ctx.db, payment_intent)
    if ctx.type == "checkout.session.async_payment_failed":
        desired = Desired(status="revoked", note="payment failed")
    elif session.get("payment_status") in PAID_STATUSES:
        desired = Desired(status="revoked", note=reversal) if reversal else Desired()
        if reversal and reversal.startswith("disputed"):
            flag_member(ctx.db, member, reversal, now=ctx.now, actor=ctx.actor)
    else:
        desired = Desired(status="pending", note="waiting for the payment to clear")
    if known_bundle(ctx.manifest, key):  # one purchase row per course, same payment
        desired = replace(desired, note=desired.note or key)
    outcomes, opened = [], False
    for granted in granted_keys(ctx.manifest, key):
        outcome, became_active = apply_state(
            ctx, member, granted, "purchase", object_id, desired, ctx.stamp, False
        )
        outcomes.append(outcome)
        opened = opened or became_active
    return "; ".join(outcomes), opened


def _checkout_subscription(
    ctx: EventContext, session: dict[str, Any], member: Member, key: str
) -> tuple[str, bool]:
    sub_id = so.object_id(session.get("subscription"))
    if sub_id is None:
        return "ignored: subscription session without a subscription id", False
    sub: dict[str, Any] | None
    if ctx.fresh.subscription is not None:
        sub, stamp, authoritative = ctx.fresh.subscription, ctx.stamp, True
    else:
        sub, stamp = latest_stored_subscription(ctx.db, sub_id)
        authoritative = False
    if sub is not None:
        desired = subscription_desired(sub, ctx.pw.settings.grace_days, ctx.now)
        return apply_state(ctx, member, key, "subscription", sub_id, desired, stamp, authoritative)
    # No subscription state known yet: paid checkout opens access; the subscription's own
    # events (stamp > 0) then set the real period end.
    if session.get("payment_status") in PAID_STATUSES:
        desired = Desired(note="awaiting subscription details")
    else:
        desired = Desired(status="pending", note="waiting for the first payment")
    return apply_state(ctx, member, key, "subscription", sub_id, desired, 0, False)


def _session_product(ctx: EventContext, session: dict[str, Any]) -> str | None:
    named = so.metadata(session).get(so.META_PRODUCT)
    key = valid_key(named) or known_bundle(ctx.manifest, named)
    if key is None and ctx.fresh.line_item_prices:
        key = so.product_for_prices(ctx.manifest, ctx.fresh.line_item_prices)
    return key


def _session_buyer(ctx: EventContext, session: dict[str, Any]) -> Member | None:
    """The signed-in buyer (client_reference_id), the customer's member, or the member with
    the e-mail Checkout collected (created if new)."""
    reference = session.get("client_reference_id") or so.metadata(session).get(so.META_MEMBER)
    if reference and str(reference).isdigit():
        member = ctx.db.get(Member, int(reference))
        if member is not None:
            return member
    member = find_member_by_customer(ctx.db, so.object_id(session.get("customer")))
    if member is not None:
        return member
    return member_by_email(ctx, so.session_email(session), so.metadata(session).get(so.META_LANG))
