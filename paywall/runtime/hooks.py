"""Extension points of the paywall's flows: lists of functions run at fixed moments.

The layers below growth (sign-in, fulfilment) call the hooks; the growth engine attaches to
them (`paywall.growth.hooks.install`), so those layers never import it. Each hook runs in the
caller's transaction: a sign-in or an event is applied with what the hooks did, or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SignInHook = Callable[..., None]
"""`(pw, db, member, token, was_confirmed)`: after a magic link was used
(`paywall.members.sign_in.consume_login_token`); `was_confirmed` tells whether the member's
address was confirmed before this sign-in."""

EventHook = Callable[[Any, str], str]
"""`(ctx, outcome) -> outcome`: after the fulfilment handler applied a Stripe event
(`paywall.billing.fulfillment.dispatch`, `ctx` an `EventContext`); returns the outcome text,
with what the hook booked appended."""


@dataclass
class Hooks:
    after_sign_in: list[SignInHook] = field(default_factory=list)
    after_event: list[EventHook] = field(default_factory=list)
