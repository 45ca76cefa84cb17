"""The pages a buyer sees around Stripe Checkout, in the site's shell and language.

Texts are kept here (English and Chinese, like the example site) so the route handlers only
decide *which* page to show.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

from paywall.checkout import SuccessView
from paywall.context import Paywall
from paywall.logging import mask_email
from paywall.pages import esc, render_page

REFRESH_SECONDS = 3

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "not_configured.title": "Payments are not set up yet",
        "not_configured.body": "This site cannot take payments yet: its owner has not "
        "configured Stripe (STRIPE_SECRET_KEY is not set). Nothing was charged.",
        "checkout_failed.title": "Checkout could not start",
        "checkout_failed.body": "The payment provider could not be reached. Nothing was "
        "charged; please try again in a minute.",
        "portal_failed.title": "Billing portal unavailable",
        "portal_failed.body": "The payment provider could not be reached; please try again.",
        "success_unknown.title": "Checkout not found",
        "success_unknown.body": "The payment provider could not be reached; reload this page "
        "in a minute.",
        "access.title": "You have access",
        "access.body": "Thank you! Your purchase is confirmed and unlocked.",
        "start": "Start reading",
        "mailed.title": "Payment received: check your e-mail",
        "mailed.body": "Your purchase is confirmed. We sent a sign-in link to {email}; open "
        "it to start reading.",
        "mailed.body_noemail": "Your purchase is confirmed. Sign in with the e-mail address "
        "you paid with to start reading.",
        "unlocking.title": "Payment received, unlocking…",
        "unlocking.body": "Your payment went through and we are unlocking your access. This "
        "page refreshes by itself.",
        "unlocking.mail": "A sign-in link is on its way to {email}.",
        "pending.title": "Payment pending",
        "pending.body": "Your payment has not cleared yet. We will e-mail you as soon as it "
        "does; nothing else to do.",
        "open.title": "Payment not completed",
        "open.body": "This checkout was not completed and nothing was charged.",
        "back": "Back",
        "account": "Your account",
    },
    "zh": {
        "not_configured.title": "尚未开通支付",
        "not_configured.body": "本站还不能收款：站长尚未配置 Stripe（未设置 STRIPE_SECRET_KEY）。"
        "没有产生任何扣款。",
        "checkout_failed.title": "无法开始支付",
        "checkout_failed.body": "暂时无法连接支付服务，没有产生任何扣款，请稍后再试。",
        "portal_failed.title": "账单管理暂不可用",
        "portal_failed.body": "暂时无法连接支付服务，请稍后再试。",
        "success_unknown.title": "找不到这笔支付",
        "success_unknown.body": "暂时无法连接支付服务，请稍后刷新本页。",
        "access.title": "已开通",
        "access.body": "感谢购买！你的购买已确认并已开通。",
        "start": "开始阅读",
        "mailed.title": "已收到付款：请查收邮件",
        "mailed.body": "购买已确认。我们已向 {email} 发送登录链接，打开即可开始阅读。",
        "mailed.body_noemail": "购买已确认。请用付款时填写的邮箱登录后开始阅读。",
        "unlocking.title": "已收到付款，正在开通…",
        "unlocking.body": "付款成功，正在为你开通权限，本页会自动刷新。",
        "unlocking.mail": "登录链接正在发往 {email}。",
        "pending.title": "付款处理中",
        "pending.body": "你的付款尚未到账，到账后我们会发邮件通知你，无需其他操作。",
        "open.title": "支付未完成",
        "open.body": "这次支付没有完成，没有产生任何扣款。",
        "back": "返回",
        "account": "我的账户",
    },
}


def text(lang: str, name: str, **values: str) -> str:
    table = _TEXTS.get(lang, _TEXTS["en"])
    return table.get(name, _TEXTS["en"][name]).format(**values)


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
