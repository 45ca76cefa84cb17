"""Partner commissions on subscriptions: every paid invoice earns the partner's commission.

Booking point: the invoice. Each paid invoice of a partner's subscription — the first one
(paid through Checkout) and every renewal — is booked once, keyed by its invoice id, at
`invoice.paid`, on `amount_paid` (after discount). The subscription's Checkout Session books
no sale of its own: it only records who brought the subscription (`partner_subscriptions`:
promotion code, link or the buyer's partner sign-up) and books the invoices already paid.
So the first invoice is counted once, whichever of the two events comes first.

Order and concurrency: `invoice.paid` writes a placeholder attribution row (no partner) when
it finds none; the checkout fills it in. Both write the same primary key, so the database
serializes them (PostgreSQL's `ON CONFLICT` waits for the other transaction), and whichever
commits second sees the other's work: an invoice paid before its checkout is booked by the
checkout from the stored event. Duplicates hit the unique (invoice, kind, refunded) key.

Refunds: a sale row keeps the invoice's payment intent (from the payload on older API
versions, else read from Stripe with `expand[]=payments`), so `charge.refunded` finds it like
a one-time sale (`paywall.growth.partners.reverse_payment`); a refund stored before the invoice was
booked is applied at booking. Older API versions' `charge.invoice` is the fallback link.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from paywall.billing import stripe_objects as so
from paywall.database.models import Member, Partner, PartnerLedger, PartnerSubscription, StripeEvent
from paywall.database.upsert import insert_if_absent
from paywall.growth.partners import apply_earlier_reversals, commission_on
from paywall.runtime.logs import get_logger, kv

log = get_logger("paywall.growth.partner_subscriptions")


def invoice_payment_intent(invoice: dict[str, Any] | None) -> str | None:
    """The PaymentIntent that paid an invoice: `payment_intent` (API versions before
    2025-03-31) or the default entry of the expanded `payments` list (newer versions)."""
    if not isinstance(invoice, dict):
        return None
    direct = so.object_id(invoice.get("payment_intent"))
    if direct:
        return direct
    payments = invoice.get("payments")
    entries = payments.get("data") if isinstance(payments, dict) else None
    for entry in entries or []:
        payment = entry.get("payment") if isinstance(entry, dict) else None
        if isinstance(payment, dict) and so.object_id(payment.get("payment_intent")):
            return so.object_id(payment.get("payment_intent"))
    return None


def attribute_subscription(
    db: Session,
    sub_id: str,
    partner: Partner,
    how: str,
    member: Member | None,
    product_key: str,
    *,
    checkout_session_id: str,
    fresh_invoice: dict[str, Any] | None,
    at: dt.datetime,
) -> list[PartnerLedger]:
    """Record who brought the subscription (first attribution wins), then book its invoices
    that were paid before this checkout event. Returns the entries booked now."""
    values = {
        "subscription_id": sub_id,
        "partner_id": partner.id,
        "attribution": how,
        "member_id": member.id if member else None,
        "product_key": product_key,
        "checkout_session_id": checkout_session_id,
        "at": at,
    }
    if not insert_if_absent(db, PartnerSubscription.__table__, values, ["subscription_id"]):
        db.execute(
            update(PartnerSubscription)
            .where(
                PartnerSubscription.subscription_id == sub_id,
                PartnerSubscription.partner_id.is_(None),
            )
            .values(**{k: v for k, v in values.items() if k != "subscription_id"})
        )
    link = db.get(PartnerSubscription, sub_id, populate_existing=True)
    if link is None or link.partner_id is None:  # pragma: no cover - written just above
        return []
    booked = []
    for row in _stored_paid_invoices(db, sub_id):
        invoice = row.payload["data"]["object"]
        known = fresh_invoice if (fresh_invoice or {}).get("id") == invoice.get("id") else None
        payment_intent = invoice_payment_intent(invoice) or invoice_payment_intent(known)
        entry = book_invoice(db, link, invoice, payment_intent, event_id=row.id, at=at)
        if entry is not None:
            booked.append(entry)
    return booked


def on_invoice_paid(
    db: Session,
    invoice: dict[str, Any],
    payment_intent: str | None,
    *,
    event_id: str,
    at: dt.datetime,
) -> PartnerLedger | None:
    """Book a paid invoice of a partner's subscription; None when the subscription is not
    (or not yet known to be) a partner's, or the invoice is booked already."""
    sub_id = so.invoice_subscription_id(invoice)
    if sub_id is None:
        return None
    insert_if_absent(
        db,
        PartnerSubscription.__table__,
        {"subscription_id": sub_id, "partner_id": None, "attribution": "", "at": at},
        ["subscription_id"],
    )
    link = db.get(PartnerSubscription, sub_id, populate_existing=True)
    if link is None or link.partner_id is None:
        return None  # the checkout, when it names a partner, books this invoice
    return book_invoice(db, link, invoice, payment_intent, event_id=event_id, at=at)


def book_invoice(
    db: Session,
    link: PartnerSubscription,
    invoice: dict[str, Any],
    payment_intent: str | None,
    *,
    event_id: str,
    at: dt.datetime,
) -> PartnerLedger | None:
    """One sale entry per paid invoice (keyed by its id), then any refund of its payment
    that arrived first. Nothing for an invoice that collected nothing (100 % off)."""
    paid = invoice.get("amount_paid")
    if not isinstance(paid, int) or paid <= 0 or link.partner_id is None:
        return None
    partner = db.get(Partner, link.partner_id)
    if partner is None:  # pragma: no cover - the foreign key cascades
        return None
    subtotal = invoice.get("subtotal")
    subtotal = subtotal if isinstance(subtotal, int) and subtotal >= paid else paid
    discount = sum(
        int(d.get("amount") or 0)
        for d in invoice.get("total_discount_amounts") or []
        if isinstance(d, dict)
    )
    inserted = insert_if_absent(
        db,
        PartnerLedger.__table__,
        {
            "partner_id": partner.id,
            "kind": "sale",
            "attribution": link.attribution,
            "checkout_session_id": None,
            "invoice_id": str(invoice["id"]),
            "subscription_id": link.subscription_id,
            "payment_intent": payment_intent,
            "member_id": link.member_id,
            "product_key": link.product_key,
            "currency": str(invoice.get("currency") or "usd").lower(),
            "amount_subtotal": subtotal,
            "amount_discount": discount or subtotal - paid,
            "amount_total": paid,
            "commission": commission_on(paid, partner.commission_bp),
            "refunded_total": 0,
            "event_id": event_id,
            "at": at,
        },
        ["invoice_id", "kind", "refunded_total"],
    )
    if not inserted:
        return None
    sale = db.scalar(
        select(PartnerLedger).where(
            PartnerLedger.invoice_id == str(invoice["id"]), PartnerLedger.kind == "sale"
        )
    )
    log.info(kv("partner.invoice", partner=partner.id, invoice=invoice["id"]))
    if sale is not None:
        apply_earlier_reversals(db, sale, at)
    return sale


def _stored_paid_invoices(db: Session, sub_id: str) -> list[StripeEvent]:
    """`invoice.paid` events of the subscription received so far (Stripe's order)."""
    rows = db.scalars(
        select(StripeEvent)
        .where(StripeEvent.related_id == sub_id, StripeEvent.type == "invoice.paid")
        .order_by(StripeEvent.created, StripeEvent.id)
    ).all()
    return [row for row in rows if not (row.outcome or "").startswith("ignored")]
