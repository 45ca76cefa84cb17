"""Interface strings of our templates (CTA, paywall, course box, pricing) per page language.

mkdocs-material translates its own chrome from `theme.language`; these are the strings we
add, chosen per page from its `lang` so a Chinese article gets a Chinese paywall.
Placeholders use `str.format` names: `{price}`, `{course}`, `{tier}`, `{name}`, `{n}`.
"""

from __future__ import annotations

import datetime as dt

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "sign_in": "Sign in",
        "account": "Your account",
        "buy": "Buy the course",
        "buy_for": "Buy for {price}",
        "subscribe": "Subscribe",
        "subscribe_for": "Subscribe for {price}",
        "per_month": "/ month",
        "per_year": "/ year",
        "owned": "You have access. Enjoy the course!",
        "monthly": "Monthly",
        "yearly": "Yearly",
        "mode_payment": "One-time payment, lifetime access",
        "mode_subscription": "Subscription, cancel any time",
        "included_in": "Included in {tier}",
        "or_tier": "Or get this course and everything else with {tier}:",
        "paywall_title": "The rest of this lesson is part of {course}",
        "paywall_text": "Get the course to read every lesson in full.",
        "members_title": "This article is for members",
        "members_text": "Join free to read the rest. Only your e-mail, no password.",
        "already_bought": "Already bought? Sign in",
        "already_member": "Already a member? Sign in",
        "sign_in_text": "We e-mail you a link that signs you in on this device.",
        "email_label": "E-mail address",
        "email_placeholder": "you@example.com",
        "send_link": "Send me a sign-in link",
        "join_title": "Join {name}",
        "join_text": "Get to know people who work on the same things, ask questions and share"
        " what you learn.",
        "join_button": "Join the community",
        "signup_text": "Or become a free member: new articles and community news by e-mail.",
        "signup_button": "Join free",
        "scan_qr": "Scan to join",
        "lessons": "Lessons",
        "free_preview": "Free preview",
        "locked": "For students",
        "lesson_n": "Lesson {n}",
        "part_of": "Part of {course}",
        "preview_title": "Enjoying the free lesson?",
        "preview_text": "The other lessons of {course} are waiting for you.",
        "tiers": "Membership",
        "courses": "Courses",
        "view_course": "View the course",
        "lessons_count": "{n} lessons",
        "includes": "Includes",
        "published": "Published",
    },
    "zh": {
        "sign_in": "登录",
        "account": "我的账户",
        "buy": "购买课程",
        "buy_for": "{price} 购买",
        "subscribe": "订阅",
        "subscribe_for": "{price} 订阅",
        "per_month": "/ 月",
        "per_year": "/ 年",
        "owned": "你已拥有访问权限，开始学习吧！",
        "monthly": "按月",
        "yearly": "按年",
        "mode_payment": "一次付费，永久访问",
        "mode_subscription": "订阅制，可随时取消",
        "included_in": "已包含在{tier}中",
        "or_tier": "或者加入{tier}，获得本课程和全部内容：",
        "paywall_title": "本课后续内容属于课程《{course}》",
        "paywall_text": "购买课程后即可阅读全部课时。",
        "members_title": "本文仅对会员开放",
        "members_text": "免费加入即可阅读全文：只需邮箱，无需密码。",
        "already_bought": "已经购买？登录",
        "already_member": "已经是会员？登录",
        "sign_in_text": "我们会把登录链接发到你的邮箱，点击即可在本设备登录。",
        "email_label": "邮箱地址",
        "email_placeholder": "you@example.com",
        "send_link": "发送登录链接",
        "join_title": "加入{name}",
        "join_text": "认识做同样事情的人，提问、交流、分享你的收获。",
        "join_button": "加入社群",
        "signup_text": "也可以免费注册会员：新文章和社群动态发到你的邮箱。",
        "signup_button": "免费加入",
        "scan_qr": "扫码加入",
        "lessons": "课程目录",
        "free_preview": "免费试看",
        "locked": "学员专享",
        "lesson_n": "第 {n} 课",
        "part_of": "所属课程：{course}",
        "preview_title": "喜欢这节免费课？",
        "preview_text": "《{course}》的其余课时正等着你。",
        "tiers": "会员",
        "courses": "课程",
        "view_course": "查看课程",
        "lessons_count": "{n} 节课",
        "includes": "包含",
        "published": "发布于",
    },
}

DEFAULT_LANG = "en"


def strings(lang: str) -> dict[str, str]:
    """The strings for `lang`, falling back to English for anything missing."""
    return {**STRINGS[DEFAULT_LANG], **STRINGS.get(lang, {})}


def format_date(value: dt.date, lang: str) -> str:
    """'June 16, 2026' in English, '2026年6月16日' in Chinese."""
    if lang == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value:%B} {value.day}, {value.year}"
