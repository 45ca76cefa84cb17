"""Offers: a Stripe coupon and its promotion code, made, read and ended through the SDK.

Stripe is the source of truth: `kp offers add` creates the coupon (percent or amount off,
limited with `applies_to[products]` to one course's or tier's product, `redeem_by`,
`max_redemptions`) and a promotion code for it (the code on the offer link `?offer=CODE`,
with the same expiry and limit); both carry `metadata.kp_offer` (the offer's name), which is
how an offer is told from a partner's code. Nothing is stored here. Before a Checkout
Session is created with the code, `check_offer` says whether it can be used for this
product in this currency, so an expired, used-up or wrong-product offer is explained to the
reader instead of failing at Stripe; `quote` is the price it gives, shown on the pages by
`GET /api/offer` (read through `OfferCache`, a short per-process cache).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import stripe

from kp_contract.manifest import Manifest, Price, course_key, tier_key
from kp_contract.money import ZERO_DECIMAL, display_price, to_minor_units
from paywall.billing import stripe_objects as so
from paywall.billing.checkout import Product
from paywall.billing.stripe_sync import product_id_for

META_OFFER = "kp_offer"
META_PRODUCT = "kp_offer_product"
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,39}$")
CACHE_SECONDS = 30.0
_EXPAND = ["data.promotion.coupon.applies_to"]


class OfferError(ValueError):
    """Bad `kp offers` input (name, amount, product, date, code), naming the option."""


@dataclass(frozen=True)
class Offer:
    """One offer as Stripe holds it (promotion code + coupon)."""

    name: str
    code: str
    promotion_code_id: str
    coupon_id: str
    percent_off: Decimal | None
    amount_off: int | None
    currency: str | None
    products: tuple[str, ...]
    """Stripe product ids the coupon is limited to; empty: anything."""
    product_key: str | None
    """`course:<slug>` or `tier:<name>` it was made for (for people; `products` decides)."""
    ends_at: dt.datetime | None
    """The first moment it no longer applies (the earlier of both expiries)."""
    max_redemptions: int | None
    times_redeemed: int
    used_up: bool
    active: bool

    def state(self, now: dt.datetime) -> str:
        """`active`, `ended` (`kp offers end`), `expired` or `used_up`."""
        if not self.active:
            return "ended"
        if self.ends_at is not None and now >= self.ends_at:
            return "expired"
        if self.used_up:
            return "used_up"
        return "active"

    @property
    def last_day(self) -> dt.date | None:
        """The last day it can be used (UTC), as `--expires` gave it."""
        return (self.ends_at - dt.timedelta(seconds=1)).date() if self.ends_at else None

    def off_label(self) -> str:
        """'20%' or '$10' (what it takes off)."""
        if self.percent_off is not None:
            text = f"{self.percent_off.normalize():f}"
            return f"{text}%"
        return display_price(self.amount_off or 0, self.currency or "usd")


# ---------------------------------------------------------------- reading from Stripe


def _timestamp(value: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value), dt.UTC) if isinstance(value, int) else None


def offer_from(promo: dict[str, Any]) -> Offer | None:
    """The offer a promotion code (coupon expanded) is, or None when it is not an offer."""
    coupon = (promo.get("promotion") or {}).get("coupon") or promo.get("coupon")
    meta = so.metadata(promo)
    if not isinstance(coupon, dict) or META_OFFER not in {**so.metadata(coupon), **meta}:
        return None
    applies = coupon.get("applies_to") or {}
    ends = [t for t in (promo.get("expires_at"), coupon.get("redeem_by")) if isinstance(t, int)]
    used = int(promo.get("times_redeemed") or 0)
    limits = [(n, used) for n in [promo.get("max_redemptions")] if n is not None]
    if coupon.get("max_redemptions") is not None:
        limits.append((coupon["max_redemptions"], int(coupon.get("times_redeemed") or 0)))
    percent = coupon.get("percent_off")
    return Offer(
        name=meta.get(META_OFFER) or so.metadata(coupon).get(META_OFFER, ""),
        code=str(promo["code"]),
        promotion_code_id=str(promo["id"]),
        coupon_id=str(coupon["id"]),
        percent_off=Decimal(str(percent)) if percent is not None else None,
        amount_off=coupon.get("amount_off"),
        currency=coupon.get("currency"),
        products=tuple(applies.get("products") or ()),
        product_key=meta.get(META_PRODUCT) or None,
        ends_at=_timestamp(min(ends)) if ends else None,
        max_redemptions=min(int(n) for n, _ in limits) if limits else None,
        times_redeemed=used,
        used_up=any(count >= int(n) for n, count in limits),
        active=bool(promo.get("active")),
    )


def find_offer(client: stripe.StripeClient, code: str) -> Offer | None:
    """The offer with this code (case-insensitive): the active promotion code, else the
    latest one (so an ended offer can say so). None for a code that is no offer."""
    wanted = normalize_code(code)
    if wanted is None:
        return None
    found = so.as_dict(
        client.v1.promotion_codes.list({"code": wanted, "limit": 10, "expand": _EXPAND})
    )
    offers = [o for o in (offer_from(p) for p in found.get("data") or []) if o is not None]
    active = [o for o in offers if o.active]
    chosen = active or offers
    return chosen[0] if chosen else None


def list_offers(client: stripe.StripeClient) -> list[Offer]:
    """Every offer (newest first), ended ones too."""
    page = client.v1.promotion_codes.list({"limit": 100, "expand": _EXPAND})
    offers = []
    for promo in page.auto_paging_iter():
        offer = offer_from(so.as_dict(promo))
        if offer is not None:
            offers.append(offer)
    return offers


def normalize_code(code: str | None) -> str | None:
    """An offer code as Stripe stores it (upper case), None when it cannot be one."""
    cleaned = (code or "").strip().upper()
    return cleaned if CODE_RE.match(cleaned) else None


# ---------------------------------------------------------------- using an offer


def stripe_product_id(product_key: str) -> str:
    """The Stripe product a course or tier is sold as (`kp stripe sync`'s ids)."""
    kind, _, name = product_key.partition(":")
    return product_id_for(kind, name)


def check_offer(offer: Offer | None, product: Product, price: Price, now: dt.datetime) -> str:
    """Why the offer cannot be used for `product` paid in `price`'s currency: `unknown`,
    `ended`, `expired`, `used_up`, `other_product`, `other_currency`; or `ok`."""
    if offer is None:
        return "unknown"
    state = offer.state(now)
    if state != "active":
        return state
    if offer.products and stripe_product_id(product.key) not in offer.products:
        return "other_product"
    if offer.amount_off is not None and (offer.currency or "") != price.currency:
        return "other_currency"
    return "ok"


def discounted(offer: Offer, amount: int) -> int:
    """What is left of `amount` (minor units) after the offer, rounded as Stripe rounds."""
    if offer.percent_off is not None:
        taken = (Decimal(amount) * offer.percent_off / 100).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        return max(0, amount - int(taken))
    return max(0, amount - (offer.amount_off or 0))


@dataclass(frozen=True)
class Quote:
    """An offer's price for one product in one currency, formatted for people."""

    price: str
    was: str
    off: str
    last_day: dt.date | None


def quote(offer: Offer, price: Price) -> Quote:
    return Quote(
        price=display_price(discounted(offer, price.amount), price.currency),
        was=price.display,
        off=offer.off_label(),
        last_day=offer.last_day,
    )


class OfferCache:
    """Every offer, listed from Stripe at most once per `seconds`, so pages showing an offer
    price never ask Stripe per view, and a flood of made-up codes (`/api/offer` is public)
    never reaches Stripe at all: an unknown code is simply not in the list. Checkout never
    reads it: it looks its code up afresh (`fresh`) and stores what it found."""

    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._offers: dict[str, Offer] = {}
        self._listed_at = -float("inf")
        self._lock = threading.Lock()  # guards _offers and _listed_at
        self._listing = threading.Lock()  # one listing at a time; the others wait for it

    def get(self, client: stripe.StripeClient, code: str) -> Offer | None:
        key = normalize_code(code)
        if key is None:
            return None
        if self._stale():
            with self._listing:
                if self._stale():
                    self._store_all(list_offers(client))
        with self._lock:
            return self._offers.get(key)

    def clear(self) -> None:
        with self._lock:
            self._offers, self._listed_at = {}, -float("inf")

    def fresh(self, client: stripe.StripeClient, code: str) -> Offer | None:
        offer = find_offer(client, code)
        key = normalize_code(code)
        if key is not None:
            with self._lock:
                if offer is None:
                    self._offers.pop(key, None)
                else:
                    self._offers[key] = offer
        return offer

    def _stale(self) -> bool:
        with self._lock:
            return time.monotonic() - self._listed_at >= self.seconds

    def _store_all(self, offers: list[Offer]) -> None:
        """By code: the active promotion code, else the latest (offers come newest first)."""
        chosen: dict[str, Offer] = {}
        for offer in offers:
            key = normalize_code(offer.code)
            if key is None:
                continue
            current = chosen.get(key)
            if current is None or (offer.active and not current.active):
                chosen[key] = offer
        with self._lock:
            self._offers, self._listed_at = chosen, time.monotonic()


# ---------------------------------------------------------------- making and ending offers


@dataclass(frozen=True)
class NewOffer:
    name: str
    code: str
    percent_off: Decimal | None
    amount_off: int | None
    currency: str | None
    product_key: str | None
    ends_at: dt.datetime | None
    max_redemptions: int | None


def check_new_offer(
    manifest: Manifest | None,
    name: str,
    *,
    percent: str | None,
    amount: str | None,
    currency: str | None,
    course: str | None,
    tier: str | None,
    expires: str | None,
    max_redemptions: int | None,
    code: str | None,
    today: dt.date,
) -> NewOffer:
    """Validate `kp offers add`'s options against the built site before Stripe is called."""
    clean = " ".join((name or "").split())
    if not clean or len(clean) > 40:
        raise OfferError("NAME: an offer needs a name of 1 to 40 characters")
    percent_off, amount_off, money = _discount(percent, amount, currency)
    product_key = _product(manifest, course, tier)
    ends_at = None
    if expires:
        try:
            last = dt.date.fromisoformat(expires)
        except ValueError:
            raise OfferError(f"--expires: {expires!r} is not a date (YYYY-MM-DD)") from None
        if last < today:
            raise OfferError(f"--expires: {expires} is in the past (today is {today})")
        ends_at = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
    if max_redemptions is not None and max_redemptions < 1:
        raise OfferError(f"--max-redemptions: {max_redemptions} must be 1 or more")
    chosen = (code or _default_code(clean, percent_off, amount_off)).strip().upper()
    if not CODE_RE.match(chosen):
        raise OfferError(
            f"--code: {chosen!r} must be 3-40 letters, digits or dashes, starting with a "
            "letter or digit (it goes in the offer link ?offer=CODE)"
        )
    return NewOffer(
        clean, chosen, percent_off, amount_off, money, product_key, ends_at, max_redemptions
    )


def _discount(
    percent: str | None, amount: str | None, currency: str | None
) -> tuple[Decimal | None, int | None, str | None]:
    if (percent is None) == (amount is None):
        raise OfferError("give either --percent P or --amount A --currency C")
    if percent is not None:
        if currency:
            raise OfferError("--currency goes with --amount, not with --percent")
        try:
            value = Decimal(percent)
        except InvalidOperation:
            raise OfferError(f"--percent: {percent!r} is not a number (like 20)") from None
        exponent = value.as_tuple().exponent
        if not isinstance(exponent, int) or exponent < -2 or not 0 < value <= 100:
            raise OfferError(f"--percent: {percent} must be more than 0 and at most 100")
        return value, None, None
    money = (currency or "").strip().lower()
    if not re.fullmatch(r"[a-z]{3}", money):
        raise OfferError("--amount needs --currency, a 3-letter code like usd or cny")
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise OfferError(f"--amount: {amount!r} is not a number (like 10)") from None
    if not value.is_finite() or value <= 0:
        raise OfferError(f"--amount: {amount} must be more than 0")
    minor = to_minor_units(value, money)
    if Decimal(minor) != (value if money in ZERO_DECIMAL else value * 100):
        raise OfferError(f"--amount: {amount} has more decimals than {money.upper()} takes")
    return None, minor, money


def _product(manifest: Manifest | None, course: str | None, tier: str | None) -> str | None:
    """The product the offer is limited to: a course, or a tier (a subscription course in a
    tier is sold as the tier, so its offer is the tier's)."""
    if course and tier:
        raise OfferError("give --course or --tier, not both")
    if not course and not tier:
        return None
    if manifest is None:
        raise OfferError("the site has not been built (kp build): cannot check --course/--tier")
    if course:
        found = manifest.courses.get(course)
        if found is None:
            known = ", ".join(sorted(manifest.courses)) or "none"
            raise OfferError(f"--course: there is no course {course!r} (courses: {known})")
        if found.mode == "subscription" and found.tier:
            return tier_key(found.tier)
        return course_key(found.slug)
    if tier not in manifest.tiers:
        known = ", ".join(sorted(manifest.tiers)) or "none"
        raise OfferError(f"--tier: there is no membership tier {tier!r} (tiers: {known})")
    return tier_key(str(tier))


def _default_code(name: str, percent: Decimal | None, amount: int | None) -> str:
    stem = re.sub(r"[^A-Z0-9]+", "", name.upper())[:30] or "OFFER"
    number = f"{percent.normalize():f}".replace(".", "-") if percent is not None else "OFF"
    code = f"{stem}{number}" if percent is not None else stem
    return code if len(code) >= 3 else f"{code}-OFFER"


def create_offer(client: stripe.StripeClient, new: NewOffer) -> Offer:
    """Coupon, then promotion code; if the code is refused (taken), the coupon is deleted
    so no orphan is left behind."""
    meta = {META_OFFER: new.name}
    params: dict[str, Any] = {"duration": "once", "name": new.name[:40], "metadata": meta}
    if new.percent_off is not None:
        params["percent_off"] = float(new.percent_off)
    else:
        params.update(amount_off=new.amount_off, currency=new.currency)
    if new.product_key:
        params["applies_to"] = {"products": [stripe_product_id(new.product_key)]}
    if new.ends_at:
        params["redeem_by"] = int(new.ends_at.timestamp())
    if new.max_redemptions:
        params["max_redemptions"] = new.max_redemptions
    coupon = so.as_dict(client.v1.coupons.create(params))  # type: ignore[arg-type]
    promo_params: dict[str, Any] = {
        "promotion": {"type": "coupon", "coupon": str(coupon["id"])},
        "code": new.code,
        "metadata": {**meta, **({META_PRODUCT: new.product_key} if new.product_key else {})},
    }
    if new.ends_at:
        promo_params["expires_at"] = int(new.ends_at.timestamp())
    if new.max_redemptions:
        promo_params["max_redemptions"] = new.max_redemptions
    try:
        client.v1.promotion_codes.create(promo_params)  # type: ignore[arg-type]
    except stripe.StripeError:
        client.v1.coupons.delete(str(coupon["id"]))
        raise
    offer = find_offer(client, new.code)
    if offer is None:  # pragma: no cover - Stripe just made it
        raise OfferError(f"Stripe does not list the new code {new.code}")
    return offer


def end_offer(client: stripe.StripeClient, code: str) -> Offer:
    """Deactivate the offer's promotion code (Stripe keeps it, and its redemptions)."""
    offer = find_offer(client, code)
    if offer is None or not offer.active:
        state = "ended already" if offer is not None else "not an offer"
        raise OfferError(f"{code!r}: {state} (kp offers list shows the offers)")
    client.v1.promotion_codes.update(offer.promotion_code_id, {"active": False})
    ended = find_offer(client, code)
    return ended or offer
