"""What each Stripe event does to members and entitlements: the table of handlers.

Unknown event types are recorded and ignored. See `paywall.billing.event_context` for what handlers
receive and `paywall.billing.webhooks` for the transaction around them.
"""

from __future__ import annotations

from collections.abc import Callable

from paywall.billing.event_context import SUBSCRIPTION_EVENTS, EventContext
from paywall.billing.on_checkout import on_checkout_session
from paywall.billing.on_reversal import on_charge_refunded, on_dispute_created
from paywall.billing.on_subscription import on_invoice, on_subscription

Handler = Callable[[EventContext], str]


def dispatch(ctx: EventContext) -> str:
    """Run the handler for the event type, then the event hooks (the growth engine's funnel
    purchase, partner commission and its reversal) in the same transaction; unknown types
    are recorded and ignored."""
    handler = HANDLERS.get(ctx.type)
    if handler is None:
        return f"ignored: {ctx.type} is not an event this site acts on"
    outcome = handler(ctx)
    for hook in ctx.pw.hooks.after_event:
        outcome = hook(ctx, outcome)
    return outcome


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
