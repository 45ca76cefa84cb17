"""`GET /api/prices?lang=…`: a signed-in member's role prices, for `assets/kp/roles.js`.

A member carrying a price role (`members.role`) is shown their price on every checkout
form of the course pages, the paywall block and the pricing page, with the reason ("Your
distributor price: ¥199 (¥299 for everyone else)."). The static pages hold everyone's
price only: role prices and role names are answered here, at request time, to the member
they apply to, and never written into `site/`. Checkout charges the same price
(`paywall.billing.checkout.price_for` with the member's role).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kp_contract.manifest import Manifest
from paywall.billing.checkout import CheckoutError, Product, resolve_product, role_price_for
from paywall.billing.role_prices import RoleQuote
from paywall.members.sign_in import COOKIE_NAME, current_member
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db
from paywall.runtime.lang import preferred_lang, t

NO_STORE = {"Cache-Control": "private, no-store", "Vary": "Cookie"}


def product_for_key(manifest: Manifest, key: str) -> Product | None:
    """The product a role price key (`course:x`, `tier:pro:year`, `bundle:y`) sells."""
    kind, _, rest = key.partition(":")
    name, _, interval = rest.partition(":")
    try:
        if kind == "course":
            return resolve_product(manifest, name, None, None)
        if kind == "tier":
            return resolve_product(manifest, None, name, interval)
        if kind == "bundle":
            return resolve_product(manifest, None, None, None, bundle=name)
    except CheckoutError:
        return None
    return None


def role_note(lang: str, quote: RoleQuote) -> str:
    """Which price applies and why: "Your distributor price: ¥199 (¥299 for everyone else)."."""
    values = {
        "role": quote.role.title_in(lang),
        "price": shown(lang, quote.price.display, quote.price.interval),
        "was": shown(lang, quote.was.display, quote.was.interval),
    }
    if quote.percent_off is not None:
        return t(lang, "roles.note_percent", off=str(quote.percent_off), **values)
    return t(lang, "roles.note", **values)


def shown(lang: str, display: str, interval: str | None) -> str:
    """A price as the forms write it: `$12 / month`."""
    return f"{display} {t(lang, f'theme.per_{interval}')}" if interval else display


def describe(lang: str, product: Product, quote: RoleQuote) -> dict[str, Any]:
    """One product's role price as roles.js shows it."""
    price = shown(lang, quote.price.display, quote.price.interval)
    if product.key.startswith("bundle:"):
        button = t(lang, "theme.buy_bundle", price=quote.price.display)
    elif product.mode == "subscription":
        button = t(lang, "theme.subscribe_for", price=price)
    elif product.key.startswith("tier:"):  # lifetime: its button names no price
        button = t(lang, "theme.buy_lifetime")
    else:
        button = t(lang, "theme.buy_for", price=quote.price.display)
    return {
        "price": quote.price.display,
        "amount": quote.price.amount,
        "currency": quote.price.currency,
        "was": quote.was.display,
        "note": role_note(lang, quote),
        "button": button,
    }


def prices_payload(pw: Paywall, role: str | None, lang: str) -> dict[str, Any]:
    """Every role price of the member's role, by price key, in their language's currency."""
    manifest = pw.manifest()
    found = manifest.roles.get(role) if manifest is not None and role else None
    if manifest is None or found is None:
        return {"role": None, "prices": {}}
    prices = {}
    for key in found.prices:
        product = product_for_key(manifest, key)
        quote = role_price_for(pw, product, lang, role) if product is not None else None
        if product is not None and quote is not None:
            prices[key] = describe(lang, product, quote)
    return {"role": found.name, "title": found.title_in(lang), "prices": prices}


async def role_prices_api(request: Request) -> Response:
    """GET /api/prices?lang=…: the signed-in member's role prices (none for anyone else)."""
    pw: Paywall = request.app.state.paywall
    member = await run_db(pw, current_member, request) if COOKIE_NAME in request.cookies else None
    lang = preferred_lang(pw, request, request.query_params.get("lang"), member=member)
    role = member.role if member is not None else None
    return JSONResponse(prices_payload(pw, role, lang), headers=NO_STORE)


routes = [Route("/api/prices", role_prices_api, methods=["GET"])]
