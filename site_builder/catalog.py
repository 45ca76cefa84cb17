"""What the site sells: course and tier prices as `kp_contract.manifest.Price`, from front
matter and `extra.paywall`. One place so the price a reader sees is the price the paywall charges.
"""

from __future__ import annotations

from kp_contract.manifest import Interval, Price
from kp_contract.money import display_price, to_minor_units
from site_builder.models import CourseMeta, TierConfig


def course_price(meta: CourseMeta) -> Price:
    """The course's Stripe price; recurring (with `interval`) for subscription courses."""
    currency = meta.currency.lower()
    amount = to_minor_units(meta.price, currency)
    return Price(
        amount=amount,
        currency=currency,
        display=display_price(amount, currency),
        stripe_price=meta.stripe_price,
        lookup_key=meta.lookup_key,
        interval=meta.interval if meta.mode == "subscription" else None,
    )


def tier_prices(tier: TierConfig) -> dict[Interval, Price]:
    """Monthly and/or yearly prices of a membership tier, month first."""
    currency = tier.currency.lower()
    prices: dict[Interval, Price] = {}
    for interval in ("month", "year"):
        configured = tier.prices.get(interval)
        if configured is None:
            continue
        amount = to_minor_units(configured.price, currency)
        prices[interval] = Price(
            amount=amount,
            currency=currency,
            display=display_price(amount, currency),
            stripe_price=configured.stripe_price,
            lookup_key=configured.lookup_key,
            interval=interval,
        )
    return prices
