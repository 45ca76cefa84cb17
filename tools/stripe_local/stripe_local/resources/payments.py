"""PaymentIntents, Charges and Refunds: created by checkout and invoices, refunded by the API."""

from __future__ import annotations

from typing import Any

from stripe_local.cards import Card
from stripe_local.errors import StripeError, only_one_of
from stripe_local.ids import new_id, random_tail
from stripe_local.listing import paginate
from stripe_local.params import Enum, Int, Metadata, Obj, Str, list_params, merged_metadata
from stripe_local.resources.common import changes
from stripe_local.routing import ApiRoute, Ctx
from stripe_local.store import Store

REFUND_CREATE = Obj(
    {
        "payment_intent": Str(),
        "charge": Str(),
        "amount": Int(1),
        "reason": Enum("duplicate", "fraudulent", "requested_by_customer"),
        "metadata": Metadata(),
    }
)
BY_CUSTOMER = list_params({"customer": Str()})
CHARGE_LIST = list_params({"customer": Str(), "payment_intent": Str()})
REFUND_LIST = list_params({"charge": Str(), "payment_intent": Str()})


def new_payment_intent(
    store: Store,
    *,
    amount: int,
    currency: str,
    customer_id: str | None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    receipt_email: str | None = None,
    payment_method_types: list[str] | None = None,
) -> dict[str, Any]:
    """A PaymentIntent awaiting a payment method; emits `payment_intent.created`."""
    intent_id = new_id("pi_")
    intent = store.insert(
        {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic_async",
            "client_secret": f"{intent_id}_secret_{random_tail(25)}",
            "confirmation_method": "automatic",
            "created": store.now(),
            "currency": currency,
            "customer": customer_id,
            "description": description,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": merged_metadata({}, metadata),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_types": list(payment_method_types or ["card"]),
            "processing": None,
            "receipt_email": receipt_email,
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": None,
        }
    )
    store.emit("payment_intent.created", intent)
    return intent


def attempt_payment(
    store: Store,
    intent: dict[str, Any],
    card: Card,
    payment_method: str,
    email: str | None,
    *,
    method: str = "card",
) -> dict[str, Any]:
    """Charge `card` (or, for `method` alipay / wechat_pay, the buyer's wallet, which the
    buyer authorized in its app) for the intent. Emits `charge.succeeded` +
    `payment_intent.succeeded`, or `charge.failed` + `payment_intent.payment_failed`;
    returns the charge."""
    declined = method == "card" and card.decline_code is not None
    charge = store.insert(_charge(store, intent, card, payment_method, email, declined))
    if method != "card":
        charge["payment_method_details"] = _wallet_details(method)
    intent["latest_charge"] = charge["id"]
    intent["payment_method"] = payment_method
    if declined:
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = {
            "charge": charge["id"],
            "code": "card_declined",
            "decline_code": card.decline_code,
            "message": card.message,
            "payment_method": {"id": payment_method, "object": "payment_method", "type": "card"},
            "type": "card_error",
        }
        store.emit("charge.failed", charge)
        store.emit("payment_intent.payment_failed", intent)
    else:
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        intent["last_payment_error"] = None
        store.emit("charge.succeeded", charge)
        store.emit("payment_intent.succeeded", intent)
    return charge


def _wallet_details(method: str) -> dict[str, Any]:
    """A wallet charge's `payment_method_details`, in Stripe's shape."""
    details: dict[str, Any] = {"fingerprint": random_tail(16), "transaction_id": random_tail(28)}
    if method == "alipay":
        details["buyer_id"] = random_tail(16)
    else:
        details["location"] = None
        details["reader"] = None
    return {"type": method, method: details}


def _charge(
    store: Store,
    intent: dict[str, Any],
    card: Card,
    payment_method: str,
    email: str | None,
    declined: bool,
) -> dict[str, Any]:
    return {
        "id": new_id("ch_"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": 0 if declined else intent["amount"],
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None if declined else new_id("txn_"),
        "billing_details": {
            "address": {
                "city": None,
                "country": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "email": email,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "calculated_statement_descriptor": "STRIPE LOCAL",
        "captured": not declined,
        "created": store.now(),
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": "card_declined" if declined else None,
        "failure_message": card.message if declined else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "on_behalf_of": None,
        "outcome": {
            "network_status": "declined_by_network" if declined else "approved_by_network",
            "reason": card.decline_code,
            "risk_level": "normal",
            "risk_score": 20,
            "seller_message": (
                "The bank did not return any further details with this decline."
                if declined
                else "Payment complete."
            ),
            "type": "issuer_declined" if declined else "authorized",
        },
        "paid": not declined,
        "payment_intent": intent["id"],
        "payment_method": payment_method,
        "payment_method_details": {
            "card": {
                "brand": card.brand,
                "country": "US",
                "exp_month": 12,
                "exp_year": 2034,
                "funding": "credit",
                "last4": card.last4,
            },
            "type": "card",
        },
        "receipt_email": email,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "failed" if declined else "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }


# -- refunds ----------------------------------------------------------------------------------


def refundable_charge(store: Store, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The succeeded charge a refund request names, and the parameter that named it."""
    if params.get("charge") and params.get("payment_intent"):
        raise only_one_of("charge", "payment_intent")
    if params.get("charge"):
        return store.get("charge", params["charge"], param="charge"), "charge"
    if params.get("payment_intent"):
        intent = store.get("payment_intent", params["payment_intent"], param="payment_intent")
        charge = store.find("charge", intent["latest_charge"] or "")
        if intent["status"] != "succeeded" or charge is None:
            raise StripeError(
                f"PaymentIntent {intent['id']} does not have a successful charge to refund.",
                param="payment_intent",
                code="charge_not_refundable",
            )
        return charge, "payment_intent"
    raise StripeError(
        "One of the following params should be provided for this request: payment_intent or "
        "charge.",
        param="payment_intent",
        code="parameter_missing",
    )


def refund(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    """Refund all of a charge or `amount` of it; emits `charge.refunded` and `refund.created`."""
    charge, param = refundable_charge(store, params)
    if charge["status"] != "succeeded":
        raise StripeError(f"Charge {charge['id']} did not succeed.", param=param)
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise StripeError(
            f"Charge {charge['id']} has already been refunded.",
            param=param,
            code="charge_already_refunded",
        )
    amount = params.get("amount") or remaining
    if amount > remaining:
        raise StripeError(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining}).",
            param="amount",
            code="amount_too_large",
        )
    created = store.insert(
        {
            "id": new_id("re_"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": new_id("txn_"),
            "charge": charge["id"],
            "created": store.now(),
            "currency": charge["currency"],
            "destination_details": {"card": {"type": "refund"}, "type": "card"},
            "metadata": merged_metadata({}, params.get("metadata")),
            "payment_intent": charge["payment_intent"],
            "reason": params.get("reason"),
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
    )
    refunded_total = charge["amount_refunded"] + amount
    previous = changes(
        charge,
        {"amount_refunded": refunded_total, "refunded": refunded_total == charge["amount"]},
    )
    store.emit("charge.refunded", charge, previous)
    store.emit("refund.created", created)
    return created


# -- disputes ---------------------------------------------------------------------------------

DISPUTE_REASONS = (
    "bank_cannot_process",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
)


def dispute(store: Store, charge: dict[str, Any], reason: str = "fraudulent") -> dict[str, Any]:
    """The card holder disputes a charge; emits `charge.dispute.created`.
    (Stripe does this when the bank reports it; here a test asks for it.)"""
    if charge["status"] != "succeeded":
        raise StripeError(f"Charge {charge['id']} did not succeed; it cannot be disputed.")
    if charge["disputed"]:
        raise StripeError(f"Charge {charge['id']} is already disputed.")
    if reason not in DISPUTE_REASONS:
        raise StripeError(f"Invalid dispute reason: {reason}", param="reason")
    now = store.now()
    created = store.insert(
        {
            "id": new_id("dp_"),
            "object": "dispute",
            "amount": charge["amount"] - charge["amount_refunded"],
            "balance_transactions": [],
            "charge": charge["id"],
            "created": now,
            "currency": charge["currency"],
            "evidence_details": {
                "due_by": now + 7 * 86_400,
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
            },
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "needs_response",
        }
    )
    charge["disputed"] = True
    store.emit("charge.dispute.created", created)
    return created


def create_refund(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    return refund(store, params)


def retrieve(kind: str) -> Any:
    def handler(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
        return store.get(kind, id, param="id", status=404)

    handler.__name__ = f"retrieve_{kind}"
    return handler


def lister(kind: str, url: str, filters: tuple[str, ...]) -> Any:
    def handler(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
        items = list(reversed(store.all(kind)))
        for key in filters:
            if params.get(key) is not None:
                items = [item for item in items if item[key] == params[key]]
        return paginate(url, items, params)

    handler.__name__ = f"list_{kind}"
    return handler


ROUTES = [
    ApiRoute("GET", "/v1/payment_intents/{id}", retrieve("payment_intent"), Obj({})),
    ApiRoute(
        "GET",
        "/v1/payment_intents",
        lister("payment_intent", "/v1/payment_intents", ("customer",)),
        BY_CUSTOMER,
    ),
    ApiRoute("GET", "/v1/charges/{id}", retrieve("charge"), Obj({})),
    ApiRoute(
        "GET",
        "/v1/charges",
        lister("charge", "/v1/charges", ("customer", "payment_intent")),
        CHARGE_LIST,
    ),
    ApiRoute("POST", "/v1/refunds", create_refund, REFUND_CREATE),
    ApiRoute("GET", "/v1/disputes/{id}", retrieve("dispute"), Obj({})),
    ApiRoute(
        "GET",
        "/v1/disputes",
        lister("dispute", "/v1/disputes", ("charge", "payment_intent")),
        REFUND_LIST,
    ),
    ApiRoute("GET", "/v1/refunds/{id}", retrieve("refund"), Obj({})),
    ApiRoute(
        "GET",
        "/v1/refunds",
        lister("refund", "/v1/refunds", ("charge", "payment_intent")),
        REFUND_LIST,
    ),
]
