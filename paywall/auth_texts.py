"""Wording of the sign-in and account pages in the site's languages (en, zh).

Values are plain text (escaped where they are used) except those ending in `_html`.
"""

from __future__ import annotations

from starlette.requests import Request

from paywall.context import Paywall

LANGS = ("en", "zh")

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "sign_in.title": "Sign in",
        "sign_in.intro": "Enter your e-mail address and we will send you a link that signs you "
        "in — no password needed. New here? The same link creates your free membership.",
        "sign_in.email": "E-mail address",
        "sign_in.button": "E-mail me a sign-in link",
        "sent.title": "Check your inbox",
        "sent.body": "If {email} can receive e-mail, a sign-in link is on its way. It works "
        "once and expires in 15 minutes.",
        "error.rate": "Too many sign-in e-mails were requested. Please wait {wait} and try again.",
        "error.mail": "The sign-in e-mail could not be sent right now; try again soon.",
        "error.email": "email: {detail}",
        "expired.title": "Sign-in link expired",
        "expired.body": "It has expired (links last 15 minutes) or was already used. Ask for a "
        "new one:",
        "minutes.one": "1 minute",
        "minutes.many": "{n} minutes",
        "account.title": "Your account",
        "account.signed_in_as_html": 'Signed in as <strong class="kp-email">{email}</strong>',
        "account.membership": "Membership",
        "account.free": "Free membership.",
        "account.courses": "Your courses",
        "account.none_html": 'You have no courses yet. <a href="/">Browse the site</a> to '
        "find one.",
        "account.billing": "Manage billing",
        "account.sign_out": "Sign out",
        "account.members_only": "Members-only pages",
        "term.lifetime": "Lifetime access",
        "term.open": "No end date",
        "term.renews": "Renews on {date}",
        "term.past_due": "Payment failed; access until {date} unless the card is updated",
        "term.ends": "Ends on {date}",
        "term.until": "Access until {date}",
        "term.included": "Included in {tier}",
    },
    "zh": {
        "sign_in.title": "登录",
        "sign_in.intro": "输入你的邮箱，我们会发送一个登录链接，无需密码。第一次来？"
        "同一个链接也会为你开通免费会员。",
        "sign_in.email": "邮箱地址",
        "sign_in.button": "发送登录链接",
        "sent.title": "请查收邮件",
        "sent.body": "如果 {email} 可以接收邮件，登录链接已经发出。链接仅可使用一次，"
        "15 分钟内有效。",
        "error.rate": "登录邮件请求过于频繁，请等待 {wait} 后再试。",
        "error.mail": "暂时无法发送登录邮件，请稍后再试。",
        "error.email": "email：{detail}",
        "expired.title": "登录链接已失效",
        "expired.body": "链接已过期（有效期 15 分钟）或已被使用。请重新获取：",
        "minutes.one": "1 分钟",
        "minutes.many": "{n} 分钟",
        "account.title": "我的账户",
        "account.signed_in_as_html": '当前登录：<strong class="kp-email">{email}</strong>',
        "account.membership": "会员资格",
        "account.free": "免费会员。",
        "account.courses": "我的课程",
        "account.none_html": '你还没有课程。<a href="/">浏览网站</a>看看吧。',
        "account.billing": "管理账单",
        "account.sign_out": "退出登录",
        "account.members_only": "会员专属页面",
        "term.lifetime": "永久访问",
        "term.open": "无截止日期",
        "term.renews": "将于 {date} 续费",
        "term.past_due": "扣款失败；除非更新银行卡，访问权限将于 {date} 结束",
        "term.ends": "将于 {date} 结束",
        "term.until": "可访问至 {date}",
        "term.included": "包含在 {tier} 中",
    },
}


def t(lang: str, key: str, **values: object) -> str:
    """The text for `key` in `lang` (English when the language or key is missing)."""
    table = _TEXTS.get(lang, _TEXTS["en"])
    template = table.get(key) or _TEXTS["en"][key]
    return template.format(**values) if values else template


def valid_lang(value: str | None) -> str | None:
    return value if value in LANGS else None


def lang_of_path(path: str | None) -> str | None:
    """`/zh/articles/x/` → `zh`: the build puts a non-default language under its code."""
    first = (path or "").lstrip("/").split("/", 1)[0]
    return valid_lang(first)


def preferred_lang(
    pw: Paywall, request: Request, explicit: str | None = None, page: str | None = None
) -> str:
    """An explicit choice (form/query `lang`), else the language of the page the visitor
    came from, else the browser's Accept-Language among the site's languages, else the
    build's default language."""
    if valid_lang(explicit):
        return str(explicit)
    if lang_of_path(page):
        return str(lang_of_path(page))
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    manifest = pw.manifest()
    return manifest.default_lang if manifest and manifest.default_lang in LANGS else "en"
