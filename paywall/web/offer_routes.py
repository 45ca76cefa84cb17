"""Offers on the pages and at checkout (`paywall.billing.offers` holds the rules).

`GET /api/offer?code=…&course=…` (or `tier=…&interval=…`, and `lang`) answers what an offer
link's code gives on this product in the reader's currency, for `offers.js` to show on the
course page and the paywall block: the offer price, what it is off and its last day, or why
it does not apply. Nothing of it is in `site/`: the answer is made here, at request time,
from Stripe through a 30-second cache. `checkout_offer` is what `POST /api/checkout` does
with the form's `offer` field: look the code up afresh, and either return its promotion
code for the session's `discounts` or raise `OfferUnavailable`, which
`offer_unavailable_page` explains in the reader's language.
"""

from __future__ import annotations

from typing import Any

import stripe
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from kp_contract.i18n import format_date
from paywall.billing.checkout import (
    CheckoutError,
    Product,
    price_for,
    resolve_product,
)
from paywall.billing.offers import Offer, OfferCache, check_offer, normalize_code, quote
from paywall.members.sign_in import COOKIE_NAME, current_member
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import StripeBusy, run_db, run_stripe
from paywall.runtime.lang import preferred_lang, t
from paywall.runtime.logs import get_logger, kv
from paywall.runtime.pages import esc, render_page

log = get_logger("paywall.web.offer_routes")

STATUS = {
    "unknown": 404,
    "ended": 410,
    "expired": 410,
    "used_up": 410,
    "other_product": 409,
    "other_currency": 409,
}
"""The HTTP status of each reason an offer does not apply."""


class OfferUnavailable(Exception):
    """The checkout form's offer cannot be used; `message` says why, in the reader's words."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def offer_cache(request: Request) -> OfferCache:
    """The app's offer cache (one per app, so per worker process)."""
    state = request.app.state
    cache = getattr(state, "offer_cache", None)
    if cache is None:
        cache = state.offer_cache = OfferCache()
    return cache


def sentences(lang: str, *parts: str) -> str:
    """Sentences one after the other: spaced in English, run on in Chinese."""
    return ("" if lang == "zh" else " ").join(parts)


def why_not(lang: str, reason: str, offer: Offer | None, code: str, product: Product) -> str:
    """The sentence that says why an offer does not apply here."""
    values: dict[str, str] = {"code": offer.code if offer else code, "product": product.title}
    if reason == "expired" and offer is not None and offer.last_day is not None:
        values["date"] = format_date(offer.last_day, lang)
    elif reason == "other_currency" and offer is not None:
        values["currency"] = (offer.currency or "").upper()
    elif reason == "expired":
        reason = "ended"
    return t(lang, f"offers.{reason}", **values)


def describe(
    pw: Paywall, lang: str, offer: Offer, product: Product, role: str | None = None
) -> dict[str, Any]:
    """What the pages show for a usable offer: prices, what it is off, its last day, and
    the sentence and button label built from them (off a member's role price, which is
    what checkout takes it off)."""
    price = price_for(pw, product, lang, role)
    q = quote(offer, price)
    per = t(lang, f"theme.per_{price.interval}") if price.interval else ""
    shown = f"{q.price} {per}".strip()
    parts = [t(lang, "offers.deal", code=offer.code, price=shown, was=q.was, off=q.off)]
    if price.interval:
        parts.append(t(lang, "offers.first_payment"))
    ends = format_date(q.last_day, lang) if q.last_day else None
    if ends:
        parts.append(t(lang, "offers.ends", date=ends))
    deal = sentences(lang, *parts)
    button_key = "theme.subscribe_for" if product.mode == "subscription" else "theme.buy_for"
    return {
        "ok": True,
        "code": offer.code,
        "name": offer.name,
        "price": q.price,
        "was": q.was,
        "off": q.off,
        "currency": price.currency,
        "ends": q.last_day.isoformat() if q.last_day else None,
        "ends_text": ends,
        "deal": deal,
        "button": t(lang, button_key, price=shown),
    }


def checkout_offer(
    pw: Paywall,
    cache: OfferCache,
    product: Product,
    lang: str,
    code: str,
    role: str | None = None,
) -> str:
    """The promotion code id to apply, looked up in Stripe now (not from the cache), or
    `OfferUnavailable` saying why not. Runs in the Stripe lane."""
    offer = cache.fresh(pw.stripe(), code)
    reason = check_offer(offer, product, price_for(pw, product, lang, role), pw.now())
    if reason != "ok" or offer is None:
        log.info(kv("offer.refused", code=normalize_code(code), reason=reason))
        raise OfferUnavailable(reason, why_not(lang, reason, offer, code, product))
    return offer.promotion_code_id


def offer_unavailable_page(
    pw: Paywall, request: Request, lang: str, exc: OfferUnavailable, back: str
) -> HTMLResponse:
    """Instead of a Stripe error: why the offer does not apply, and the way back to the
    page (where the full price can still be paid)."""
    body = (
        '<section class="kp-checkout kp-offer-refused">'
        f"<p>{esc(sentences(lang, exc.message, t(lang, 'offers.nothing_charged')))}</p>"
        f'<p><a class="md-button" href="{esc(back)}">{esc(t(lang, "offers.back"))}</a></p>'
        "</section>"
    )
    return render_page(pw, request, t(lang, "offers.title"), body, lang, STATUS[exc.reason])


async def offer_api(request: Request) -> Response:
    """GET /api/offer?code=…&course=… | tier=…&interval=…&lang=…: JSON for the pages."""
    pw: Paywall = request.app.state.paywall
    query = request.query_params
    lang = preferred_lang(pw, request, query.get("lang"))
    code = query.get("code", "")
    headers = {"Cache-Control": "private, max-age=30", "Vary": "Cookie"}
    try:
        product = resolve_product(
            pw.manifest(), query.get("course"), query.get("tier"), query.get("interval")
        )
    except CheckoutError as exc:
        return JSONResponse({"ok": False, "error": exc.message}, status_code=exc.status)
    if normalize_code(code) is None:
        message = why_not(lang, "unknown", None, code.strip()[:40], product)
        return JSONResponse({"ok": False, "reason": "unknown", "message": message}, 404, headers)
    if not pw.stripe_configured:
        return JSONResponse({"ok": False, "error": "payments are not configured"}, 503)
    cache = offer_cache(request)
    try:
        offer = await run_stripe(pw, cache.get, pw.stripe(), code)
    except StripeBusy:
        return JSONResponse({"ok": False, "error": "busy"}, 503, {"Retry-After": "5"})
    except stripe.StripeError as exc:
        log.error(kv("offer.stripe_error", error=type(exc).__name__))
        return JSONResponse({"ok": False, "error": "payment provider unreachable"}, 502)
    role = await member_role(pw, request)
    reason = check_offer(offer, product, price_for(pw, product, lang, role), pw.now())
    if reason != "ok" or offer is None:
        message = why_not(lang, reason, offer, code, product)
        body = {"ok": False, "reason": reason, "message": message}
        return JSONResponse(body, STATUS[reason], headers)
    return JSONResponse(describe(pw, lang, offer, product, role), 200, headers)


async def member_role(pw: Paywall, request: Request) -> str | None:
    """The signed-in member's price role (None signed out: no database call then)."""
    if COOKIE_NAME not in request.cookies:
        return None
    member = await run_db(pw, current_member, request)
    return member.role if member is not None else None


routes = [Route("/api/offer", offer_api, methods=["GET"])]
