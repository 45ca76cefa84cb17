"""HTTP endpoints of the paying half: checkout, its success page, the billing portal and the
Stripe webhook. `routes` is mounted by `paywall.app.create_app`.

Database and Stripe calls are blocking, so they run in threads: database work in the
database lane (`run_db`), calls to Stripe in the Stripe lane (`run_stripe`), so a slow Stripe
never holds the threads that serve files or the database; the event loop only parses
requests and writes responses. The origin check (CSRF) for the form posts is applied
by the app's middleware; the webhook is exempt from it and verified by signature instead.
"""

from __future__ import annotations

from typing import Any

import stripe
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from paywall.billing.checkout import (
    CheckoutError,
    SuccessView,
    already_owned,
    billing_portal_url,
    create_checkout_session,
    resolve_product,
    retrieve_session,
    success_view,
)
from paywall.billing.event_context import NotYetApplicable
from paywall.billing.gifts import META_GIFT, gift_order, start_gift
from paywall.billing.offers import META_OFFER
from paywall.billing.webhooks import (
    InvalidWebhook,
    StripeUnavailable,
    WebhookNotConfigured,
    handle_webhook,
)
from paywall.database.models import Member
from paywall.growth.hooks import checkout_metadata
from paywall.members.sign_in import (
    CHECKOUT_INTENT_TTL,
    INTENT_COOKIE,
    current_member,
    hash_token,
    new_intent,
    safe_next_url,
    set_intent_cookie,
)
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import DatabaseBusy, StripeBusy, run_db, run_stripe
from paywall.runtime.forms import read_fields
from paywall.runtime.lang import preferred_lang
from paywall.runtime.logs import get_logger, kv
from paywall.web.checkout_pages import message_page, not_configured_page, success_page
from paywall.web.errors import retry_after
from paywall.web.offer_routes import (
    OfferUnavailable,
    checkout_offer,
    offer_cache,
    offer_unavailable_page,
)
from paywall.web.offer_routes import routes as offer_routes
from paywall.web.role_price_routes import routes as role_price_routes

log = get_logger("paywall.web.billing_routes")


def _pw(request: Request) -> Paywall:
    return request.app.state.paywall


def _lang(
    pw: Paywall, request: Request, member: Member | None, form: Any = None, page: str | None = None
) -> str:
    """The buyer's language: the form's or the URL's `lang` (the page they were on), else the
    member's, else the page's, the browser's or the site's (paywall/runtime/lang.py)."""
    explicit = _field(form, "lang") if form is not None else request.query_params.get("lang")
    return preferred_lang(pw, request, explicit, page=page, member=member)


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


async def checkout(request: Request) -> Response:
    """POST /api/checkout: `course=<slug>` or `tier=<name>&interval=`, `from=<path>`, and
    an offer's `offer=<code>` → 303 to Stripe Checkout (or straight to the course when the
    member already owns it; or a page saying why the offer does not apply)."""
    pw = _pw(request)
    form = await read_fields(request)
    member = await run_db(pw, current_member, request)
    lang = _lang(pw, request, member, form, page=_field(form, "from"))
    try:
        product = resolve_product(
            pw.manifest(),
            _field(form, "course"),
            _field(form, "tier"),
            _field(form, "interval"),
            bundle=_field(form, "bundle"),
        )
        back = safe_next_url(_field(form, "from"), pw.settings.base_url, default=product.url)
        gift = None
        if _field(form, "gift"):  # "this is a gift": paid once, for someone else's address
            gift = gift_order(
                pw.manifest(),
                product,
                _field(form, "gift_email"),
                _field(form, "gift_message"),
                _field(form, "gift_months"),
            )
            product = gift.product
        elif await run_db(pw, _owns, pw, member, product):
            return RedirectResponse(product.url, status_code=303)
        if not pw.stripe_configured:
            return not_configured_page(pw, request, lang)
        # A signed-out buyer's browser gets a sign-in nonce (kept if it has one): the
        # purchase e-mail's link then signs in at once here, and asks first anywhere else.
        intent = None if member else (request.cookies.get(INTENT_COOKIE) or new_intent())[:64]
        attribution = checkout_metadata(form)
        if gift is not None:
            attribution[META_GIFT] = await run_db(pw, start_gift, pw, gift, member, lang)
        # A member's price role sets what they pay; a gift is at everyone's price.
        role = member.role if member is not None and gift is None else None
        code = (_field(form, "offer") or "").strip()
        promotion_code = None
        if code:
            promotion_code = await run_stripe(
                pw, checkout_offer, pw, offer_cache(request), product, lang, code, role
            )
            attribution[META_OFFER] = code.upper()[:40]
        url = await run_stripe(
            pw,
            create_checkout_session,
            pw,
            product,
            member,
            back,
            lang,
            attribution=attribution,
            intent_hash=hash_token(intent) if intent else None,
            promotion_code=promotion_code,
            role=role,
        )
    except OfferUnavailable as exc:
        return offer_unavailable_page(pw, request, lang, exc, back)
    except CheckoutError as exc:
        return message_page(pw, request, lang, "checkout_failed", exc.message, exc.status)
    except StripeBusy:
        return stripe_busy_page(pw, request, lang, "checkout_failed")
    except stripe.StripeError as exc:
        detail = (str(exc).strip().splitlines() or [""])[0][:200]  # one line in the log
        log.error(kv("checkout.stripe_error", error=type(exc).__name__, detail=detail))
        return message_page(pw, request, lang, "checkout_failed", None, 502)
    log.info(kv("checkout.created", product=product.key, member=member.id if member else None))
    response = RedirectResponse(url, status_code=303)
    if intent is not None:
        set_intent_cookie(pw, response, intent, CHECKOUT_INTENT_TTL)
    return response


def stripe_busy_page(pw: Paywall, request: Request, lang: str, kind: str) -> Response:
    """Every Stripe lane thread is waiting on Stripe: 503, try again shortly."""
    log.warning(kv("stripe.lane_busy", path=request.url.path))
    response = message_page(pw, request, lang, kind, None, 503)
    response.headers["Retry-After"] = retry_after(pw)
    return response


def _owns(pw: Paywall, member: Member | None, product: Any) -> bool:
    with pw.sessions() as db:
        return already_owned(db, pw, member, product)


async def checkout_success(request: Request) -> Response:
    """GET /checkout/success?session_id=cs_…: what happens next, before or after the webhook."""
    pw = _pw(request)
    member = await run_db(pw, current_member, request)
    lang = _lang(pw, request, member)
    if not pw.stripe_configured:
        return not_configured_page(pw, request, lang)
    try:
        session = await run_stripe(
            pw, retrieve_session, pw, request.query_params.get("session_id", "")
        )
    except CheckoutError as exc:
        return message_page(pw, request, lang, "success_unknown", exc.message, exc.status)
    except StripeBusy:
        return stripe_busy_page(pw, request, lang, "success_unknown")
    except stripe.StripeError as exc:
        log.error(kv("checkout.success_stripe_error", error=type(exc).__name__))
        return message_page(pw, request, lang, "success_unknown", None, 502)
    view = await run_db(pw, _success_view, pw, session, member)
    return success_page(pw, request, lang, view, signed_in=member is not None)


def _success_view(pw: Paywall, session: dict[str, Any], member: Member | None) -> SuccessView:
    with pw.sessions() as db:
        return success_view(pw, db, session, member)


async def checkout_cancel(request: Request) -> Response:
    """GET /checkout/cancel?from=<path>: back to where the buyer came from."""
    pw = _pw(request)
    target = safe_next_url(request.query_params.get("from"), pw.settings.base_url, default="/")
    return RedirectResponse(target, status_code=303)


async def billing_portal(request: Request) -> Response:
    """POST /api/billing-portal → 303 to Stripe's customer portal for the signed-in member."""
    pw = _pw(request)
    form = await read_fields(request)
    member = await run_db(pw, current_member, request)
    if member is None:
        return RedirectResponse("/account/", status_code=303)
    lang = _lang(pw, request, member, form)
    if not pw.stripe_configured:
        return not_configured_page(pw, request, lang)
    try:
        url = await run_stripe(pw, billing_portal_url, pw, member)
    except CheckoutError as exc:
        return message_page(pw, request, lang, "portal_failed", exc.message, exc.status)
    except StripeBusy:
        return stripe_busy_page(pw, request, lang, "portal_failed")
    except stripe.StripeError as exc:
        log.error(kv("portal.stripe_error", error=type(exc).__name__))
        return message_page(pw, request, lang, "portal_failed", None, 502)
    return RedirectResponse(url, status_code=303)


async def stripe_webhook(request: Request) -> Response:
    """POST /api/stripe/webhook: 200 once processed or already seen; 400 for anything not
    genuinely from Stripe; 5xx when it could not be stored, so Stripe retries."""
    pw = _pw(request)
    payload = await request.body()  # bounded while it streams (paywall.web.body_limits)
    signature = request.headers.get("stripe-signature")
    try:
        result = await run_db(pw, handle_webhook, pw, payload, signature)
    except InvalidWebhook as exc:
        log.warning(kv("webhook.rejected", reason=str(exc)))
        return JSONResponse({"error": str(exc)}, status_code=400)
    except WebhookNotConfigured:
        log.error(kv("webhook.not_configured", hint="set STRIPE_WEBHOOK_SECRET"))
        return JSONResponse({"error": "webhook secret not configured"}, status_code=503)
    except (StripeUnavailable, NotYetApplicable) as exc:  # nothing stored: retried afresh
        return JSONResponse(
            {"error": f"{exc}; retry later"}, status_code=503, headers={"Retry-After": "30"}
        )
    except (SQLAlchemyError, DatabaseBusy) as exc:
        # The driver's message only: SQLAlchemy's str() appends the statement's parameters.
        reason = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0][:200]
        log.error(kv("webhook.store_failed", error=type(exc).__name__, detail=reason))
        return JSONResponse(
            {"error": "could not store the event; retry later"},
            status_code=503,
            headers={"Retry-After": retry_after(pw)},
        )
    except Exception as exc:  # a bug must still answer 5xx (Stripe retries), never 2xx
        log.exception(kv("webhook.failed", error=type(exc).__name__))
        return JSONResponse({"error": "internal error; retry later"}, status_code=500)
    return JSONResponse({"received": True, "status": result.status, "event": result.event_id})


routes = [
    Route("/api/checkout", checkout, methods=["POST"]),
    Route("/checkout/success", checkout_success, methods=["GET"]),
    Route("/checkout/cancel", checkout_cancel, methods=["GET"]),
    Route("/api/billing-portal", billing_portal, methods=["POST"]),
    Route("/api/stripe/webhook", stripe_webhook, methods=["POST"]),
    *offer_routes,
    *role_price_routes,
]
