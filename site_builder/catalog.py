"""What the site sells: course and tier prices as `kp_contract.manifest.Price`, from front
matter and `extra.paywall`. One place so the price a reader sees is the price the paywall charges.

A price given per currency (`prices: {usd: 49, cny: 299}`) becomes one `Price` in its first
(main) currency with the others in `Price.currencies`, each with its own lookup key
(`<lookup_key>-<currency>`): one Stripe price per currency, so a reader's currency is chosen
by the site (`extra.paywall.currency_by_lang`), not by Stripe.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from kp_contract.manifest import Interval, Price, currency_lookup_key
from kp_contract.money import display_price, to_minor_units
from site_builder.models import BundleConfig, CourseMeta, TierConfig


def _priced(
    amounts: Mapping[str, float | Decimal],
    *,
    stripe_price: str | None,
    lookup_key: str | None,
    interval: Interval | None,
    trial_days: int | None = None,
) -> Price:
    """One `Price` per currency of `amounts` (main currency first), nested as the manifest
    keeps them."""
    prices = []
    for position, (currency, major) in enumerate(amounts.items()):
        amount = to_minor_units(major, currency)
        main = position == 0
        prices.append(
            Price(
                amount=amount,
                currency=currency,
                display=display_price(amount, currency),
                stripe_price=stripe_price if main else None,
                lookup_key=lookup_key
                if main or not lookup_key
                else currency_lookup_key(lookup_key, currency),
                interval=interval,
                trial_days=trial_days,
            )
        )
    first, *others = prices
    if not others:
        return first
    return first.model_copy(update={"currencies": {p.currency: p for p in others}})


def course_price(meta: CourseMeta) -> Price:
    """The course's Stripe price; recurring (with `interval`) for subscription courses."""
    return _priced(
        meta.price_per_currency(),
        stripe_price=meta.stripe_price,
        lookup_key=meta.lookup_key,
        interval=meta.interval if meta.mode == "subscription" else None,
    )


def tier_prices(tier: TierConfig) -> dict[Interval, Price]:
    """Monthly and/or yearly prices of a membership tier, month first."""
    prices: dict[Interval, Price] = {}
    for interval in ("month", "year"):
        configured = tier.prices.get(interval)
        if configured is None:
            continue
        prices[interval] = _priced(
            tier.price_per_currency(interval),
            stripe_price=configured.stripe_price,
            lookup_key=configured.lookup_key,
            interval=interval,
            trial_days=configured.trial_days,
        )
    return prices


def tier_lifetime(tier: TierConfig) -> Price | None:
    """A tier's one-time lifetime price (no interval), or None."""
    if tier.lifetime is None:
        return None
    return _priced(
        tier.lifetime_per_currency(),
        stripe_price=tier.lifetime.stripe_price,
        lookup_key=tier.lifetime.lookup_key,
        interval=None,
    )


def gift_lookup_key(month_lookup_key: str, months: int) -> str:
    """The lookup key of a gift of `months` months of a tier: `pro-month-gift-3m`."""
    return f"{month_lookup_key}-gift-{months}m"


def tier_gifts(tier: TierConfig) -> dict[int, Price]:
    """One-time prices of `gift_months`: N times the monthly price, in each currency."""
    month = tier.prices.get("month")
    if not tier.gift_months or month is None or not month.lookup_key:
        return {}
    monthly = tier.price_per_currency("month")
    return {
        months: _priced(
            {code: Decimal(str(major)) * months for code, major in monthly.items()},
            stripe_price=None,
            lookup_key=gift_lookup_key(month.lookup_key, months),
            interval=None,
        )
        for months in sorted(tier.gift_months)
    }


def bundle_price(bundle: BundleConfig) -> Price:
    """A bundle's one-time price, in each of its currencies."""
    return _priced(
        bundle.price_per_currency(),
        stripe_price=bundle.stripe_price,
        lookup_key=bundle.lookup_key,
        interval=None,
    )
