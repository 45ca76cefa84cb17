"""Stripe webhooks: verify, record once, apply, all-or-nothing.

1. The raw body and `Stripe-Signature` are verified (Stripe's own check, tolerance 300 s in
   either direction) and the event's shape checked; anything else is rejected with 400
   before touching the database. An event of the other mode than the key is ignored.
2. Stripe's API is the truth, the event a notification: the event's object and whatever
   else it needs (the subscription, line items, the disputed charge, the customer's e-mail)
   are read from Stripe first, outside any database transaction. If a read fails nothing
   is stored and the answer is 503, so Stripe's retry processes the event from scratch; an
   object Stripe does not know is recorded and ignored.
3. One transaction inserts the event row (its primary key is Stripe's event id, inserted
   with ON CONFLICT DO NOTHING, so a duplicate, even a concurrent one, finds the row and
   stops) and applies the event. Any failure rolls both back: the endpoint answers 5xx and
   Stripe's retry processes the event from scratch.
4. After the commit, "purchase confirmed" e-mails are sent (a mail failure cannot undo a
   grant, and a retried event never mails twice).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import stripe
from sqlalchemy import select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from paywall.billing import stripe_objects as so
from paywall.billing.event_context import (
    SUBSCRIPTION_EVENTS,
    EventContext,
    Fresh,
    NotYetApplicable,
    PurchaseMail,
)
from paywall.billing.failed_deliveries import record_failure
from paywall.billing.fulfillment import dispatch
from paywall.billing.gifts import send_gift_mails
from paywall.database.models import StripeEvent
from paywall.database.upsert import insert_if_absent
from paywall.members.records import find_member_by_customer
from paywall.runtime.context import Paywall, StripeNotConfigured
from paywall.runtime.logs import get_logger, kv, mask_email

log = get_logger("paywall.billing.webhooks")

TOLERANCE_SECONDS = 300


class InvalidWebhook(ValueError):
    """Not a genuine, well-formed Stripe event: answered with 400 and never stored."""


class WebhookNotConfigured(RuntimeError):
    """No `STRIPE_WEBHOOK_SECRET`: nothing can be verified, so nothing is accepted."""


@dataclass(frozen=True)
class Processed:
    """What happened to one delivery: `processed`, `duplicate` (seen before) or `ignored`
    (not stored: an event of the other Stripe mode)."""

    status: str
    event_id: str
    type: str
    outcome: str


def verify_event(pw: Paywall, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event as a plain dict, if `payload` is signed by our endpoint secret with a
    timestamp within the tolerance (in either direction: a signature dated far in the future
    is as suspect as a stale one) and has the shape of a Stripe event; otherwise
    `InvalidWebhook` saying why."""
    secret = pw.settings.stripe_webhook_secret
    if secret is None:
        raise WebhookNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    limit = pw.settings.max_webhook_bytes  # (the HTTP route refuses more while it streams)
    if len(payload) > limit:
        raise InvalidWebhook(f"payload larger than {limit} bytes (KP_MAX_WEBHOOK_BYTES)")
    if not signature:
        raise InvalidWebhook("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature, secret.get_secret_value(), tolerance=TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook(f"signature check failed ({_first_line(exc)})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidWebhook(f"Stripe-Signature header unreadable: {_first_line(exc)}") from None
    signed_at = _signed_at(signature)
    if signed_at is not None and signed_at > time.time() + TOLERANCE_SECONDS:
        raise InvalidWebhook("Stripe-Signature timestamp is in the future (beyond tolerance)")
    try:
        document = json.loads(payload)
    except RecursionError:
        raise InvalidWebhook("payload is not JSON Stripe sends: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidWebhook(f"payload is not JSON: {_first_line(exc)}") from None
    return _event_shape(document)


def _signed_at(header: str) -> int | None:
    """The `t=` timestamp of a Stripe-Signature header (verified by then)."""
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            return int(value)
    return None


def _event_shape(event: Any) -> dict[str, Any]:
    """Check the fields processing relies on, naming the first one missing."""
    if not isinstance(event, dict):
        raise InvalidWebhook("payload is not a JSON object")
    for name, kind in (("id", str), ("type", str), ("created", int)):
        if not isinstance(event.get(name), kind) or isinstance(event.get(name), bool):
            raise InvalidWebhook(f"event field {name!r} missing or not a {kind.__name__}")
    if "livemode" in event and not isinstance(event["livemode"], bool):
        raise InvalidWebhook("event field 'livemode' is not a boolean")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidWebhook("event field 'data.object' missing or not an object")
    obj = data["object"]
    for name, kinds in _OBJECT_FIELDS.items():
        value = obj.get(name)
        if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
            expected = " or ".join(_KIND_NAMES[kind] for kind in kinds)
            raise InvalidWebhook(f"event field 'data.object.{name}' is not {expected}")
    return event


# Fields of an event's object the handlers read, and the JSON types Stripe sends them as
# (an id, or the expanded object). Anything else is a malformed event, refused with 400.
_ID_OR_OBJECT: tuple[type, ...] = (str, dict)
_OBJECT_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "metadata": (dict,),
    "customer": _ID_OR_OBJECT,
    "subscription": _ID_OR_OBJECT,
    "payment_intent": _ID_OR_OBJECT,
    "charge": _ID_OR_OBJECT,
    "invoice": _ID_OR_OBJECT,
    "client_reference_id": (str,),
    "customer_details": (dict,),
    "customer_email": (str,),
    "billing_details": (dict,),
    "receipt_email": (str,),
    "mode": (str,),
    "status": (str,),
    "payment_status": (str,),
    "currency": (str,),
    "reason": (str,),
    "amount": (int,),
    "amount_total": (int,),
    "amount_refunded": (int,),
    "created": (int,),
    "start_date": (int,),
    "ended_at": (int,),
    "canceled_at": (int,),
    "current_period_start": (int,),
    "current_period_end": (int,),
    "items": (dict,),
    "lines": (dict,),
    "parent": (dict,),
}
_KIND_NAMES = {str: "a string", dict: "an object", int: "an integer"}


def handle_webhook(pw: Paywall, payload: bytes, signature: str | None) -> Processed:
    """Verify and process one delivery (what `POST /api/stripe/webhook` runs). An event of
    the other mode than the configured key (a live event at a test key, or the reverse) is
    logged and answered 200 without being acted on: it is genuine, but not for this site."""
    event = verify_event(pw, payload, signature)
    key_mode = _key_livemode(pw)
    if key_mode is not None and event.get("livemode") not in (None, key_mode):
        mode = "live" if event.get("livemode") else "test"
        log.warning(kv("webhook.livemode_mismatch", event_id=event["id"], event_mode=mode))
        return Processed("ignored", str(event["id"]), str(event["type"]), f"ignored: {mode} mode")
    try:
        return process_event(pw, event)
    except (StripeUnavailable, NotYetApplicable) as exc:
        record_failure(pw, event, _first_line(exc))
        raise
    except SQLAlchemyError:
        raise  # the database is what failed: nothing can be written (failed_deliveries)
    except Exception as exc:  # a bug: answered 5xx, retried by Stripe, shown as pending
        record_failure(pw, event, f"{type(exc).__name__}: {_first_line(exc)}")
        raise


def _key_livemode(pw: Paywall) -> bool | None:
    """Whether the configured secret key is a live one (None: no key, or not recognizable)."""
    key = pw.settings.stripe_secret_key
    prefix = key.get_secret_value()[:8] if key is not None else ""
    if prefix in ("sk_live_", "rk_live_"):
        return True
    if prefix in ("sk_test_", "rk_test_"):
        return False
    return None


def process_event(pw: Paywall, event: dict[str, Any], *, replay: bool = False) -> Processed:
    """Apply an event exactly once (or again, with `replay`, from `kp events replay`).

    Raises `StripeUnavailable` when Stripe could not be read, or whatever the database
    raised (the caller answers 5xx); nothing is kept then, so Stripe's retry is processed
    as a new delivery, not as a duplicate.
    """
    event_id, event_type = str(event["id"]), str(event["type"])
    if not replay and _already_recorded(pw, event_id):
        return _duplicate(event_id, event_type)
    fresh = fetch_fresh(pw, event)
    actor = f"{'replay' if replay else 'webhook'}:{event_id}"
    with pw.sessions.begin() as db:
        now = pw.now()
        obj = event["data"]["object"]
        related = so.related_id(event_type, obj)
        _one_at_a_time(db, related)
        recorded = insert_if_absent(
            db,
            StripeEvent.__table__,
            {
                "id": event_id,
                "type": event_type,
                "created": int(event["created"]),
                "object_id": str(obj.get("id") or ""),
                "related_id": related,
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
        # signed, but about nothing Stripe has (a forged or foreign object): recorded only
        outcome = f"ignored: {fresh.missing}" if fresh.missing else dispatch(ctx)
        db.execute(
            update(StripeEvent)
            .where(StripeEvent.id == event_id)
            .values(processed_at=now, outcome=outcome[:4000])
        )
    log.info(kv("webhook.processed", event_id=event_id, type=event_type, outcome=outcome))
    _send_purchase_mails(pw, ctx.mails)
    send_gift_mails(pw, ctx.gift_mails)
    return Processed("processed", event_id, event_type, outcome)


def _one_at_a_time(db: Session, related: str | None) -> None:
    """Events of one payment or subscription are applied one after the other. A refund and
    its purchase processed at the same moment would otherwise each look for the other
    before either committed (PostgreSQL's read committed), and neither see it. SQLite needs
    nothing: its writers are serialized already, and the event row is the first write."""
    if related and db.get_bind().dialect.name == "postgresql":
        db.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": related}
        )


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


class StripeUnavailable(RuntimeError):
    """A read the event needs failed (Stripe unreachable, rate-limited, erroring): nothing is
    stored, the endpoint answers 503 and Stripe's retry processes the event from scratch."""


class _Missing(Exception):
    """Stripe does not know the event's object: the event is not one of ours to act on."""


def fetch_fresh(pw: Paywall, event: dict[str, Any]) -> Fresh:
    """Read Stripe's current record of the event's object and whatever else it needs (the
    subscription, line items, the charge of a dispute, the customer's e-mail), so handlers
    fulfil from Stripe's truth whatever order events arrive in. Without a Stripe key nothing
    is read (an empty `Fresh`: handlers use the payload, ordered by timestamps). Raises
    `StripeUnavailable` when a needed read fails."""
    if not pw.stripe_configured:
        return Fresh()
    fresh = Fresh(read_at=time.time_ns() // 1_000_000)
    event_type, payload = str(event["type"]), event["data"]["object"]
    try:
        client = pw.stripe().v1
        fresh.object = _retrieve_object(client, event_type, payload)
        obj = fresh.object if fresh.object is not None else payload
        sub_id = _subscription_to_read(event_type, obj)
        if sub_id:
            fresh.subscription = (
                obj
                if event_type in SUBSCRIPTION_EVENTS
                else _retrieve(client.subscriptions, sub_id)
            )
            customer = so.object_id(fresh.subscription.get("customer"))
            if customer and not _customer_known(pw, customer):
                fresh.customer_email = _customer_email(client, customer)
        if event_type.startswith("checkout.session.") and not so.metadata(obj).get(so.META_PRODUCT):
            items = client.checkout.sessions.line_items.list(str(obj["id"]))
            fresh.line_item_prices = [
                (so.object_id(item.get("price")), (item.get("price") or {}).get("lookup_key"))
                for item in so.as_dict(items).get("data") or []
            ]
        if event_type.startswith("invoice.") and _invoice_to_read(event_type, obj):
            fresh.invoice = obj  # read above, with its payments
        else:
            fresh.invoice = _invoice_with_payments(client, event_type, obj)
        charge_id = so.object_id(obj.get("charge"))
        if event_type == "charge.dispute.created" and charge_id:
            fresh.charge = _retrieve(client.charges, charge_id)
            customer = so.object_id(fresh.charge.get("customer"))
            if customer and not _customer_known(pw, customer):
                listed = client.subscriptions.list({"customer": customer, "status": "all"})
                fresh.customer_subscriptions = list(so.as_dict(listed).get("data") or [])
    except _Missing as missing:
        fresh.missing = str(missing)
    except stripe.StripeError as exc:
        log.warning(
            kv("webhook.stripe_unreachable", event_id=event.get("id"), error=_first_line(exc))
        )
        raise StripeUnavailable(f"Stripe could not be read: {_first_line(exc)}") from None
    return fresh


def _retrieve(resource: Any, object_id: str, params: dict[str, Any] | None = None) -> Any:
    """One object as a plain dict; `_Missing` when Stripe answers that it does not exist."""
    try:
        found = resource.retrieve(object_id, params) if params else resource.retrieve(object_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            raise _Missing(f"{object_id} does not exist at Stripe") from None
        raise
    return so.as_dict(found)


def _retrieve_object(client: Any, event_type: str, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The event's own object as Stripe holds it now (None: not an object we read)."""
    object_id = so.object_id(obj.get("id"))
    if not object_id:
        return None
    family = event_type.rsplit(".", 1)[0]
    resource = {
        "checkout.session": client.checkout.sessions,
        "customer.subscription": client.subscriptions,
        "invoice": client.invoices,
        "charge": client.charges,
        "charge.dispute": client.disputes,
    }.get(family)
    if resource is None:
        return None
    params = {"expand": ["payments"]} if family == "invoice" else None
    result: dict[str, Any] = _retrieve(resource, object_id, params)
    return result


def _subscription_to_read(event_type: str, obj: dict[str, Any]) -> str | None:
    if event_type in SUBSCRIPTION_EVENTS:
        return so.object_id(obj.get("id"))
    if event_type.startswith("invoice."):
        return so.invoice_subscription_id(obj)
    if event_type.startswith("checkout.session.") and obj.get("mode") == "subscription":
        return so.object_id(obj.get("subscription"))
    return None


def _invoice_with_payments(
    client: Any, event_type: str, obj: dict[str, Any]
) -> dict[str, Any] | None:
    """The invoice whose payment a partner commission needs, with `payments` expanded (newer
    API versions name the PaymentIntent only there)."""
    invoice_id = _invoice_to_read(event_type, obj)
    if not invoice_id:
        return None
    result: dict[str, Any] = _retrieve(client.invoices, invoice_id, {"expand": ["payments"]})
    return result


def _invoice_to_read(event_type: str, obj: dict[str, Any]) -> str | None:
    if event_type == "invoice.paid" and not so.object_id(obj.get("payment_intent")):
        return so.object_id(obj.get("id"))
    if event_type.startswith("checkout.session.") and obj.get("mode") == "subscription":
        return so.object_id(obj.get("invoice"))
    return None


def _customer_known(pw: Paywall, customer_id: str) -> bool:
    with pw.sessions() as db:
        return find_member_by_customer(db, customer_id) is not None


def _customer_email(client: Any, customer_id: str) -> str | None:
    try:
        customer = _retrieve(client.customers, customer_id)
    except _Missing:
        return None
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
            send_login_email(
                pw,
                mail.email,
                mail.next_url,
                reason="purchase",
                lang=mail.lang,
                intent_hash=mail.intent_hash,
            )
        except Exception as exc:  # noqa: BLE001 - any mail failure must not fail the webhook
            log.warning(
                kv("webhook.mail_failed", email=mask_email(mail.email), error=_first_line(exc))
            )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
