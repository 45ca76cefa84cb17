"""customer.subscription.* and invoice.paid / invoice.payment_failed: access follows the
subscription's status and paid period (re-read from Stripe when possible, else the payload
ordered by Stripe's timestamps)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from paywall.billing import stripe_objects as so
from paywall.billing.event_context import (
    SUBSCRIPTION_EVENTS,
    EventContext,
    apply_state,
    member_by_email,
    valid_key,
)
from paywall.database.models import Member, StripeEvent
from paywall.members.entitlements import (
    CANCELS_AT_PERIOD_END,
    STATUS_PRECEDENCE,
    Desired,
    by_stripe_object,
)
from paywall.members.records import find_member_by_customer, link_stripe_customer


def on_subscription(ctx: EventContext) -> str:
    """customer.subscription.*: access follows the subscription's status and period."""
    authoritative = ctx.fresh.subscription is not None
    sub = ctx.fresh.subscription or ctx.obj
    return apply_subscription(ctx, sub, authoritative)


def on_invoice(ctx: EventContext) -> str:
    """invoice.paid / invoice.payment_failed: the subscription's period or status moved."""
    sub_id = so.invoice_subscription_id(ctx.obj)
    if sub_id is None:
        return "ignored: the invoice is not for a subscription"
    if ctx.fresh.subscription is not None:
        return apply_subscription(ctx, ctx.fresh.subscription, True)
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
        outcome, _ = apply_state(
            ctx, row.member, row.key, "subscription", sub_id, desired, ctx.stamp
        )
        changed.append(outcome)
    return "; ".join(changed) or f"recorded: {sub_id} is not active here"


def apply_subscription(ctx: EventContext, sub: dict[str, Any], authoritative: bool) -> str:
    sub_id = str(sub["id"])
    member = _subscription_member(ctx, sub)
    if member is None:
        return (
            f"deferred: customer of {sub_id} is not linked to a member yet; its checkout "
            "session event applies this state"
        )
    key = valid_key(so.metadata(sub).get(so.META_PRODUCT)) or so.product_for_prices(
        ctx.manifest, so.subscription_prices(sub)
    )
    if key is None:
        return f"ignored: {sub_id} sells nothing this site knows (no kp_product, no price match)"
    link_stripe_customer(ctx.db, member, so.object_id(sub.get("customer")))
    desired = subscription_desired(sub, ctx.pw.settings.grace_days, ctx.now)
    outcome, _ = apply_state(
        ctx, member, key, "subscription", sub_id, desired, ctx.stamp, authoritative
    )
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
    return member_by_email(ctx, ctx.fresh.customer_email, so.metadata(sub).get(so.META_LANG))


def subscription_desired(sub: dict[str, Any], grace_days: int, now: dt.datetime) -> Desired:
    """Entitlement state for a subscription state: paid periods grant until their end
    (+ grace when past_due); ended subscriptions expire; incomplete ones wait."""
    status = str(sub.get("status") or "")
    period_end = so.subscription_period_end(sub)
    started = so.timestamp(sub.get("start_date")) or so.timestamp(sub.get("created"))
    if started is not None and started > now:
        started = now  # Stripe's clock may run ahead of ours: never start access later
    cancel_note = CANCELS_AT_PERIOD_END if sub.get("cancel_at_period_end") else ""
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


def latest_stored_subscription(db: Session, sub_id: str) -> tuple[dict[str, Any] | None, int]:
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
