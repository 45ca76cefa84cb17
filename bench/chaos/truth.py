"""The ground truth: what each buyer should end up with, read from the local Stripe server's
own final state of their payments and subscriptions (not from what the script meant to do).

The rules are the site's promise to buyers, written down once here:
- a paid one-time purchase grants its course for good, unless its charge was refunded in
  full or disputed (then the grant is `revoked`); a partial refund keeps it;
- a subscription grants its tier while Stripe calls it `active`/`trialing`, and while it is
  `past_due` (the grace period: the row stays `active`, `stripe_status` says past_due);
  once `canceled` (or `unpaid`, `incomplete_expired`) the grant is `expired`; a dispute of
  any of its payments revokes it (`revoked`), a refund of an invoice does not end it;
- an unpaid (abandoned, expired) checkout grants nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stripe_local.server import LocalStripe

from kp_contract.manifest import Manifest, course_key, tier_key

GRANTING = ("active", "trialing", "past_due")
ENDED = ("canceled", "unpaid", "incomplete_expired")


@dataclass(frozen=True)
class Expected:
    """One buyer's entitlement as it must be: `status` None means no entitlement at all."""

    key: str | None
    source: str | None  # purchase | subscription
    object_id: str | None  # the payment intent or subscription the row is keyed by
    status: str | None  # active | revoked | expired | pending | None
    stripe_status: str | None  # the subscription's status, for subscriptions
    valid_until: int | None  # an active subscription's paid period end (Stripe time)
    why: str
    related: tuple[str, ...]  # every Stripe id of the purchase (for the evidence)
    #: Row statuses that are right (more than one only where the order of events may
    #: legitimately decide: a disputed subscription that also ended is revoked or expired).
    accept: tuple[str, ...] = ()

    @property
    def accepted(self) -> tuple[str | None, ...]:
        return self.accept or (self.status,)


def key_for_lookup(manifest: Manifest, lookup_key: str | None, price_id: str) -> str | None:
    """The entitlement a price sells, from the build's manifest (tiers before courses)."""
    for tier in manifest.tiers.values():
        for price in tier.prices.values():
            if price.stripe_price == price_id or (lookup_key and price.lookup_key == lookup_key):
                return tier_key(tier.name)
    for course in manifest.courses.values():
        price = course.price
        if price.stripe_price == price_id or (lookup_key and price.lookup_key == lookup_key):
            if course.mode == "subscription" and course.tier:
                return tier_key(course.tier)
            return course_key(course.slug)
    return None


def expected_for_session(ls: LocalStripe, manifest: Manifest, session_id: str) -> Expected:
    """What the buyer of Checkout Session `session_id` must hold now."""
    store = ls.store
    with store.lock:
        session = store.find("checkout.session", session_id)
        if session is None:
            return Expected(None, None, None, None, None, None, "no session", ())
        lines = store.private_of(session_id).get("lines") or []
        price = store.find("price", lines[0][1]) if lines else None
        key = key_for_lookup(manifest, price.get("lookup_key"), price["id"]) if price else None
        related = tuple(
            x for x in (session_id, session["payment_intent"], session["subscription"]) if x
        )
        if session["status"] != "complete" or session["payment_status"] not in (
            "paid",
            "no_payment_required",
        ):
            why = f"checkout {session['status']}, {session['payment_status']}"
            return Expected(None, None, None, None, None, None, why, related)
        if session["mode"] == "payment":
            return _one_time(ls, session, key, related)
        return _subscription(ls, session, key, related)


def _one_time(
    ls: LocalStripe, session: dict[str, Any], key: str | None, related: tuple[str, ...]
) -> Expected:
    store = ls.store
    intent = store.get("payment_intent", session["payment_intent"])
    charge = store.get("charge", intent["latest_charge"])
    related = (*related, charge["id"])
    if charge["disputed"]:
        status, why = "revoked", f"charge {charge['id']} disputed"
    elif charge["refunded"]:
        status, why = "revoked", f"charge {charge['id']} refunded in full"
    elif charge["amount_refunded"]:
        status, why = "active", f"paid, {charge['amount_refunded']} of {charge['amount']} refunded"
    else:
        status, why = "active", "paid"
    return Expected(key, "purchase", intent["id"], status, None, None, why, related)


def _subscription(
    ls: LocalStripe, session: dict[str, Any], key: str | None, related: tuple[str, ...]
) -> Expected:
    store = ls.store
    sub = store.get("subscription", session["subscription"])
    disputed = []
    for invoice in store.all("invoice"):
        details = (invoice.get("parent") or {}).get("subscription_details") or {}
        if details.get("subscription") != sub["id"]:
            continue
        intent = store.find(
            "payment_intent", store.private_of(invoice["id"]).get("payment_intent", "")
        )
        charge = store.find("charge", (intent or {}).get("latest_charge") or "")
        if charge is not None and charge["disputed"]:
            disputed.append(charge["id"])
    status = sub["status"]
    if disputed:
        return Expected(
            key,
            "subscription",
            sub["id"],
            "revoked",
            None,
            None,
            f"subscription {status}, charge {disputed[0]} disputed",
            (*related, *disputed),
            ("revoked", "expired") if status in ENDED else (),
        )
    if status in GRANTING:
        until = sub["current_period_end"] if status != "past_due" else None
        why = f"subscription {status}" + (" (grace)" if status == "past_due" else "")
        if sub["cancel_at_period_end"]:
            why += ", cancels at period end"
        return Expected(key, "subscription", sub["id"], "active", status, until, why, related)
    if status == "incomplete":
        return Expected(
            key, "subscription", sub["id"], "pending", status, None, "incomplete", related
        )
    reason = (sub.get("cancellation_details") or {}).get("reason") or "ended"
    return Expected(
        key,
        "subscription",
        sub["id"],
        "expired",
        status,
        None,
        f"subscription {status} ({reason})",
        related,
    )
