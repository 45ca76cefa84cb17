"""The hosted pages: Checkout (`/c/pay/<cs_id>`) and the customer portal (`/p/session/<bps_id>`).

Plain HTML forms. Pressing Pay completes the session and delivers its webhooks (in `sync`
mode) before the 303 to `success_url`, so whoever follows the redirect sees the result.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from stripe_local.cards import DEFAULT_CARD
from stripe_local.errors import StripeError
from stripe_local.html import e, error_box, page
from stripe_local.money import format_amount, format_date, format_interval
from stripe_local.resources.checkout import (
    apply_promotion_code,
    complete_session,
    needs_email,
    open_session,
    session_lines,
)
from stripe_local.resources.portal import portal_action, portal_subscriptions
from stripe_local.store import Store
from stripe_local.texts import interval, page_lang, text
from stripe_local.webhooks import Dispatcher

_BUTTON = {"book": "book", "donate": "donate"}


def submit_label(session: dict[str, Any]) -> str:
    """Stripe's button text: "Subscribe" for subscriptions, else "Pay" (or Book/Donate), in
    the session's language."""
    lang = page_lang(session)
    if session["mode"] == "subscription":
        return text(lang, "subscribe")
    return text(lang, _BUTTON.get(session.get("submit_type") or "", "pay"))


def checkout_html(
    store: Store,
    session: dict[str, Any],
    values: dict[str, str] | None = None,
    error: str | None = None,
    notice: str | None = None,
) -> str:
    values = values or {}
    lang = page_lang(session)
    lines = session_lines(store, session)
    currency = session["currency"]
    rows = []
    for line in lines:
        per = interval(lang, line["price"]["recurring"])
        suffix = f" / {per}" if per else ""
        quantity = f" × {line['quantity']}" if line["quantity"] > 1 else ""
        rows.append(
            f'<div class="row"><span>{e(line["description"])}{e(quantity)}</span>'
            f"<span>{e(format_amount(line['amount_subtotal'], currency))}{e(suffix)}</span></div>"
        )
    discount = session["total_details"]["amount_discount"]
    if discount:
        label = _discount_label(store, session)
        rows.append(
            f'<div class="row"><span>{e(text(lang, "discount"))}{e(label)}</span>'
            f"<span>−{e(format_amount(discount, currency))}</span></div>"
        )
    total_label = text(lang, "total_today" if session["mode"] == "subscription" else "total")
    rows.append(
        f'<div class="row total"><span>{total_label}</span>'
        f"<span>{e(format_amount(session['amount_total'], currency))}</span></div>"
    )
    title = ", ".join(line["description"] for line in lines)
    summary = e(text(lang, "order_summary"))
    return page(
        text(lang, "title", title=title),
        f"<h1>{e(title)}</h1>"
        f'<section class="panel" aria-label="{summary}">{"".join(rows)}</section>'
        f"{error_box(error)}"
        + (f'<p class="ok" role="status">{e(notice)}</p>' if notice else "")
        + _checkout_form(store, session, values, lang)
        + _cancel_link(session, lang),
        lang=lang,
    )


def _discount_label(store: Store, session: dict[str, Any]) -> str:
    entry = session["discounts"][0] if session["discounts"] else {}
    promo = store.find("promotion_code", entry.get("promotion_code") or "")
    if promo is not None:
        return f" ({promo['code']})"
    coupon = store.find("coupon", entry.get("coupon") or "")
    return f" ({coupon['name'] or coupon['id']})" if coupon else ""


def _checkout_form(store: Store, session: dict[str, Any], values: dict[str, str], lang: str) -> str:
    parts = ['<form method="post" class="panel">']
    if needs_email(store, session):
        parts.append(
            f'<label for="email">{e(text(lang, "email"))}</label>'
            '<input id="email" name="email" type="email" autocomplete="email" required '
            f'value="{e(values.get("email", ""))}">'
        )
    else:
        customer = store.find("customer", session["customer"] or "")
        shown = session["customer_email"] or (customer or {}).get("email")
        paying_as = e(text(lang, "paying_as"))
        parts.append(f'<p class="muted">{paying_as} <strong>{e(shown)}</strong></p>')
    parts.append(_method_choice(session, values, lang))
    if "card" in session["payment_method_types"]:
        parts.append(
            f'<label for="card">{e(text(lang, "card"))}</label>'
            '<input id="card" name="card" inputmode="numeric" autocomplete="cc-number" '
            f'value="{e(values.get("card", _spaced(DEFAULT_CARD)))}">'
            f'<p class="muted">{e(text(lang, "test_cards"))}</p>'
        )
    if session["allow_promotion_codes"] and not session["discounts"]:
        parts.append(
            f'<label for="promotion_code">{e(text(lang, "promotion_code"))}</label>'
            '<div class="inline">'
            '<input id="promotion_code" name="promotion_code" autocomplete="off" '
            f'value="{e(values.get("promotion_code", ""))}">'
            '<button type="submit" name="action" value="apply" formnovalidate>'
            f"{e(text(lang, 'apply'))}</button></div>"
        )
    parts.append(
        '<button type="submit" name="action" value="pay" class="primary">'
        f"{submit_label(session)}</button></form>"
    )
    return "".join(parts)


def _method_choice(session: dict[str, Any], values: dict[str, str], lang: str) -> str:
    """The payment methods the session offers (`payment_method_types`), as Stripe's page
    lists them; nothing to choose when it offers one."""
    types = session["payment_method_types"]
    if len(types) < 2:
        return f'<input type="hidden" name="payment_method" value="{e(types[0])}">'
    chosen = values.get("payment_method") or types[0]
    options = "".join(
        f'<label class="method"><input type="radio" name="payment_method" value="{e(kind)}"'
        f"{' checked' if kind == chosen else ''}> {e(text(lang, 'method_' + kind))}</label>"
        for kind in types
    )
    legend = e(text(lang, "payment_method"))
    return f'<fieldset class="methods"><legend>{legend}</legend>{options}</fieldset>'


def _cancel_link(session: dict[str, Any], lang: str) -> str:
    if not session["cancel_url"]:
        return ""
    return f'<a class="back" href="{e(session["cancel_url"])}">{e(text(lang, "cancel"))}</a>'


def _spaced(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def closed_html(session: dict[str, Any]) -> str:
    if session["status"] == "complete":
        link = session["success_url"]
        target = link.replace("{CHECKOUT_SESSION_ID}", session["id"]) if link else None
        more = f'<a class="back" href="{e(target)}">Continue</a>' if target else ""
        return page("Payment complete", f"<h1>Payment complete</h1>{more}")
    back = (
        f'<a class="back" href="{e(session["cancel_url"])}">Return</a>'
        if session["cancel_url"]
        else ""
    )
    return page(
        "Checkout expired",
        "<h1>This checkout session has expired</h1>"
        f'<p class="muted">Start again from the site.</p>{back}',
    )


def not_found_html(what: str) -> str:
    return page("Not found", f"<h1>This {e(what)} link is not valid</h1>")


def portal_html(store: Store, session: dict[str, Any], notice: str | None = None) -> str:
    customer = store.find("customer", session["customer"]) or {}
    base = f"/p/session/{session['id']}/subscriptions"
    parts = [
        "<h1>Manage your subscriptions</h1>",
        f'<p class="muted">{e(customer.get("email") or customer.get("id"))}</p>',
    ]
    if notice:
        parts.append(f'<p class="ok" role="status">{e(notice)}</p>')
    subscriptions = portal_subscriptions(store, session)
    if not subscriptions:
        parts.append('<section class="panel"><p>No active subscriptions.</p></section>')
    for sub in subscriptions:
        parts.append(_subscription_panel(store, sub, f"{base}/{sub['id']}"))
    if session["return_url"]:
        parts.append(f'<a class="back" href="{e(session["return_url"])}">Return</a>')
    return page("Your subscriptions", "".join(parts))


def _subscription_panel(store: Store, sub: dict[str, Any], action_base: str) -> str:
    names, rows = [], []
    for item in sub["items"]["data"]:
        price = item["price"]
        product = store.find("product", price["product"]) or {"name": price["product"]}
        names.append(product["name"])
        amount = format_amount(price["unit_amount"] * item["quantity"], price["currency"])
        rows.append(
            f'<div class="row"><span>{e(product["name"])}</span>'
            f"<span>{e(amount)} / {e(format_interval(price['recurring']))}</span></div>"
        )
    end = format_date(sub["current_period_end"])
    if sub["cancel_at_period_end"]:
        status = f"Cancels on {end}"
        button = _action(action_base, "renew", "Renew plan", "")
    else:
        status = "Payment past due" if sub["status"] == "past_due" else f"Renews on {end}"
        button = _action(action_base, "cancel", "Cancel plan", "")
    cancel_now = _action(action_base, "cancel_now", "Cancel immediately", "danger")
    return (
        f'<section class="panel" aria-label="{e(", ".join(names))}">{"".join(rows)}'
        f'<p class="muted">{e(status)}</p>'
        f'<div class="actions">{button}{cancel_now}</div></section>'
    )


def _action(base: str, action: str, label: str, css: str) -> str:
    return (
        f'<form method="post" action="{e(base)}/{action}">'
        f'<button type="submit" class="{css}">{e(label)}</button></form>'
    )


_NOTICES = {
    "cancel": "Your plan will be canceled at the end of the billing period.",
    "renew": "Your plan will renew.",
    "cancel_now": "Your plan has been canceled.",
}


class Pages:
    """Starlette endpoints for the hosted pages over one store and dispatcher."""

    def __init__(self, store: Store, dispatcher: Dispatcher) -> None:
        self.store = store
        self.dispatcher = dispatcher

    def routes(self) -> list[Route]:
        return [
            Route("/c/pay/{session_id}", self.checkout, methods=["GET", "POST"]),
            Route("/p/session/{session_id}", self.portal, methods=["GET"]),
            Route(
                "/p/session/{session_id}/subscriptions/{sub_id}/{action}",
                self.portal_post,
                methods=["POST"],
            ),
        ]

    async def _run(self, operation: Any, *args: Any) -> tuple[Any, StripeError | None]:
        """Run a page action under the lock, deliver its events, return (result, error)."""
        try:
            result, events = self.store.run(operation, *args)
            error = None
        except StripeError as exc:
            result, events, error = None, exc.events, exc
        await self.dispatcher.dispatch(events, wait=True)
        return result, error

    async def checkout(self, request: Request) -> Response:
        session_id = request.path_params["session_id"]
        if request.method == "POST":
            return await self._checkout_post(request, session_id)
        session, error = await self._run(open_session, session_id)
        if error is not None:
            return self._checkout_problem(session_id, error)
        with self.store.lock:
            return HTMLResponse(checkout_html(self.store, session))

    def _checkout_problem(
        self, session_id: str, error: StripeError, values: dict | None = None
    ) -> Response:
        with self.store.lock:
            session = self.store.find("checkout.session", session_id)
            if session is None:
                return HTMLResponse(not_found_html("checkout"), status_code=404)
            if session["status"] != "open":
                return HTMLResponse(closed_html(session), status_code=409 if values else 200)
            html = checkout_html(self.store, session, values, error=error.message)
        return HTMLResponse(html, status_code=error.status)

    async def _checkout_post(self, request: Request, session_id: str) -> Response:
        values = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if values.get("action") == "apply":
            return await self._apply_code(session_id, values)
        target, error = await self._run(
            complete_session,
            session_id,
            values.get("email"),
            values.get("promotion_code"),
            values.get("card"),
            values.get("payment_method"),
        )
        if error is not None:
            return self._checkout_problem(session_id, error, values)
        if target:
            return RedirectResponse(target, status_code=303)
        return HTMLResponse(page("Payment complete", "<h1>Payment complete</h1>"))

    async def _apply_code(self, session_id: str, values: dict[str, str]) -> Response:
        def apply(store: Store) -> dict[str, Any]:
            session = open_session(store, session_id)
            apply_promotion_code(store, session, values.get("promotion_code", ""))
            return session

        session, error = await self._run(apply)
        if error is not None:
            return self._checkout_problem(session_id, error, values)
        with self.store.lock:
            notice = text(page_lang(session), "applied")
            html = checkout_html(self.store, session, values, notice=notice)
        return HTMLResponse(html)

    async def portal(self, request: Request) -> Response:
        with self.store.lock:
            session = self.store.find("billing_portal.session", request.path_params["session_id"])
            if session is None:
                return HTMLResponse(not_found_html("portal"), status_code=404)
            notice = _NOTICES.get(request.query_params.get("done", ""))
            return HTMLResponse(portal_html(self.store, session, notice))

    async def portal_post(self, request: Request) -> Response:
        session_id = request.path_params["session_id"]
        action = request.path_params["action"]
        _, error = await self._run(portal_action, session_id, request.path_params["sub_id"], action)
        if error is not None:
            with self.store.lock:
                session = self.store.find("billing_portal.session", session_id)
                if session is None:
                    return HTMLResponse(not_found_html("portal"), status_code=404)
                body = portal_html(self.store, session)
            return HTMLResponse(
                body.replace("</h1>", f"</h1>{error_box(error.message)}", 1),
                status_code=error.status,
            )
        return RedirectResponse(f"/p/session/{session_id}?done={action}", status_code=303)
