"""Subscriptions and invoices: start from checkout, renew or end at period end, cancel.

Period arithmetic runs on the server clock (`Store.now`), so advancing the clock past
`current_period_end` renews a subscription (a new paid invoice) or, when it was set to cancel
at period end, ends it. A card that declines turns the renewal into `invoice.payment_failed`
and the subscription `past_due`; failed invoices are retried every three days and the
subscription is canceled after the fourth failure (Stripe's default retry settings).
"""

from __future__ import annotations

import copy
from typing import Any

from stripe_local import cards
from stripe_local.errors import StripeError
from stripe_local.expand import VIRTUAL
from stripe_local.ids import new_id
from stripe_local.listing import embedded_list, paginate
from stripe_local.money import format_amount, format_interval, shift
from stripe_local.params import Bool, Enum, Metadata, Obj, Str, list_params, merged_metadata
from stripe_local.resources.common import changes, metadata_update, present
from stripe_local.resources.discounts import discount_amount
from stripe_local.resources.payments import attempt_payment, new_payment_intent
from stripe_local.routing import ApiRoute, Ctx
from stripe_local.store import Store

RETRY_DELAY = 3 * 86_400
MAX_ATTEMPTS = 4
LIVE_STATUSES = ("active", "past_due", "trialing")

CANCELLATION_DETAILS = Obj(
    {
        "comment": Str(5000),
        "feedback": Enum(
            "customer_service",
            "low_quality",
            "missing_features",
            "other",
            "switched_service",
            "too_complex",
            "too_expensive",
            "unused",
        ),
    }
)
SUB_UPDATE = Obj(
    {
        "cancel_at_period_end": Bool(),
        "metadata": Metadata(),
        "description": Str(500),
        "cancellation_details": CANCELLATION_DETAILS,
    }
)
SUB_CANCEL = Obj(
    {"cancellation_details": CANCELLATION_DETAILS, "invoice_now": Bool(), "prorate": Bool()}
)
SUB_LIST = list_params(
    {
        "customer": Str(),
        "price": Str(),
        "status": Enum(
            "active",
            "all",
            "canceled",
            "ended",
            "incomplete",
            "incomplete_expired",
            "past_due",
            "paused",
            "trialing",
            "unpaid",
        ),
    }
)
INVOICE_LIST = list_params(
    {
        "customer": Str(),
        "subscription": Str(),
        "status": Enum("draft", "open", "paid", "uncollectible", "void"),
    }
)


# -- discounts on subscriptions ---------------------------------------------------------------


def new_discount(
    store: Store,
    coupon: dict[str, Any],
    promo: dict[str, Any] | None,
    *,
    customer_id: str | None,
    subscription_id: str | None = None,
    checkout_session: str | None = None,
) -> dict[str, Any]:
    """A `discount` object: which coupon applies, from when, until when."""
    start = store.now()
    months = coupon["duration_in_months"]
    return store.insert(
        {
            "id": new_id("di_"),
            "object": "discount",
            "checkout_session": checkout_session,
            "customer": customer_id,
            "end": shift(start, "month", months) if coupon["duration"] == "repeating" else None,
            "invoice": None,
            "invoice_item": None,
            "promotion_code": promo["id"] if promo else None,
            "source": {"coupon": coupon["id"], "type": "coupon"},
            "start": start,
            "subscription": subscription_id,
            "subscription_item": None,
        }
    )


def _applicable_discount(store: Store, sub: dict[str, Any], first: bool) -> dict[str, Any] | None:
    """The subscription's discount if it still applies to the invoice being made now."""
    for discount_id in sub["discounts"]:
        discount = store.find("discount", discount_id)
        coupon = store.find("coupon", discount["source"]["coupon"]) if discount else None
        if discount is None or coupon is None:
            continue
        if coupon["duration"] == "forever":
            return discount
        if coupon["duration"] == "once" and first:
            return discount
        if coupon["duration"] == "repeating" and store.now() < discount["end"]:
            return discount
    return None


# -- subscriptions ----------------------------------------------------------------------------


def start_subscription(
    store: Store,
    *,
    customer: dict[str, Any],
    lines: list[tuple[dict[str, Any], int]],
    metadata: dict[str, str] | None,
    description: str | None,
    discount: dict[str, Any] | None,
    trial_days: int | None = None,
) -> dict[str, Any]:
    """Create an active subscription and its first invoice, and pay it with the customer's
    card (checked by the caller). With `trial_days`, the subscription is `trialing` until
    `trial_end` (its first period) and its first invoice is for nothing; the first payment
    is at the trial's end (`reach_period_end`). Emits `customer.subscription.created` then
    the invoice's events; returns the subscription."""
    now = store.now()
    recurring = lines[0][0]["recurring"]
    sub_id = new_id("sub_")
    trial_end = now + trial_days * 86_400 if trial_days else None
    period_end = trial_end or shift(now, recurring["interval"], recurring["interval_count"])
    items = [
        {
            "id": new_id("si_"),
            "object": "subscription_item",
            "created": now,
            "current_period_end": period_end,
            "current_period_start": now,
            "discounts": [],
            "metadata": {},
            "price": dict(price),
            "quantity": quantity,
            "subscription": sub_id,
            "tax_rates": [],
        }
        for price, quantity in lines
    ]
    if discount is not None:
        discount["subscription"] = sub_id
    sub = store.insert(
        {
            "id": sub_id,
            "object": "subscription",
            "application": None,
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": trial_end or now,
            "billing_cycle_anchor_config": None,
            "billing_mode": {"flexible": None, "type": "classic"},
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": now,
            "currency": lines[0][0]["currency"],
            # Newer API versions keep the period only on items; kept here too for convenience.
            "current_period_end": period_end,
            "current_period_start": now,
            "customer": customer["id"],
            "days_until_due": None,
            "default_payment_method": store.private_of(customer["id"]).get("payment_method"),
            "default_source": None,
            "description": description,
            "discounts": [discount["id"]] if discount else [],
            "ended_at": None,
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "items": embedded_list(f"/v1/subscription_items?subscription={sub_id}", items),
            "latest_invoice": None,
            "livemode": False,
            "metadata": merged_metadata({}, metadata),
            "on_behalf_of": None,
            "pause_collection": None,
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": None,
            "pending_setup_intent": None,
            "pending_update": None,
            "schedule": None,
            "start_date": now,
            "status": "trialing" if trial_end else "active",
            "test_clock": None,
            "transfer_data": None,
            "trial_end": trial_end,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": now if trial_end else None,
        }
    )
    store.private_of(sub_id)["period"] = 0
    invoice = new_invoice(
        store, sub, "subscription_create", now, now, first=True, trial=trial_end is not None
    )
    sub["latest_invoice"] = invoice["id"]
    store.emit("customer.subscription.created", sub)
    _announce_invoice(store, invoice)
    pay_invoice(store, invoice)
    return sub


def _set_period(sub: dict[str, Any], start: int, end: int) -> None:
    sub["current_period_start"], sub["current_period_end"] = start, end
    for item in sub["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = start, end


def _interval(sub: dict[str, Any]) -> tuple[str, int]:
    recurring = sub["items"]["data"][0]["price"]["recurring"]
    return recurring["interval"], recurring["interval_count"]


TRIAL_NOTICE = 3 * 86_400
"""Stripe sends `customer.subscription.trial_will_end` three days before a trial ends."""


def trial_notice_due(store: Store, sub: dict[str, Any]) -> int | None:
    """When the subscription's trial-will-end event is due (None: sent, or no trial)."""
    if sub["status"] != "trialing" or not sub["trial_end"]:
        return None
    if store.private_of(sub["id"]).get("trial_notice_sent"):
        return None
    return max(sub["trial_end"] - TRIAL_NOTICE, sub["trial_start"] or sub["created"])


def announce_trial_end(store: Store, sub: dict[str, Any]) -> None:
    """`customer.subscription.trial_will_end`, once per trial."""
    store.private_of(sub["id"])["trial_notice_sent"] = True
    store.emit("customer.subscription.trial_will_end", sub)


def _end_trial(store: Store, sub: dict[str, Any]) -> None:
    """The trial is over (the clock is pinned at `trial_end`): the first paid period starts
    there, `status` goes `trialing` → `active` and its invoice is charged; a declined card
    makes the subscription `past_due`, as at a renewal."""
    interval, count = _interval(sub)
    previous = {
        "current_period_end": sub["current_period_end"],
        "current_period_start": sub["current_period_start"],
        "items": copy.deepcopy(sub["items"]),
        "latest_invoice": sub["latest_invoice"],
        "status": sub["status"],
    }
    start = sub["trial_end"]
    store.private_of(sub["id"])["period"] = 0
    _set_period(sub, start, shift(start, interval, count))
    sub["status"] = "active"
    invoice = new_invoice(store, sub, "subscription_cycle", start, start, first=True)
    sub["latest_invoice"] = invoice["id"]
    store.emit("customer.subscription.updated", sub, previous)
    _announce_invoice(store, invoice)
    pay_invoice(store, invoice)


def reach_period_end(store: Store, sub: dict[str, Any]) -> None:
    """What happens at `current_period_end` (the clock is pinned there): end, renew, or
    end the trial."""
    if sub["cancel_at_period_end"] or (
        sub["cancel_at"] is not None and sub["cancel_at"] <= sub["current_period_end"]
    ):
        end_subscription(store, sub, sub["current_period_end"])
        return
    if sub["status"] == "trialing":
        _end_trial(store, sub)
        return
    interval, count = _interval(sub)
    index = store.private_of(sub["id"])["period"] + 1
    store.private_of(sub["id"])["period"] = index
    old_start, old_end = sub["current_period_start"], sub["current_period_end"]
    previous = {
        "current_period_end": old_end,
        "current_period_start": old_start,
        "items": copy.deepcopy(sub["items"]),
        "latest_invoice": sub["latest_invoice"],
    }
    _set_period(
        sub,
        shift(sub["billing_cycle_anchor"], interval, index * count),
        shift(sub["billing_cycle_anchor"], interval, (index + 1) * count),
    )
    invoice = new_invoice(store, sub, "subscription_cycle", old_start, old_end, first=False)
    sub["latest_invoice"] = invoice["id"]
    store.emit("customer.subscription.updated", sub, previous)
    _announce_invoice(store, invoice)
    pay_invoice(store, invoice)


def end_subscription(store: Store, sub: dict[str, Any], at: int, reason: str | None = None) -> None:
    """Cancel now: status `canceled`; emits `customer.subscription.deleted`."""
    sub["status"] = "canceled"
    sub["ended_at"] = at
    sub["canceled_at"] = sub["canceled_at"] or at
    if reason or sub["cancellation_details"]["reason"] is None:
        sub["cancellation_details"]["reason"] = reason or "cancellation_requested"
    for invoice in store.all("invoice"):
        if _subscription_of(store, invoice) is sub and invoice["status"] == "open":
            invoice["next_payment_attempt"] = None  # no more automatic retries
    store.emit("customer.subscription.deleted", sub)


def schedule_cancel(store: Store, sub: dict[str, Any], at_period_end: bool) -> None:
    """Set or clear `cancel_at_period_end`; emits `customer.subscription.updated`."""
    previous = changes(sub, _cancel_updates(store, sub, at_period_end))
    if previous:
        store.emit("customer.subscription.updated", sub, previous)


def _cancel_updates(store: Store, sub: dict[str, Any], at_period_end: bool) -> dict[str, Any]:
    """The fields Stripe changes when a cancellation at period end is requested or undone."""
    _require_live(sub, "cancel_at_period_end")
    if at_period_end:
        return {
            "cancel_at": sub["current_period_end"],
            "cancel_at_period_end": True,
            "canceled_at": sub["canceled_at"] or store.now(),
            "cancellation_details": {
                **sub["cancellation_details"],
                "reason": "cancellation_requested",
            },
        }
    return {
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
    }


def _require_live(sub: dict[str, Any], param: str | None = None) -> None:
    if sub["status"] not in LIVE_STATUSES:
        raise StripeError(
            f"Subscription {sub['id']} is {sub['status']}; a canceled subscription can only "
            "update its metadata and cancellation_details.",
            param=param,
        )


def retrieve_subscription(
    store: Store, params: dict[str, Any], ctx: Ctx, id: str
) -> dict[str, Any]:
    return store.get("subscription", id, param="id", status=404)


def update_subscription(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    sub = store.get("subscription", id, param="id", status=404)
    updates: dict[str, Any] = {}
    if params.get("cancel_at_period_end") is not None:
        updates.update(_cancel_updates(store, sub, params["cancel_at_period_end"]))
    updates.update(present(params, "description"))
    updates.update(metadata_update(sub, params))
    if params.get("cancellation_details"):
        base = updates.get("cancellation_details", sub["cancellation_details"])
        updates["cancellation_details"] = {**base, **params["cancellation_details"]}
    previous = changes(sub, updates)
    if previous:
        store.emit("customer.subscription.updated", sub, previous)
    return sub


def cancel_subscription(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    sub = store.get("subscription", id, param="id", status=404)
    for flag in ("invoice_now", "prorate"):
        if params.get(flag):
            raise StripeError(
                f"{flag}=true would need prorations, which stripe_local does not model; "
                f"cancel without {flag}.",
                param=flag,
            )
    _require_live(sub)
    if params.get("cancellation_details"):
        sub["cancellation_details"].update(params["cancellation_details"])
    end_subscription(store, sub, store.now())
    return sub


def list_subscriptions(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    items = list(reversed(store.all("subscription")))
    status = params.get("status")
    if status is None:
        items = [s for s in items if s["status"] != "canceled"]
    elif status == "ended":
        items = [s for s in items if s["status"] in ("canceled", "incomplete_expired")]
    elif status != "all":
        items = [s for s in items if s["status"] == status]
    if params.get("customer") is not None:
        items = [s for s in items if s["customer"] == params["customer"]]
    if params.get("price") is not None:
        items = [
            s for s in items if any(i["price"]["id"] == params["price"] for i in s["items"]["data"])
        ]
    return paginate("/v1/subscriptions", items, params)


# -- invoices ---------------------------------------------------------------------------------


def new_invoice(
    store: Store,
    sub: dict[str, Any],
    billing_reason: str,
    period_start: int,
    period_end: int,
    *,
    first: bool,
    trial: bool = False,
) -> dict[str, Any]:
    """A finalized (open) invoice for the subscription's current period (for nothing
    during a `trial`: Stripe's "Trial period for …" line)."""
    now = store.now()
    customer = store.get("customer", sub["customer"])
    invoice_id = new_id("in_")
    lines = [_line(store, invoice_id, sub, item, trial) for item in sub["items"]["data"]]
    subtotal = sum(line["amount"] for line in lines)
    discount = None if trial else _applicable_discount(store, sub, first)
    taken = 0
    if discount is not None:
        coupon = store.get("coupon", discount["source"]["coupon"])
        taken = discount_amount(coupon, subtotal)
        _spread_discount(lines, taken, discount["id"])
    total = subtotal - taken
    sequence = customer["next_invoice_sequence"]
    customer["next_invoice_sequence"] = sequence + 1
    return store.insert(
        {
            "id": invoice_id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "Stripe Local",
            "account_tax_ids": None,
            "amount_due": total,
            "amount_overpaid": 0,
            "amount_paid": 0,
            "amount_remaining": total,
            "amount_shipping": 0,
            "application": None,
            "attempt_count": 0,
            "attempted": False,
            "auto_advance": True,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "automatically_finalizes_at": None,
            "billing_reason": billing_reason,
            "collection_method": "charge_automatically",
            "confirmation_secret": None,
            "created": now,
            "currency": sub["currency"],
            "custom_fields": None,
            "customer": customer["id"],
            "customer_address": None,
            "customer_email": customer["email"],
            "customer_name": customer["name"],
            "customer_phone": customer["phone"],
            "customer_shipping": None,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": [discount["id"]] if discount else [],
            "due_date": None,
            "effective_at": now,
            "ending_balance": 0,
            "footer": None,
            "from_invoice": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "issuer": {"type": "self"},
            "last_finalization_error": None,
            "latest_revision": None,
            "lines": embedded_list(f"/v1/invoices/{invoice_id}/lines", lines),
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "number": f"{customer['invoice_prefix']}-{sequence:04d}",
            "on_behalf_of": None,
            "parent": {
                "quote_details": None,
                "subscription_details": {
                    "metadata": dict(sub["metadata"]),
                    "subscription": sub["id"],
                },
                "type": "subscription_details",
            },
            "payment_settings": {
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": None,
            },
            "period_end": period_end,
            "period_start": period_start,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": None,
            "rendering": None,
            "shipping_cost": None,
            "shipping_details": None,
            "starting_balance": 0,
            "statement_descriptor": None,
            "status": "open",
            "status_transitions": {
                "finalized_at": now,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subtotal": subtotal,
            "subtotal_excluding_tax": subtotal,
            "test_clock": None,
            "threshold_reason": None,
            "total": total,
            "total_discount_amounts": (
                [{"amount": taken, "discount": discount["id"]}] if discount else []
            ),
            "total_excluding_tax": total,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": now,
        }
    )


def _line(
    store: Store, invoice_id: str, sub: dict[str, Any], item: dict[str, Any], trial: bool = False
) -> dict:
    price, quantity = item["price"], item["quantity"]
    product = store.find("product", price["product"]) or {"name": price["product"]}
    each = format_amount(price["unit_amount"], price["currency"])
    description = (
        f"Trial period for {product['name']}"
        if trial
        else f"{quantity} × {product['name']} (at {each} / {format_interval(price['recurring'])})"
    )
    return {
        "id": new_id("il_"),
        "object": "line_item",
        "amount": 0 if trial else price["unit_amount"] * quantity,
        "currency": price["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": {},
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": sub["id"],
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        "period": {"end": sub["current_period_end"], "start": sub["current_period_start"]},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "quantity": quantity,
        "taxes": [],
    }


def _spread_discount(lines: list[dict[str, Any]], taken: int, discount_id: str) -> None:
    """Allocate `taken` over the lines in proportion to their amounts (remainder to the last)."""
    subtotal = sum(line["amount"] for line in lines) or 1
    left = taken
    for position, line in enumerate(lines):
        share = left if position == len(lines) - 1 else taken * line["amount"] // subtotal
        left -= share
        line["discount_amounts"] = [{"amount": share, "discount": discount_id}]
        line["discounts"] = [discount_id]


def _announce_invoice(store: Store, invoice: dict[str, Any]) -> None:
    store.emit("invoice.created", invoice)
    store.emit("invoice.finalized", invoice)


def pay_invoice(store: Store, invoice: dict[str, Any]) -> bool:
    """Charge the customer's card for an open invoice. Emits `invoice.paid` and
    `invoice.payment_succeeded`, or `invoice.payment_failed` and moves the subscription to
    `past_due` (canceling it after the last attempt). Returns whether it was paid."""
    customer_private = store.private_of(invoice["customer"])
    card = (
        cards.lookup(customer_private.get("card", cards.DEFAULT_CARD))
        or cards.CARDS[cards.DEFAULT_CARD]
    )
    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    if invoice["amount_due"] > 0:
        inv_private = store.private_of(invoice["id"])
        intent = store.find("payment_intent", inv_private.get("payment_intent", ""))
        if intent is None:
            intent = new_payment_intent(
                store,
                amount=invoice["amount_due"],
                currency=invoice["currency"],
                customer_id=invoice["customer"],
                description="Subscription " + invoice["billing_reason"].replace("_", " "),
                receipt_email=invoice["customer_email"],
            )
            inv_private["payment_intent"] = intent["id"]
        payment_method = customer_private.setdefault("payment_method", new_id("pm_"))
        charge = attempt_payment(store, intent, card, payment_method, invoice["customer_email"])
        if charge["status"] != "succeeded":
            _payment_failed(store, invoice)
            return False
    now = store.now()
    invoice.update(
        status="paid",
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
        next_payment_attempt=None,
    )
    invoice["status_transitions"]["paid_at"] = now
    store.emit("invoice.paid", invoice)
    store.emit("invoice.payment_succeeded", invoice)
    sub = _subscription_of(store, invoice)
    if sub is not None and sub["status"] == "past_due":
        previous = changes(sub, {"status": "active"})
        store.emit("customer.subscription.updated", sub, previous)
    return True


def _payment_failed(store: Store, invoice: dict[str, Any]) -> None:
    last_attempt = invoice["attempt_count"] >= MAX_ATTEMPTS
    invoice["next_payment_attempt"] = None if last_attempt else store.now() + RETRY_DELAY
    store.emit("invoice.payment_failed", invoice)
    sub = _subscription_of(store, invoice)
    if sub is None or sub["status"] not in LIVE_STATUSES:
        return
    if last_attempt:
        end_subscription(store, sub, store.now(), reason="payment_failed")
    elif sub["status"] != "past_due":
        previous = changes(sub, {"status": "past_due"})
        store.emit("customer.subscription.updated", sub, previous)


def _subscription_of(store: Store, invoice: dict[str, Any]) -> dict[str, Any] | None:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return store.find("subscription", details.get("subscription") or "")


def retry_invoice(store: Store, invoice: dict[str, Any]) -> None:
    """A scheduled retry (`next_payment_attempt` reached)."""
    invoice["next_payment_attempt"] = None
    pay_invoice(store, invoice)


def retrieve_invoice(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    return store.get("invoice", id, param="id", status=404)


def list_invoices(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    items = list(reversed(store.all("invoice")))
    for key in ("customer", "status"):
        if params.get(key) is not None:
            items = [i for i in items if i[key] == params[key]]
    if params.get("subscription") is not None:
        items = [
            i
            for i in items
            if (_subscription_of(store, i) or {}).get("id") == params["subscription"]
        ]
    return paginate("/v1/invoices", items, params)


def list_invoice_lines(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    invoice = store.get("invoice", id, param="invoice", status=404)
    lines = list(invoice["lines"]["data"])
    return paginate(f"/v1/invoices/{id}/lines", lines, params)


def pay_invoice_now(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    invoice = store.get("invoice", id, param="id", status=404)
    if invoice["status"] != "open":
        raise StripeError(f"Invoice is already {invoice['status']}.", code="invoice_not_open")
    if not pay_invoice(store, invoice):
        intent = store.get("payment_intent", store.private_of(id)["payment_intent"])
        error = intent["last_payment_error"]
        raise StripeError(
            error["message"],
            status=402,
            type="card_error",
            code="card_declined",
            decline_code=error["decline_code"],
        )
    return invoice


def invoice_payments(store: Store, invoice: dict[str, Any]) -> dict[str, Any]:
    """`expand[]=payments` on an invoice: how it was paid (newer API versions)."""
    intent_id = store.private_of(invoice["id"]).get("payment_intent")
    data = []
    if intent_id:
        data.append(
            {
                "id": "inpay_" + intent_id.removeprefix("pi_"),
                "object": "invoice_payment",
                "amount_paid": invoice["amount_paid"] if invoice["status"] == "paid" else None,
                "amount_requested": invoice["amount_due"],
                "created": invoice["created"],
                "currency": invoice["currency"],
                "invoice": invoice["id"],
                "is_default": True,
                "livemode": False,
                "payment": {"payment_intent": intent_id, "type": "payment_intent"},
                "status": "paid" if invoice["status"] == "paid" else "open",
                "status_transitions": {
                    "canceled_at": None,
                    "paid_at": invoice["status_transitions"]["paid_at"],
                },
            }
        )
    return embedded_list(f"/v1/invoice_payments?invoice={invoice['id']}", data)


VIRTUAL[("invoice", "payments")] = invoice_payments

ROUTES = [
    ApiRoute("GET", "/v1/subscriptions", list_subscriptions, SUB_LIST),
    ApiRoute("GET", "/v1/subscriptions/{id}", retrieve_subscription, Obj({})),
    ApiRoute("POST", "/v1/subscriptions/{id}", update_subscription, SUB_UPDATE),
    ApiRoute("DELETE", "/v1/subscriptions/{id}", cancel_subscription, SUB_CANCEL),
    ApiRoute("GET", "/v1/invoices", list_invoices, INVOICE_LIST),
    ApiRoute("GET", "/v1/invoices/{id}", retrieve_invoice, Obj({})),
    ApiRoute("GET", "/v1/invoices/{id}/lines", list_invoice_lines, list_params()),
    ApiRoute("POST", "/v1/invoices/{id}/pay", pay_invoice_now, Obj({})),
]
