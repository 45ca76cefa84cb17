"""What each Stripe event does to members and entitlements: the table of handlers.

Unknown event types are recorded and ignored. See `paywall.event_context` for what handlers
receive and `paywall.webhooks` for the transaction around them.
"""

from __future__ import annotations

from collections.abc import Callable

from paywall.event_context import SUBSCRIPTION_EVENTS, EventContext
from paywall.growth import after_event
from paywall.on_checkout import on_checkout_session
from paywall.on_reversal import on_charge_refunded, on_dispute_created
from paywall.on_subscription import on_invoice, on_subscription

Handler = Callable[[EventContext], str]


def dispatch(ctx: EventContext) -> str:
    """Run the handler for the event type, then the growth bookkeeping (funnel purchase,
    partner commission and its reversal) in the same transaction; unknown types are
    recorded and ignored."""
    handler = HANDLERS.get(ctx.type)
    if handler is None:
        return f"ignored: {ctx.type} is not an event this site acts on"
    return after_event(ctx, handler(ctx))


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
