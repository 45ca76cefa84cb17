"""What each Stripe event does to members and entitlements.

Handlers run inside the webhook's database transaction (see `paywall.webhooks`), after the
event row was inserted, and return the outcome text stored with the event. They never call
Stripe themselves: whatever fresh state is needed was fetched beforehand (`Fresh`), so no
network wait happens while the transaction holds locks. Without a fresh read they fall back
to the event payload, ordered by Stripe's own timestamps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kp.manifest import Manifest
from paywall import stripe_objects as so
from paywall.context import Paywall
from paywall.entitlements import (
    STATUS_PRECEDENCE,
    Desired,
    InvalidKey,
    active_keys,
    by_stripe_object,
    revoke_all,
    set_state,
    validate_key,
)
from paywall.members import (
    InvalidEmail,
    find_member,
    find_member_by_customer,
    flag_member,
    get_or_create_member,
    link_stripe_customer,
)
from paywall.models import Entitlement, Member, StripeEvent

PAID_STATUSES = ("paid", "no_payment_required")
SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
)


@dataclass
class Fresh:
    """Stripe's current view, read just before the transaction (None: not needed or
    Stripe unreachable, in which case the handler uses the event payload)."""

    subscription: dict[str, Any] | None = None
    customer_email: str | None = None
    line_item_prices: list[tuple[str | None, str | None]] | None = None
    charge: dict[str, Any] | None = None


@dataclass(frozen=True)
class PurchaseMail:
    """A "purchase confirmed" magic-link e-mail to send once the grant is committed."""

    email: str
    next_url: str
    lang: str


@dataclass
class EventContext:
    pw: Paywall
    db: Session
    event: dict[str, Any]
    fresh: Fresh
    now: dt.datetime
    actor: str
    replay: bool = False
    mails: list[PurchaseMail] = field(default_factory=list)

    @property
    def obj(self) -> dict[str, Any]:
        return self.event["data"]["object"]

    @property
    def type(self) -> str:
        return str(self.event["type"])

    @property
    def stamp(self) -> int:
        return int(self.event["created"])

    @property
    def manifest(self) -> Manifest | None:
        return self.pw.manifest()


Handler = Callable[[EventContext], str]


def dispatch(ctx: EventContext) -> str:
    """Run the handler for the event type; unknown types are recorded and ignored."""
    handler = HANDLERS.get(ctx.type)
    if handler is None:
        return f"ignored: {ctx.type} is not an event this site acts on"
    return handler(ctx)


# ---------------------------------------------------------------- checkout sessions


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
    if session.get("mode") == "subscription":
        outcome, became_active = _checkout_subscription(ctx, session, member, key)
    else:
        outcome, became_active = _checkout_payment(ctx, session, member, key)
    if not session.get("client_reference_id") and _announce(ctx, member, key, became_active):
        ctx.mails.append(PurchaseMail(member.email, landing_url(ctx.manifest, key), member.lang))
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
    return key in active_keys(ctx.db, member.id, ctx.now)


def _checkout_payment(
    ctx: EventContext, session: dict[str, Any], member: Member, key: str
) -> tuple[str, bool]:
    payment_intent = so.object_id(session.get("payment_intent"))
    object_id = payment_intent or str(session["id"])
    reversal = _prior_reversal(ctx.db, payment_intent)
    if ctx.type == "checkout.session.async_payment_failed":
        desired = Desired(status="revoked", note="payment failed")
    elif session.get("payment_status") in PAID_STATUSES:
        desired = Desired(status="revoked", note=reversal) if reversal else Desired()
        if reversal and reversal.startswith("disputed"):
            flag_member(ctx.db, member, reversal, now=ctx.now, actor=ctx.actor)
    else:
        desired = Desired(status="pending", note="waiting for the payment to clear")
    return _apply(ctx, member, key, "purchase", object_id, desired, ctx.stamp, False)


def _checkout_subscription(
    ctx: EventContext, session: dict[str, Any], member: Member, key: str
) -> tuple[str, bool]:
    sub_id = so.object_id(session.get("subscription"))
    if sub_id is None:
        return "ignored: subscription session without a subscription id", False
    if ctx.fresh.subscription is not None:
        sub, stamp, authoritative = ctx.fresh.subscription, ctx.stamp, True
    else:
        sub, stamp = _latest_stored_subscription(ctx.db, sub_id)
        authoritative = False
    if sub is not None:
        desired = subscription_desired(sub, ctx.pw.settings.grace_days, ctx.now)
        return _apply(ctx, member, key, "subscription", sub_id, desired, stamp, authoritative)
    # No subscription state known yet: paid checkout opens access; the subscription's own
    # events (stamp > 0) then set the real period end.
    if session.get("payment_status") in PAID_STATUSES:
        desired = Desired(note="awaiting subscription details")
    else:
        desired = Desired(status="pending", note="waiting for the first payment")
    return _apply(ctx, member, key, "subscription", sub_id, desired, 0, False)


def _session_product(ctx: EventContext, session: dict[str, Any]) -> str | None:
    key = _valid_key(so.metadata(session).get(so.META_PRODUCT))
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
    return _member_by_email(ctx, so.session_email(session))


# ---------------------------------------------------------------- subscriptions


def on_subscription(ctx: EventContext) -> str:
    """customer.subscription.*: access follows the subscription's status and period."""
    authoritative = ctx.fresh.subscription is not None
    sub = ctx.fresh.subscription or ctx.obj
    return _apply_subscription(ctx, sub, authoritative)


def on_invoice(ctx: EventContext) -> str:
    """invoice.paid / invoice.payment_failed: the subscription's period or status moved."""
    sub_id = so.invoice_subscription_id(ctx.obj)
    if sub_id is None:
        return "ignored: the invoice is not for a subscription"
    if ctx.fresh.subscription is not None:
        return _apply_subscription(ctx, ctx.fresh.subscription, True)
    if ctx.type == "invoice.payment_failed":
        return "recorded: access follows customer.subscription.updated (past_due grace period)"
    period_end = so.invoice_period_end(ctx.obj)
    rows = [r for r in by_stripe_object(ctx.db, sub_id) if r.source == "subscription"]
    if not rows or period_end is None:
        return f"recorded: no entitlement for {sub_id} yet or no period on the invoice"
    changed = []
    for row in rows:
        if row.status not in ("active", "pending"):
            continue
        until = max(period_end, row.valid_until) if row.valid_until else period_end
        desired = Desired(valid_until=until, stripe_status="active")
        outcome, _ = _apply(ctx, row.member, row.key, "subscription", sub_id, desired, ctx.stamp)
        changed.append(outcome)
    return "; ".join(changed) or f"recorded: {sub_id} is not active here"


def _apply_subscription(ctx: EventContext, sub: dict[str, Any], authoritative: bool) -> str:
    sub_id = str(sub["id"])
    member = _subscription_member(ctx, sub)
    if member is None:
        return (
            f"deferred: customer of {sub_id} is not linked to a member yet; its checkout "
            "session event applies this state"
        )
    key = _valid_key(so.metadata(sub).get(so.META_PRODUCT)) or so.product_for_prices(
        ctx.manifest, so.subscription_prices(sub)
    )
    if key is None:
        return f"ignored: {sub_id} sells nothing this site knows (no kp_product, no price match)"
    link_stripe_customer(ctx.db, member, so.object_id(sub.get("customer")))
    desired = subscription_desired(sub, ctx.pw.settings.grace_days, ctx.now)
    outcome, _ = _apply(ctx, member, key, "subscription", sub_id, desired, ctx.stamp, authoritative)
    return f"member={member.id} {outcome}"


def _subscription_member(ctx: EventContext, sub: dict[str, Any]) -> Member | None:
    member = find_member_by_customer(ctx.db, so.object_id(sub.get("customer")))
    if member is not None:
        return member
    reference = so.metadata(sub).get(so.META_MEMBER)
    if reference and reference.isdigit():
        member = ctx.db.get(Member, int(reference))
        if member is not None:
            return member
    return _member_by_email(ctx, ctx.fresh.customer_email)


def subscription_desired(sub: dict[str, Any], grace_days: int, now: dt.datetime) -> Desired:
    """Entitlement state for a subscription state: paid periods grant until their end
    (+ grace when past_due); ended subscriptions expire; incomplete ones wait."""
    status = str(sub.get("status") or "")
    period_end = so.subscription_period_end(sub)
    started = so.timestamp(sub.get("start_date")) or so.timestamp(sub.get("created"))
    if started is not None and started > now:
        started = now  # Stripe's clock may run ahead of ours: never start access later
    cancel_note = "cancels at period end" if sub.get("cancel_at_period_end") else ""
    if status in so.SUB_GRANTING:
        return Desired("active", started, period_end, status, cancel_note)
    if status in so.SUB_GRACE:
        # Stripe moves the period forward when it bills the renewal, paid or not: the grace
        # runs from the start of the unpaid period, not from its end a month later.
        unpaid_since = so.subscription_period_start(sub) or period_end
        grace_end = unpaid_since + dt.timedelta(days=grace_days) if unpaid_since else None
        return Desired("active", started, grace_end, status, f"past due, {grace_days}d grace")
    if status in so.SUB_PENDING:
        return Desired("pending", started, period_end, status, "waiting for the first payment")
    ended = so.timestamp(sub.get("ended_at")) or so.timestamp(sub.get("canceled_at")) or now
    return Desired("expired", started, ended, status or "unknown", f"subscription {status}")


def _latest_stored_subscription(db: Session, sub_id: str) -> tuple[dict[str, Any] | None, int]:
    """The newest subscription state among events already received for `sub_id` (they may
    have arrived before the checkout session that tells us who the member is)."""
    rows = db.scalars(
        select(StripeEvent).where(
            StripeEvent.related_id == sub_id, StripeEvent.type.in_(SUBSCRIPTION_EVENTS)
        )
    ).all()
    if not rows:
        return None, 0

    def order(row: StripeEvent) -> tuple[int, int]:
        state = subscription_desired(row.payload["data"]["object"], 0, row.received_at).status
        return (row.created, STATUS_PRECEDENCE[state])

    latest = max(rows, key=order)
    return latest.payload["data"]["object"], latest.created


# ---------------------------------------------------------------- refunds and disputes


def on_charge_refunded(ctx: EventContext) -> str:
    """A full refund revokes the one-time purchase it paid for; partial refunds keep it."""
    charge = ctx.obj
    payment_intent = so.object_id(charge.get("payment_intent"))
    if not _fully_refunded(charge):
        return f"recorded: partial refund of {charge.get('id')}; access kept"
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
    rows = _purchases_for(ctx.db, payment_intent)
    member = rows[0].member if rows else _dispute_member(ctx)
    if member is None:
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


def _prior_reversal(db: Session, payment_intent: str | None) -> str | None:
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


# ---------------------------------------------------------------- shared


def _apply(
    ctx: EventContext,
    member: Member,
    key: str,
    source: str,
    object_id: str,
    desired: Desired,
    stamp: int,
    authoritative: bool = False,
) -> tuple[str, bool]:
    """set_state plus a one-line outcome; True when access was opened by this event."""
    before = ctx.db.scalar(
        select(Entitlement.status).where(
            Entitlement.member_id == member.id,
            Entitlement.key == key,
            Entitlement.source == source,
            Entitlement.stripe_object_id == object_id,
        )
    )
    row = set_state(
        ctx.db,
        member,
        key,
        source,
        desired,
        now=ctx.now,
        actor=ctx.actor,
        stripe_object_id=object_id,
        stamp=stamp,
        authoritative=authoritative,
    )
    if row is None:
        return f"{key} kept ({object_id} already has a newer state than {desired.status})", False
    until = row.valid_until.isoformat() if row.valid_until else "open"
    became_active = row.status == "active" and before != "active"
    return f"{key} {row.status} until {until} ({object_id})", became_active


def _member_by_email(ctx: EventContext, email: str | None) -> Member | None:
    if not email:
        return None
    try:
        return get_or_create_member(ctx.db, email, now=ctx.now, source="stripe checkout")
    except InvalidEmail:
        return None


def _valid_key(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return validate_key(value)
    except InvalidKey:
        return None


def landing_url(manifest: Manifest | None, key: str) -> str:
    """Where the purchase e-mail's sign-in link lands: the course, or the first course of
    the tier, or the account page."""
    if manifest is not None:
        kind, _, name = key.partition(":")
        if kind == "course" and name in manifest.courses:
            return manifest.courses[name].url
        if kind == "tier" and name in manifest.tiers and manifest.tiers[name].courses:
            first = manifest.tiers[name].courses[0]
            if first in manifest.courses:
                return manifest.courses[first].url
    return "/account/"


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": on_checkout_session,
    "checkout.session.async_payment_succeeded": on_checkout_session,
    "checkout.session.async_payment_failed": on_checkout_session,
    **{name: on_subscription for name in SUBSCRIPTION_EVENTS},
    "invoice.paid": on_invoice,
    "invoice.payment_failed": on_invoice,
    "charge.refunded": on_charge_refunded,
    "charge.dispute.created": on_dispute_created,
}
