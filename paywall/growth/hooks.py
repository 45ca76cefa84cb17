"""Where the growth engine hooks into the paywall's flows, in one place (`install` attaches
it to a `Paywall`'s hooks; `paywall.app.make_paywall` does so for every app and command):

- sign-in (`paywall.members.sign_in.consume_login_token`, hook `after_sign_in`): a first
  confirmation is a sign-up for the funnel, and counts as an invite (`?ref=` of a member)
  or links the member to a partner (`?ref=p-…`);
- the sign-in and checkout forms: `ref` (invite or partner code) and `via` (the article the
  reader came from, kept by growth.js) ride along, on the magic-link row and in the Checkout
  Session's metadata;
- Stripe events (`paywall.billing.fulfillment.dispatch`, hook `after_event`): a paid
  checkout is a purchase for the funnel and, when a partner brought it, a commission (a
  subscription's: on each paid invoice, see `paywall.growth.partner_subscriptions`); a
  refund or dispute reverses it.

All of it runs inside the caller's transaction, so a sign-in or an event is applied with its
growth bookkeeping or not at all, and unique keys make repeats harmless.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from paywall.billing import stripe_objects as so
from paywall.billing.event_context import PAID_STATUSES, EventContext
from paywall.database.models import LoginToken, Member
from paywall.growth.funnel import attribution_path, record_purchase, record_signup
from paywall.growth.partner_subscriptions import (
    attribute_subscription,
    invoice_payment_intent,
    on_invoice_paid,
)
from paywall.growth.partners import (
    link_member,
    partner_for_checkout,
    partner_for_ref,
    record_sale,
    reverse_payment,
)
from paywall.growth.referrals import count_invite, is_new_sign_up, normalize_ref
from paywall.growth.sellers import seller_for_checkout
from paywall.members.records import find_member, find_member_by_customer
from paywall.runtime.context import Paywall
from paywall.runtime.hooks import Hooks

META_REF = "kp_ref"
META_VIA = "kp_via"
CHECKOUT_PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
REVERSAL_EVENTS = ("charge.refunded", "charge.dispute.created")


def install(hooks: Hooks) -> None:
    """Attach the growth engine to sign-in and fulfilment (once per `Paywall`)."""
    if on_sign_in not in hooks.after_sign_in:
        hooks.after_sign_in.append(on_sign_in)
    if after_event not in hooks.after_event:
        hooks.after_event.append(after_event)


# ---------------------------------------------------------------- forms


def form_ref(fields: Any) -> str | None:
    """The invite/partner code a form carried (`ref`), if well-formed."""
    value = fields.get("ref")
    return normalize_ref(value) if isinstance(value, str) else None


def form_origin(fields: Any) -> str | None:
    """The page a conversion came from: the article growth.js remembered (`via`), else the
    page with the form (`from`)."""
    for name in ("via", "from"):
        value = fields.get(name)
        path = attribution_path(value) if isinstance(value, str) else None
        if path:
            return path
    return None


def checkout_metadata(fields: Any) -> dict[str, str]:
    """Extra Checkout Session metadata: the code and the article that brought the buyer."""
    meta = {}
    ref, via = form_ref(fields), form_origin(fields)
    if ref:
        meta[META_REF] = ref
    if via:
        meta[META_VIA] = via
    return meta


# ---------------------------------------------------------------- sign-in


def on_sign_in(
    pw: Paywall, db: Session, member: Member, token: LoginToken, was_confirmed: bool
) -> None:
    """After a magic link was used: a new sign-up is recorded for the funnel with the page
    it came from, and credited to the member or partner whose link brought it."""
    if not is_new_sign_up(member, token, was_confirmed):
        return
    now = pw.now()
    record_signup(db, member, token.source, token.ref, now)
    partner = partner_for_ref(db, token.ref)
    if partner is not None:
        link_member(db, member, partner, now)
        return
    count_invite(pw, db, member, token, was_confirmed)


# ---------------------------------------------------------------- Stripe events


def after_event(ctx: EventContext, outcome: str) -> str:
    """Growth bookkeeping of an event the fulfillment handler has just applied; returns the
    outcome text with what was booked appended."""
    if outcome.startswith("ignored"):
        return outcome  # nothing this site sells or knows: nothing to attribute either
    if ctx.type in CHECKOUT_PAID_EVENTS:
        extra = _paid_checkout(ctx)
    elif ctx.type == "invoice.paid":
        extra = _paid_invoice(ctx)
    elif ctx.type in REVERSAL_EVENTS:
        reversal = reverse_payment(ctx.db, ctx.obj, ctx.type, event_id=ctx.event["id"], at=ctx.now)
        extra = f"partner commission reversed ({reversal.commission})" if reversal else ""
    else:
        extra = ""
    return f"{outcome}; {extra}" if extra else outcome


def _paid_checkout(ctx: EventContext) -> str:
    session = ctx.obj
    if session.get("payment_status") not in PAID_STATUSES:
        return ""
    meta = so.metadata(session)
    member = _buyer(ctx.db, session)
    key = meta.get(so.META_PRODUCT) or ""
    record_purchase(
        ctx.db,
        str(session["id"]),
        member,
        meta.get(META_VIA) or meta.get(so.META_FROM),
        normalize_ref(meta.get(META_REF)),
        int(session.get("amount_total") or 0),
        session.get("currency"),
        ctx.now,
    )
    found = partner_for_checkout(ctx.db, session, member) or seller_for_checkout(
        ctx.db, ctx.manifest, session, member, ctx.now
    )
    if found is None:
        return ""
    partner, how = found
    sub_id = so.object_id(session.get("subscription"))
    if session.get("mode") == "subscription" and sub_id:
        booked = attribute_subscription(
            ctx.db,
            sub_id,
            partner,
            how,
            member,
            key,
            checkout_session_id=str(session["id"]),
            fresh_invoice=ctx.fresh.invoice,
            at=ctx.now,
        )
        total = sum(entry.commission for entry in booked)
        return f"partner {partner.name!r} subscription ({how}), {len(booked)} invoice(s) {total}"
    sale = record_sale(
        ctx.db, partner, how, session, member, key, event_id=str(ctx.event["id"]), at=ctx.now
    )
    return f"partner {partner.name!r} commission {sale.commission} ({how})" if sale else ""


def _paid_invoice(ctx: EventContext) -> str:
    payment_intent = invoice_payment_intent(ctx.obj) or invoice_payment_intent(ctx.fresh.invoice)
    sale = on_invoice_paid(
        ctx.db, ctx.obj, payment_intent, event_id=str(ctx.event["id"]), at=ctx.now
    )
    return f"partner commission {sale.commission} (invoice {sale.invoice_id})" if sale else ""


def _buyer(db: Session, session: dict[str, Any]) -> Member | None:
    """The member the fulfillment handler granted to (it has linked or created them)."""
    reference = session.get("client_reference_id") or so.metadata(session).get(so.META_MEMBER)
    if reference and str(reference).isdigit():
        member = db.get(Member, int(reference))
        if member is not None:
            return member
    member = find_member_by_customer(db, so.object_id(session.get("customer")))
    email = so.session_email(session)
    return member or (find_member(db, email) if email else None)
