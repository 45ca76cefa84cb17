"""Reading Stripe objects (webhook payloads or fresh API reads) as plain dicts.

Stripe moved some fields between API versions (a subscription's `current_period_end` now
lives on its items; an invoice's subscription under `parent.subscription_details`), so every
accessor here looks in both places. Nothing here talks to the network or the database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kp_contract.manifest import Manifest, bundle_key, course_key, tier_key

# Metadata keys our Checkout Sessions carry (also copied onto the subscription / payment).
META_PRODUCT = "kp_product"
META_MEMBER = "kp_member_id"
META_FROM = "kp_from"
META_INTENT = "kp_intent"  # hash of a signed-out buyer's browser nonce (members.sign_in)
META_LANG = "kp_lang"  # the buyer's language: e-mails to a member created by the webhook
META_GIFT = "kp_gift"  # a gift's id (paywall.billing.gifts): bought for someone else
META_ROLE = "kp_role"  # the buyer's price role when a role price was charged

# Subscription statuses, grouped by what they mean for access.
SUB_GRANTING = ("active", "trialing")
SUB_GRACE = ("past_due",)
SUB_PENDING = ("incomplete",)
SUB_ENDED = ("canceled", "unpaid", "incomplete_expired", "paused")


def as_dict(obj: Any) -> dict[str, Any]:
    """A StripeObject (or dict) as a plain, JSON-able dict."""
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is None:
        raise TypeError(f"not a Stripe object: {type(obj).__name__}")
    return to_dict()


def object_id(value: Any) -> str | None:
    """An id field that may be a bare id or an expanded object."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        found = value.get("id")
        return found if isinstance(found, str) else None
    return None


def timestamp(value: Any) -> dt.datetime | None:
    """Stripe's unix seconds as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return dt.datetime.fromtimestamp(int(value), dt.UTC)


def metadata(obj: dict[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata")
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


def subscription_period_end(sub: dict[str, Any]) -> dt.datetime | None:
    """End of the paid period: on the subscription (older API versions) or the latest of
    its items' ends (current API versions)."""
    found = timestamp(sub.get("current_period_end"))
    if found is not None:
        return found
    item_ends = [
        timestamp(item.get("current_period_end"))
        for item in (sub.get("items") or {}).get("data") or []
        if isinstance(item, dict)
    ]
    ends = [end for end in item_ends if end is not None]
    return max(ends) if ends else None


def subscription_period_start(sub: dict[str, Any]) -> dt.datetime | None:
    """Start of the current period (for a past_due subscription: when the unpaid period
    began), wherever this API version puts it."""
    found = timestamp(sub.get("current_period_start"))
    if found is not None:
        return found
    item_starts = [
        timestamp(item.get("current_period_start"))
        for item in (sub.get("items") or {}).get("data") or []
        if isinstance(item, dict)
    ]
    starts = [start for start in item_starts if start is not None]
    return max(starts) if starts else None


def subscription_prices(sub: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    """(price id, lookup key) of each subscription item."""
    found = []
    for item in (sub.get("items") or {}).get("data") or []:
        price = item.get("price") if isinstance(item, dict) else None
        if isinstance(price, dict):
            found.append((price.get("id"), price.get("lookup_key")))
        elif isinstance(price, str):
            found.append((price, None))
    return found


def invoice_subscription_id(invoice: dict[str, Any]) -> str | None:
    """The subscription an invoice bills, wherever this API version puts it."""
    direct = object_id(invoice.get("subscription"))
    if direct:
        return direct
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    if isinstance(details, dict):
        return object_id(details.get("subscription"))
    for line in (invoice.get("lines") or {}).get("data") or []:
        found = object_id(line.get("subscription")) if isinstance(line, dict) else None
        if found:
            return found
    return None


def invoice_period_end(invoice: dict[str, Any]) -> dt.datetime | None:
    """The latest period end among the invoice's lines (what this payment paid up to)."""
    ends = []
    for line in (invoice.get("lines") or {}).get("data") or []:
        period = line.get("period") if isinstance(line, dict) else None
        if isinstance(period, dict):
            end = timestamp(period.get("end"))
            if end is not None:
                ends.append(end)
    return max(ends) if ends else None


def session_email(session: dict[str, Any]) -> str | None:
    """The buyer's e-mail as Checkout collected it."""
    details = session.get("customer_details")
    if isinstance(details, dict) and details.get("email"):
        return str(details["email"])
    return str(session["customer_email"]) if session.get("customer_email") else None


def related_id(event_type: str, obj: dict[str, Any]) -> str | None:
    """The payment intent or subscription an event's object belongs to, so a late event
    can find what earlier (or, out of order, later) events did to the same payment."""
    if event_type.startswith("checkout.session."):
        return object_id(obj.get("payment_intent")) or object_id(obj.get("subscription"))
    if event_type.startswith("charge."):
        return object_id(obj.get("payment_intent"))
    if event_type.startswith("customer.subscription."):
        return object_id(obj.get("id"))
    if event_type.startswith("invoice."):
        return invoice_subscription_id(obj)
    return None


def product_for_prices(
    manifest: Manifest | None, prices: list[tuple[str | None, str | None]]
) -> str | None:
    """The entitlement key a price sells, found in the manifest by price id or lookup key
    (for sessions and subscriptions created outside our checkout, e.g. Payment Links)."""
    if manifest is None:
        return None
    wanted_ids = {pid for pid, _ in prices if pid}
    wanted_keys = {key for _, key in prices if key}

    def matches(stripe_price: str | None, lookup_key: str | None) -> bool:
        return (stripe_price in wanted_ids) or (
            lookup_key is not None and lookup_key in wanted_keys
        )

    for tier in manifest.tiers.values():
        sold = [*tier.prices.values(), *([tier.lifetime] if tier.lifetime else [])]
        every = [p for price in sold for p in price.every_currency()]
        if any(matches(p.stripe_price, p.lookup_key) for p in every):
            return tier_key(tier.name)
    for bundle in manifest.bundles.values():
        if any(matches(p.stripe_price, p.lookup_key) for p in bundle.price.every_currency()):
            return bundle_key(bundle.name)
    for course in manifest.courses.values():
        if any(matches(p.stripe_price, p.lookup_key) for p in course.price.every_currency()):
            if course.mode == "subscription" and course.tier:
                return tier_key(course.tier)
            return course_key(course.slug)
    return None
