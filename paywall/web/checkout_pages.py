"""The pages a buyer sees around Stripe Checkout, in the site's shell and language.

Texts come from kp_contract/translations.yml (group `checkout`) so the route handlers only decide
*which* page to show.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

from paywall.billing.checkout import SuccessView
from paywall.runtime.context import Paywall
from paywall.runtime.lang import t
from paywall.runtime.logs import mask_email
from paywall.runtime.pages import esc, render_page

REFRESH_SECONDS = 3


def text(lang: str, name: str, **values: str) -> str:
    """`name` ("mailed.body", "back"…) from the `checkout` group of kp_contract/translations.yml."""
    key = "account.title" if name == "account" else f"checkout.{name.replace('.', '_')}"
    return t(lang, key, **values)


def _section(paragraphs: list[str], links: list[tuple[str, str]]) -> str:
    """The body under the shell's heading (the page title is the page's only <h1>)."""
    body = ['<section class="kp-checkout">']
    body += [f"<p>{p}</p>" for p in paragraphs]
    if links:
        items = " ".join(
            f'<a class="md-button" href="{esc(href)}">{esc(label)}</a>' for href, label in links
        )
        body.append(f"<p>{items}</p>")
    body.append("</section>")
    return "".join(body)


def not_configured_page(pw: Paywall, request: Request, lang: str) -> HTMLResponse:
    """Checkout without STRIPE_SECRET_KEY: a clear explanation instead of a crash."""
    body = _section(
        [esc(text(lang, "not_configured.body"))],
        [("/", text(lang, "back"))],
    )
    return render_page(pw, request, text(lang, "not_configured.title"), body, lang, 503)


def message_page(
    pw: Paywall, request: Request, lang: str, kind: str, message: str | None, status: int
) -> HTMLResponse:
    """An error page: `message` (already user-safe) or the generic text for `kind`."""
    shown = message or text(lang, f"{kind}.body")
    body = _section([esc(shown)], [("/", text(lang, "back"))])
    return render_page(pw, request, text(lang, f"{kind}.title"), body, lang, status)


def success_page(
    pw: Paywall, request: Request, lang: str, view: SuccessView, *, signed_in: bool
) -> HTMLResponse:
    """The checkout success page for each state of the purchase (see `SuccessView`)."""
    email = esc(mask_email(view.email)) if view.email else ""
    links: list[tuple[str, str]] = []
    if view.state == "access":
        paragraphs = [esc(text(lang, "access.body"))]
        links = [(view.url, text(lang, "start")), ("/account/", text(lang, "account"))]
    elif view.state == "mailed":
        key = "mailed.body" if email else "mailed.body_noemail"
        paragraphs = [text(lang, key, email=f"<strong>{email}</strong>")]
    elif view.state == "unlocking":
        paragraphs = [esc(text(lang, "unlocking.body"))]
        if not signed_in and email:
            paragraphs.append(text(lang, "unlocking.mail", email=f"<strong>{email}</strong>"))
    elif view.state == "pending":
        paragraphs = [esc(text(lang, "pending.body"))]
    elif view.state == "gift":
        paragraphs = [esc(text(lang, "gift.body"))]
        links = [("/account/", text(lang, "account"))]
    else:
        paragraphs = [esc(text(lang, "open.body"))]
        links = [(view.url, text(lang, "back"))]
    body = _section(paragraphs, links)
    if view.state == "unlocking":
        body = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' + body
    response = render_page(pw, request, text(lang, f"{view.state}.title"), body, lang, 200)
    if view.state == "unlocking":
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response
