"""Role prices (`extra.paywall.roles`): what a member carrying a role pays for each product.

A role gives fixed prices for some products (`prices`, in every currency the product is
sold in) and/or `percent_off` for the others; both become concrete `Price`s in the manifest
(`Manifest.roles`), keyed like `kp_contract.manifest.price_key`, each with its own Stripe
lookup key (`role-<role>-<key>`, `kp stripe sync` creates them), so the paywall charges a
role price by looking it up, never by computing it. Nothing of it reaches `site/`: the
paywall shows a signed-in member their price at request time.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from kp_contract.manifest import Price, Role, currency_lookup_key, price_key, role_lookup_key
from kp_contract.money import display_price, to_minor_units
from site_builder.catalog import bundle_price, course_price, tier_lifetime, tier_prices
from site_builder.errors import ContentError
from site_builder.models import RoleConfig

if TYPE_CHECKING:
    from site_builder.content import ContentIndex


def base_prices(index: ContentIndex) -> dict[str, Price]:
    """Every product's everyone-else price by `price_key`: courses sold on their own
    (a subscription course in a tier is sold as the tier), each tier interval and lifetime,
    bundles."""
    prices: dict[str, Price] = {}
    for slug, course in sorted(index.courses.items()):
        meta = course.meta
        sold_as_tier = meta.mode == "subscription" and meta.tier_names()
        if not course.entry.published or sold_as_tier or not meta.price_per_currency():
            continue  # (no price: already reported)
        prices[price_key(f"course:{slug}")] = course_price(meta)
    for name, tier in index.extra.paywall.tiers.items():
        for interval, price in tier_prices(tier).items():
            prices[price_key(f"tier:{name}", interval)] = price
        lifetime = tier_lifetime(tier)
        if lifetime is not None:
            prices[price_key(f"tier:{name}", None)] = lifetime
    for name, bundle in index.extra.paywall.bundles.items():
        prices[price_key(f"bundle:{name}")] = bundle_price(bundle)
    return prices


def _role_price(role: str, key: str, base: Price, amounts: dict[str, int]) -> Price:
    """The role's `Price` for one product, in the base price's currencies (main first)."""
    lookup = role_lookup_key(role, key)
    made = []
    for position, one in enumerate(base.every_currency()):
        amount = amounts[one.currency]
        made.append(
            Price(
                amount=amount,
                currency=one.currency,
                display=display_price(amount, one.currency),
                lookup_key=lookup if position == 0 else currency_lookup_key(lookup, one.currency),
                interval=base.interval,
                trial_days=base.trial_days,
            )
        )
    first, *others = made
    return first.model_copy(update={"currencies": {p.currency: p for p in others}})


def _percent_off(amount: int, percent: int) -> int:
    value = Decimal(amount) * (100 - percent) / 100
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def role_prices(name: str, role: RoleConfig, base: dict[str, Price]) -> dict[str, Price]:
    """The role's price for every product it covers (validated beforehand by `role_errors`)."""
    prices: dict[str, Price] = {}
    for key, price in base.items():
        if key in role.prices:
            given = {code.lower(): major for code, major in role.prices[key].items()}
            amounts = {code: to_minor_units(major, code) for code, major in given.items()}
            prices[key] = _role_price(name, key, price, amounts)
        elif role.percent_off is not None:
            off = role.percent_off
            amounts = {p.currency: _percent_off(p.amount, off) for p in price.every_currency()}
            prices[key] = _role_price(name, key, price, amounts)
    return prices


def roles_manifest(index: ContentIndex) -> dict[str, Role]:
    """`Manifest.roles` for the build."""
    if not index.extra.paywall.roles:
        return {}
    base = base_prices(index)
    return {
        name: Role(
            name=name,
            title=role.title,
            titles={lang: text.title for lang, text in role.translations.items()},
            percent_off=role.percent_off,
            prices=role_prices(name, role, base),
            fixed=sorted(key for key in role.prices if key in base),
        )
        for name, role in sorted(index.extra.paywall.roles.items())
    }


def role_errors(index: ContentIndex, label: str = "mkdocs.yml") -> Iterator[ContentError]:
    """Each role price must be for a product for sale, in exactly the currencies that
    product is sold in; pages in another language need the role's title in theirs (the
    paywall names the role: "your distributor price")."""
    if "paywall" in index.extra.invalid or not index.extra.paywall.roles:
        return
    base = base_prices(index)
    other_langs = [lang for lang in index.langs() if lang != index.default_lang]
    for name, role in sorted(index.extra.paywall.roles.items()):
        where = f"extra.paywall.roles.{name}"
        for key, given in role.prices.items():
            product = base.get(key)
            if product is None:
                known = ", ".join(sorted(base)) or "nothing is for sale"
                yield ContentError(
                    label, f"{where}.prices.{key}", f"'{key}' is not for sale (for sale: {known})"
                )
                continue
            wanted = [p.currency for p in product.every_currency()]
            got = [code.lower() for code in given]
            if sorted(got) != sorted(wanted):
                yield ContentError(
                    label,
                    f"{where}.prices.{key}",
                    f"give the role's price in {', '.join(wanted)} (the currencies '{key}' is "
                    f"sold in), not {', '.join(got)}",
                )
        for lang in other_langs:
            if lang not in role.translations:
                yield ContentError(
                    label,
                    f"{where}.translations.{lang}",
                    f"'{lang}' readers are told their role's price: give its title in '{lang}'",
                )
