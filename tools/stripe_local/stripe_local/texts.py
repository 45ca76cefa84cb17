"""The hosted Checkout page's words in the buyer's language (the session's `locale`), as
Stripe's own page shows them: English and Simplified Chinese (`zh`); any other locale,
Traditional Chinese included, is English here."""

from __future__ import annotations

from typing import Any

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "pay": "Pay",
        "subscribe": "Subscribe",
        "book": "Book",
        "donate": "Donate",
        "title": "Pay · {title}",
        "order_summary": "Order summary",
        "discount": "Discount",
        "total": "Total",
        "total_today": "Total due today",
        "email": "Email",
        "paying_as": "Paying as",
        "card": "Card number",
        "payment_method": "Payment method",
        "method_card": "Card",
        "method_alipay": "Alipay",
        "method_wechat_pay": "WeChat Pay",
        "test_cards": ("Test mode: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined."),
        "promotion_code": "Promotion code",
        "apply": "Apply",
        "applied": "Promotion code applied.",
        "cancel": "Cancel",
        "month": "month",
        "year": "year",
        "week": "week",
        "day": "day",
        "months": "{n} months",
        "years": "{n} years",
        "weeks": "{n} weeks",
        "days": "{n} days",
    },
    "zh": {
        "pay": "支付",
        "subscribe": "订阅",
        "book": "预订",
        "donate": "捐赠",
        "title": "支付 · {title}",
        "order_summary": "订单摘要",
        "discount": "折扣",
        "total": "总计",
        "total_today": "今日应付",
        "email": "电子邮件",
        "paying_as": "付款人",
        "card": "卡号",
        "payment_method": "支付方式",
        "method_card": "银行卡",
        "method_alipay": "支付宝",
        "method_wechat_pay": "微信支付",
        "test_cards": "测试模式：4242 4242 4242 4242 付款成功，4000 0000 0000 0002 会被拒绝。",
        "promotion_code": "优惠码",
        "apply": "使用",
        "applied": "优惠码已使用。",
        "cancel": "取消",
        "month": "月",
        "year": "年",
        "week": "周",
        "day": "天",
        "months": "{n} 个月",
        "years": "{n} 年",
        "weeks": "{n} 周",
        "days": "{n} 天",
    },
}


def page_lang(session: dict[str, Any]) -> str:
    """`zh` → `zh`; everything else (`auto`, None, `fr`, `zh-TW`) → `en`."""
    return "zh" if session.get("locale") == "zh" else "en"


def text(lang: str, key: str, **values: object) -> str:
    template = _TEXTS.get(lang, _TEXTS["en"])[key]
    return template.format(**values) if values else template


def interval(lang: str, recurring: dict | None) -> str:
    """`month`, `3 months` (or 月, 3 个月) for a price's `recurring`; '' when one-time."""
    if not recurring:
        return ""
    count = recurring.get("interval_count") or 1
    unit = recurring["interval"]
    return text(lang, unit) if count == 1 else text(lang, f"{unit}s", n=count)
