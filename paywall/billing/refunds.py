"""Refunds asked from the members desk: the official SDK's `POST /v1/refunds` for the
payment behind a purchase. Nothing is revoked here: Stripe answers with `charge.refunded`,
and the webhook revokes the purchase exactly as for a refund made in Stripe's dashboard
(paywall.billing.on_reversal), so there is one path whichever way a refund starts."""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from paywall.billing import stripe_objects as so
from paywall.database.models import Entitlement
from paywall.members.audit import REFUND, record
from paywall.runtime.context import Paywall, StripeNotConfigured


class RefundError(RuntimeError):
    """A refund that was not asked or that Stripe refused; the message says which and why."""


@dataclass(frozen=True)
class AskedRefund:
    refund_id: str
    payment_intent: str
    amount: int
    currency: str
    status: str


def refundable(pw: Paywall, member_id: int, entitlement_id: int) -> Entitlement:
    """The member's purchase that can be refunded, or `RefundError` saying why not."""
    with pw.sessions() as db:
        row = db.get(Entitlement, entitlement_id)
        if row is None or row.member_id != member_id:
            raise RefundError(f"member #{member_id} has no entitlement #{entitlement_id}")
        if row.source != "purchase" or not row.stripe_object_id.startswith("pi_"):
            raise RefundError(
                f"{row.key} ({row.source}) is not a one-time purchase paid through Stripe: "
                "end it instead, or refund a subscription's invoice in Stripe's dashboard"
            )
        if row.status == "revoked":
            raise RefundError(f"{row.key} is already revoked ({row.note})")
        db.expunge(row)
        return row


def refund_purchase(pw: Paywall, member_id: int, entitlement_id: int, *, actor: str) -> AskedRefund:
    """Ask Stripe to refund the purchase in full and audit the request (with the refund's
    id); idempotent per payment, so a double click asks once."""
    row = refundable(pw, member_id, entitlement_id)
    payment_intent = row.stripe_object_id
    try:
        client = pw.stripe()
        refund = so.as_dict(
            client.v1.refunds.create(
                {
                    "payment_intent": payment_intent,
                    "reason": "requested_by_customer",
                    "metadata": {"kp_actor": actor[:500]},
                },
                {"idempotency_key": f"kp-refund-{payment_intent}"},
            )
        )
    except StripeNotConfigured:
        raise RefundError("Stripe is not configured (STRIPE_SECRET_KEY is not set)") from None
    except stripe.StripeError as exc:
        message = exc.user_message or str(exc) or type(exc).__name__
        raise RefundError(f"Stripe refused the refund of {payment_intent}: {message}") from None
    asked = AskedRefund(
        str(refund.get("id")),
        payment_intent,
        int(refund.get("amount") or 0),
        str(refund.get("currency") or ""),
        str(refund.get("status") or ""),
    )
    with pw.sessions.begin() as db:
        record(
            db,
            REFUND,
            now=pw.now(),
            actor=actor,
            member_id=member_id,
            key=row.key,
            source=row.source,
            detail=(
                f"refund {asked.refund_id} of {payment_intent} asked of Stripe "
                f"({asked.amount} {asked.currency}, {asked.status}); access ends with its "
                "charge.refunded webhook"
            ),
        )
    return asked


def dashboard_url(pw: Paywall, kind: str, object_id: str) -> str:
    """The object's page in Stripe's dashboard (the test-mode one for a test key)."""
    key = pw.settings.stripe_secret_key
    test = key is None or key.get_secret_value().startswith(("sk_test_", "rk_test_"))
    return f"https://dashboard.stripe.com/{'test/' if test else ''}{kind}/{object_id}"
