"""Stripe webhooks: verify, record once, apply, all-or-nothing.

1. The raw body and `Stripe-Signature` are verified with `stripe.Webhook.construct_event`
   (tolerance 300 s); anything else is rejected before touching the database.
2. Whatever fresh state the event needs is read from Stripe first (the subscription, the
   customer's e-mail, line items), outside any database transaction.
3. One transaction inserts the event row (its primary key is Stripe's event id, inserted
   with ON CONFLICT DO NOTHING, so a duplicate, even a concurrent one, finds the row and
   stops) and applies the event. Any failure rolls both back: the endpoint answers 5xx and
   Stripe's retry processes the event from scratch.
4. After the commit, "purchase confirmed" e-mails are sent (a mail failure cannot undo a
   grant, and a retried event never mails twice).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import stripe
from sqlalchemy import select, update

from paywall.billing import stripe_objects as so
from paywall.billing.event_context import SUBSCRIPTION_EVENTS, EventContext, Fresh, PurchaseMail
from paywall.billing.fulfillment import dispatch
from paywall.database.models import StripeEvent
from paywall.database.upsert import insert_if_absent
from paywall.members.records import find_member_by_customer
from paywall.runtime.context import Paywall, StripeNotConfigured
from paywall.runtime.logs import get_logger, kv, mask_email

log = get_logger("paywall.billing.webhooks")

TOLERANCE_SECONDS = 300
MAX_PAYLOAD_BYTES = 1024 * 1024


class InvalidWebhook(ValueError):
    """Not a genuine, well-formed Stripe event: answered with 400 and never stored."""


class WebhookNotConfigured(RuntimeError):
    """No `STRIPE_WEBHOOK_SECRET`: nothing can be verified, so nothing is accepted."""


@dataclass(frozen=True)
class Processed:
    """What happened to one delivery: `processed`, or `duplicate` (seen before)."""

    status: str
    event_id: str
    type: str
    outcome: str


def verify_event(pw: Paywall, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event as a plain dict, if `payload` is signed by our endpoint secret within the
    tolerance and has the shape of a Stripe event; otherwise `InvalidWebhook` saying why."""
    secret = pw.settings.stripe_webhook_secret
    if secret is None:
        raise WebhookNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidWebhook(f"payload larger than {MAX_PAYLOAD_BYTES} bytes")
    if not signature:
        raise InvalidWebhook("missing Stripe-Signature header")
    try:
        stripe.Webhook.construct_event(
            payload, signature, secret.get_secret_value(), tolerance=TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook(f"signature check failed ({_first_line(exc)})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidWebhook(f"payload is not JSON: {_first_line(exc)}") from None
    return _event_shape(json.loads(payload))


def _event_shape(event: Any) -> dict[str, Any]:
    """Check the fields processing relies on, naming the first one missing."""
    if not isinstance(event, dict):
        raise InvalidWebhook("payload is not a JSON object")
    for name, kind in (("id", str), ("type", str), ("created", int)):
        if not isinstance(event.get(name), kind) or isinstance(event.get(name), bool):
            raise InvalidWebhook(f"event field {name!r} missing or not a {kind.__name__}")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidWebhook("event field 'data.object' missing or not an object")
    return event


def handle_webhook(pw: Paywall, payload: bytes, signature: str | None) -> Processed:
    """Verify and process one delivery (what `POST /api/stripe/webhook` runs)."""
    return process_event(pw, verify_event(pw, payload, signature))


def process_event(pw: Paywall, event: dict[str, Any], *, replay: bool = False) -> Processed:
    """Apply an event exactly once (or again, with `replay`, from `kp events replay`).

    Raises whatever the database raised (the caller answers 5xx); nothing is kept then.
    """
    event_id, event_type = str(event["id"]), str(event["type"])
    if not replay and _already_recorded(pw, event_id):
        return _duplicate(event_id, event_type)
    fresh = fetch_fresh(pw, event)
    actor = f"{'replay' if replay else 'webhook'}:{event_id}"
    with pw.sessions.begin() as db:
        now = pw.now()
        obj = event["data"]["object"]
        recorded = insert_if_absent(
            db,
            StripeEvent.__table__,
            {
                "id": event_id,
                "type": event_type,
                "created": int(event["created"]),
                "object_id": str(obj.get("id") or ""),
                "related_id": so.related_id(event_type, obj),
                "received_at": now,
                "processed_at": None,
                "payload": event,
                "outcome": "",
            },
            ["id"],
        )
        if not recorded and not replay:
            return _duplicate(event_id, event_type)
        ctx = EventContext(
            pw=pw, db=db, event=event, fresh=fresh, now=now, actor=actor, replay=replay
        )
        outcome = dispatch(ctx)
        db.execute(
            update(StripeEvent)
            .where(StripeEvent.id == event_id)
            .values(processed_at=now, outcome=outcome[:4000])
        )
    log.info(kv("webhook.processed", event_id=event_id, type=event_type, outcome=outcome))
    _send_purchase_mails(pw, ctx.mails)
    return Processed("processed", event_id, event_type, outcome)


def replay_event(pw: Paywall, event_id: str) -> Processed:
    """Process an event again: the stored payload, or (never received) fetched from Stripe.
    Idempotent: entitlement updates are keyed and ordered, so a replay changes only what the
    event's state says and was not already applied."""
    with pw.sessions() as db:
        row = db.get(StripeEvent, event_id)
        payload = dict(row.payload) if row is not None else None
    if payload is None:
        try:
            payload = so.as_dict(pw.stripe().v1.events.retrieve(event_id))
        except StripeNotConfigured:
            raise LookupError(
                f"event {event_id} was never received and STRIPE_SECRET_KEY is not set"
            ) from None
        except stripe.InvalidRequestError as exc:
            raise LookupError(f"event {event_id}: {_first_line(exc)}") from None
    return process_event(pw, _event_shape(payload), replay=True)


def _already_recorded(pw: Paywall, event_id: str) -> bool:
    with pw.sessions() as db:
        return db.scalar(select(StripeEvent.id).where(StripeEvent.id == event_id)) is not None


def _duplicate(event_id: str, event_type: str) -> Processed:
    log.info(kv("webhook.duplicate", event_id=event_id, type=event_type))
    return Processed("duplicate", event_id, event_type, "already processed")


# ---------------------------------------------------------------- fresh reads from Stripe


def fetch_fresh(pw: Paywall, event: dict[str, Any]) -> Fresh:
    """Read Stripe's current state for the event's object, so events delivered out of order
    converge on the truth. Stripe unreachable or unconfigured: an empty `Fresh`, and the
    handlers order payloads by timestamp instead."""
    fresh = Fresh()
    if not pw.stripe_configured:
        return fresh
    event_type, obj = str(event["type"]), event["data"]["object"]
    try:
        client = pw.stripe().v1
        sub_id = _subscription_to_read(event_type, obj)
        if sub_id:
            fresh.subscription = so.as_dict(client.subscriptions.retrieve(sub_id))
            customer = so.object_id(fresh.subscription.get("customer"))
            if customer and not _customer_known(pw, customer):
                fresh.customer_email = _customer_email(client, customer)
        if event_type.startswith("checkout.session.") and not so.metadata(obj).get(so.META_PRODUCT):
            items = client.checkout.sessions.line_items.list(str(obj["id"]))
            fresh.line_item_prices = [
                (so.object_id(item.get("price")), (item.get("price") or {}).get("lookup_key"))
                for item in so.as_dict(items).get("data") or []
            ]
        fresh.invoice = _invoice_with_payments(client, event)
        if event_type == "charge.dispute.created" and so.object_id(obj.get("charge")):
            fresh.charge = so.as_dict(client.charges.retrieve(str(so.object_id(obj["charge"]))))
    except stripe.StripeError as exc:
        log.warning(
            kv("webhook.stripe_unreachable", event_id=event.get("id"), error=_first_line(exc))
        )
        return Fresh()
    return fresh


def _subscription_to_read(event_type: str, obj: dict[str, Any]) -> str | None:
    if event_type in SUBSCRIPTION_EVENTS:
        return so.object_id(obj.get("id"))
    if event_type.startswith("invoice."):
        return so.invoice_subscription_id(obj)
    if event_type.startswith("checkout.session.") and obj.get("mode") == "subscription":
        return so.object_id(obj.get("subscription"))
    return None


def _invoice_with_payments(client: Any, event: dict[str, Any]) -> dict[str, Any] | None:
    """Only the partner commission's refund link needs it: a failed read loses that alone."""
    invoice_id = _invoice_to_read(str(event["type"]), event["data"]["object"])
    if not invoice_id:
        return None
    try:
        return so.as_dict(client.invoices.retrieve(invoice_id, {"expand": ["payments"]}))
    except stripe.StripeError as exc:
        log.warning(kv("webhook.invoice_unreadable", invoice=invoice_id, error=_first_line(exc)))
        return None


def _invoice_to_read(event_type: str, obj: dict[str, Any]) -> str | None:
    """The invoice whose payment a partner commission needs (newer API versions name the
    PaymentIntent only in the expanded `payments`)."""
    if event_type == "invoice.paid" and not so.object_id(obj.get("payment_intent")):
        return so.object_id(obj.get("id"))
    if event_type.startswith("checkout.session.") and obj.get("mode") == "subscription":
        return so.object_id(obj.get("invoice"))
    return None


def _customer_known(pw: Paywall, customer_id: str) -> bool:
    with pw.sessions() as db:
        return find_member_by_customer(db, customer_id) is not None


def _customer_email(client: Any, customer_id: str) -> str | None:
    customer = so.as_dict(client.customers.retrieve(customer_id))
    email = customer.get("email")
    return str(email) if email and not customer.get("deleted") else None


# ---------------------------------------------------------------- after the commit


def _send_purchase_mails(pw: Paywall, mails: list[PurchaseMail]) -> None:
    """Magic-link e-mails for buyers who were not signed in. A failure is logged, not
    raised: the grant is committed and the buyer can always ask for a new link."""
    if not mails:
        return
    from paywall.members.sign_in import send_login_email  # only when there is mail to send

    for mail in mails:
        try:
            send_login_email(pw, mail.email, mail.next_url, reason="purchase", lang=mail.lang)
        except Exception as exc:  # noqa: BLE001 - any mail failure must not fail the webhook
            log.warning(
                kv("webhook.mail_failed", email=mask_email(mail.email), error=_first_line(exc))
            )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
