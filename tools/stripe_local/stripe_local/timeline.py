"""Moving the clock: everything that falls due on the way happens, in time order.

Subscriptions renew, end their trial or end at `current_period_end` (announcing a trial's end
three days before), failed invoices are retried at
`next_payment_attempt`, open Checkout Sessions expire at `expires_at`. Each runs with the
clock pinned to the moment it was due, so its objects and events carry that time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stripe_local.errors import StripeError
from stripe_local.resources.billing import (
    LIVE_STATUSES,
    announce_trial_end,
    reach_period_end,
    retry_invoice,
    trial_notice_due,
)
from stripe_local.resources.checkout import expire
from stripe_local.store import Store

#: Far more steps than any test needs; stops a runaway loop instead of hanging.
MAX_STEPS = 10_000

Due = tuple[int, int, Callable[[Store, dict[str, Any]], None], dict[str, Any]]


def _due(store: Store) -> list[Due]:
    """(when, tie-break order, action, object) for everything scheduled."""
    items: list[Due] = []
    for sub in store.all("subscription"):
        if sub["status"] in LIVE_STATUSES:
            items.append((sub["current_period_end"], 0, reach_period_end, sub))
        notice = trial_notice_due(store, sub)
        if notice is not None:
            items.append((notice, 0, announce_trial_end, sub))
    for invoice in store.all("invoice"):
        if invoice["status"] == "open" and invoice["next_payment_attempt"] is not None:
            items.append((invoice["next_payment_attempt"], 1, retry_invoice, invoice))
    for session in store.all("checkout.session"):
        if session["status"] == "open":
            items.append((session["expires_at"], 2, expire, session))
    return items


def advance_to(store: Store, target: int) -> int:
    """Run everything due up to `target`, then set the clock there. Returns steps taken."""
    start = store.now()
    if target < start:
        raise StripeError(f"The clock cannot go backwards (now {start}, asked for {target}).")
    for step in range(MAX_STEPS):
        due = [item for item in _due(store) if item[0] <= target]
        if not due:
            store.clock.set_time(target)
            return step
        when, _, action, obj = min(due, key=lambda item: (item[0], item[1]))
        with store.clock.pinned(max(when, start)):
            action(store, obj)
    raise StripeError(f"More than {MAX_STEPS} scheduled steps before {target}; giving up.")


def advance(store: Store, seconds: int) -> int:
    if seconds < 0:
        raise StripeError("advance() takes a non-negative number of seconds.", param="seconds")
    return advance_to(store, store.now() + seconds)
