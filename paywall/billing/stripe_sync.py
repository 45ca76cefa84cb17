"""`kp stripe sync`: make Stripe's Products and Prices match what the build says is for sale.

Idempotent by construction: products have stable ids derived from the course or tier
(`kp_course_<slug>`, `kp_tier_<name>`), prices are found by their lookup key (one price per
currency: `<lookup_key>-<currency>` for the currencies after a product's main one, see
kp_contract.manifest.Price; a role's price on the same product: `role-<role>-<key>`). Stripe prices
cannot change amount, so a changed price is replaced: a new price takes the lookup key over
(`transfer_lookup_key`) and the old one is archived. Running it twice changes nothing.
A price pinned by id in front matter (`stripe_price`) is only checked, never modified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import stripe

from kp_contract.manifest import Manifest, Price, Tier, bundle_key, course_key, tier_key
from paywall.billing import stripe_objects as so

if TYPE_CHECKING:
    from stripe.params import PriceCreateParams, ProductCreateParams, ProductUpdateParams


@dataclass(frozen=True)
class ProductSpec:
    """A Stripe Product the site needs, with the prices that sell it."""

    product_id: str
    name: str
    description: str
    key: str
    prices: tuple[tuple[str, Price], ...]  # (label, price)


@dataclass(frozen=True)
class SyncLine:
    """One line of the sync report: what was (or would be) done to one object."""

    kind: str
    name: str
    action: str
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.kind} {self.name}: {self.action}"
        return f"{text} ({self.detail})" if self.detail else text


class SyncError(RuntimeError):
    """Stripe refused something; the message names the product or price."""


def product_id_for(kind: str, name: str) -> str:
    """Stable Stripe product id for a course or tier (Stripe allows [A-Za-z0-9_-])."""
    return f"kp_{kind}_" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


def plan(manifest: Manifest) -> list[ProductSpec]:
    """Products and prices the manifest sells. A subscription course that belongs to a tier
    is sold through the tier, so it has no product of its own."""
    specs = []
    for course in manifest.courses.values():
        if course.mode == "subscription" and course.tier:
            continue
        specs.append(
            ProductSpec(
                product_id=product_id_for("course", course.slug),
                name=course.title,
                description=course.summary,
                key=course_key(course.slug),
                prices=tuple(
                    (_label(course.slug, p, course.price), p) for p in course.price.every_currency()
                ),
            )
        )
    for tier in manifest.tiers.values():
        specs.append(
            ProductSpec(
                product_id=product_id_for("tier", tier.name),
                name=tier.title,
                description=tier.summary,
                key=tier_key(tier.name),
                prices=tuple(
                    (_label(f"{tier.name}/{i}", p, price), p)
                    for i, price in _tier_prices(tier)
                    for p in price.every_currency()
                ),
            )
        )
    for bundle in manifest.bundles.values():
        specs.append(
            ProductSpec(
                product_id=product_id_for("bundle", bundle.name),
                name=bundle.title,
                description=bundle.summary,
                key=bundle_key(bundle.name),
                prices=tuple(
                    (_label(bundle.name, p, bundle.price), p) for p in bundle.price.every_currency()
                ),
            )
        )
    return [_with_role_prices(spec, manifest) for spec in specs]


def _with_role_prices(spec: ProductSpec, manifest: Manifest) -> ProductSpec:
    """The product's role prices (`Manifest.roles`) added to its prices, each with its own
    lookup key (`role-<role>-<key>`), nicknamed `role <role> <key>`."""
    extra = [
        (f"role {role.name} {key}" + ("" if p.currency == price.currency else f" {p.currency}"), p)
        for role in manifest.roles.values()
        for key, price in role.prices.items()
        if key == spec.key or key.startswith(spec.key + ":")
        for p in price.every_currency()
    ]
    return replace(spec, prices=spec.prices + tuple(extra)) if extra else spec


def _tier_prices(tier: Tier) -> list[tuple[str, Price]]:
    """A tier's prices with their labels: each interval, lifetime access (once), and each
    gift of N months (once)."""
    prices: list[tuple[str, Price]] = list(tier.prices.items())
    if tier.lifetime is not None:
        prices.append(("lifetime", tier.lifetime))
    prices.extend((f"gift-{months}m", price) for months, price in sorted(tier.gifts.items()))
    return prices


def _label(name: str, price: Price, main: Price) -> str:
    """The price's nickname: the product (and interval), plus the currency when it is not
    the main one (`pro/month cny`)."""
    return name if price.currency == main.currency else f"{name} {price.currency}"


def sync_catalog(
    client: stripe.StripeClient, manifest: Manifest, *, dry_run: bool = False
) -> list[SyncLine]:
    """Create or update every product and price; with `dry_run`, only report."""
    lines: list[SyncLine] = []
    for spec in plan(manifest):
        try:
            lines.append(_sync_product(client, spec, dry_run))
            for label, price in spec.prices:
                lines.append(_sync_price(client, spec, label, price, dry_run))
        except stripe.StripeError as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SyncError(f"{spec.product_id} ({spec.key}): Stripe said: {message}") from None
    return lines


def _sync_product(client: stripe.StripeClient, spec: ProductSpec, dry_run: bool) -> SyncLine:
    try:
        current = so.as_dict(client.v1.products.retrieve(spec.product_id))
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "http_status", None) != 404:
            raise
        if not dry_run:
            wanted: ProductCreateParams = {
                "id": spec.product_id,
                "name": spec.name,
                "metadata": {so.META_PRODUCT: spec.key},
            }
            if spec.description:
                wanted["description"] = spec.description
            client.v1.products.create(wanted)
        return SyncLine("product", spec.product_id, _done("created", dry_run), spec.name)
    changed: ProductUpdateParams = {}
    if current.get("name") != spec.name:
        changed["name"] = spec.name
    if spec.description and current.get("description") != spec.description:
        changed["description"] = spec.description
    if so.metadata(current).get(so.META_PRODUCT) != spec.key:
        changed["metadata"] = {so.META_PRODUCT: spec.key}
    if current.get("active") is False:
        changed["active"] = True
    if not changed:
        return SyncLine("product", spec.product_id, "unchanged")
    if not dry_run:
        client.v1.products.update(spec.product_id, changed)
    return SyncLine(
        "product", spec.product_id, _done("updated", dry_run), ", ".join(sorted(changed))
    )


def _done(action: str, dry_run: bool) -> str:
    """`created`, or in a dry run `would be created`."""
    return f"would be {action}" if dry_run else action


def _sync_price(
    client: stripe.StripeClient, spec: ProductSpec, label: str, price: Price, dry_run: bool
) -> SyncLine:
    if not price.lookup_key:
        return _check_pinned_price(client, spec, label, price)
    found = so.as_dict(client.v1.prices.list({"lookup_keys": [price.lookup_key], "limit": 1}))
    current = (found.get("data") or [None])[0]
    describe = _describe(price)
    if current is not None and _matches(current, spec, price) and current.get("active"):
        return SyncLine("price", price.lookup_key, "unchanged", f"{current['id']}, {describe}")
    params: PriceCreateParams = {
        "product": spec.product_id,
        "currency": price.currency,
        "unit_amount": price.amount,
        "lookup_key": price.lookup_key,
        "transfer_lookup_key": True,
        "nickname": label,
        "metadata": {so.META_PRODUCT: spec.key},
    }
    if price.interval:
        params["recurring"] = {"interval": price.interval}
    if dry_run:
        action = "replaced" if current else "created"
        return SyncLine("price", price.lookup_key, f"would be {action}", describe)
    created = so.as_dict(client.v1.prices.create(params))
    if current is None:
        return SyncLine("price", price.lookup_key, "created", f"{created['id']}, {describe}")
    if current.get("active"):
        client.v1.prices.update(str(current["id"]), {"active": False})
    return SyncLine(
        "price", price.lookup_key, "replaced", f"{current['id']} → {created['id']}, {describe}"
    )


def _check_pinned_price(
    client: stripe.StripeClient, spec: ProductSpec, label: str, price: Price
) -> SyncLine:
    if not price.stripe_price:
        return SyncLine("price", label, "skipped", "no lookup_key or stripe_price in front matter")
    try:
        current = so.as_dict(client.v1.prices.retrieve(price.stripe_price))
    except stripe.InvalidRequestError:
        raise SyncError(f"{label}: stripe_price {price.stripe_price} does not exist") from None
    if _matches(current, spec, price, check_product=False):
        return SyncLine("price", price.stripe_price, "checked", _describe(price))
    return SyncLine(
        "price",
        price.stripe_price,
        "differs",
        f"Stripe has {current.get('unit_amount')} {current.get('currency')}, front matter "
        f"says {_describe(price)}; pinned price ids are not changed",
    )


def _matches(
    current: dict[str, Any], spec: ProductSpec, price: Price, *, check_product: bool = True
) -> bool:
    interval = (current.get("recurring") or {}).get("interval")
    return (
        current.get("unit_amount") == price.amount
        and str(current.get("currency", "")).lower() == price.currency.lower()
        and interval == price.interval
        and (not check_product or so.object_id(current.get("product")) == spec.product_id)
    )


def _describe(price: Price) -> str:
    per = f" per {price.interval}" if price.interval else " once"
    return f"{price.display}{per}"
