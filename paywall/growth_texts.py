"""Wording of the growth features (invites on the account page, newsletter mails and the
unsubscribe page, the admin dashboard) in the site's languages.

Kept beside the growth modules (not in kp/translations.yml, which holds the theme's and the
core paywall's strings) so the growth engine can change its copy on its own. Every key has
every language with the same `{placeholders}`; tests/growth/test_texts.py checks it.
Values are plain text (escape them where they are used).
"""

from __future__ import annotations

from kp.i18n import LANGS, normalize_lang

TEXTS: dict[str, dict[str, str]] = {
    # -- account page: invites and rewards
    "invite_title": {"en": "Invite friends", "zh": "邀请好友"},
    "invite_intro": {
        "en": "Share your personal link. A friend who signs up with it and confirms their "
        "e-mail address counts as one invite.",
        "zh": "分享你的专属链接。好友通过它注册并确认邮箱后，计为一次成功邀请。",
    },
    "invite_link_label": {"en": "Your invite link", "zh": "你的邀请链接"},
    "invite_progress": {
        "en": "{count}/{needed} confirmed invites toward {reward}",
        "zh": "已成功邀请 {count}/{needed} 位好友，目标奖励：{reward}",
    },
    "invite_count": {
        "en": "Confirmed invites: {count}",
        "zh": "已成功邀请：{count} 位",
    },
    "invite_all_earned": {
        "en": "You have earned every invite reward. Thank you for spreading the word!",
        "zh": "你已获得全部邀请奖励，感谢你的推荐！",
    },
    "rewards_earned": {"en": "Rewards earned", "zh": "已获得的奖励"},
    "reward_for_days": {"en": "{title} for {days} days", "zh": "{title}（{days} 天）"},
    "reward_earned_on": {"en": "earned on {date}", "zh": "获得于 {date}"},
    # -- account page: newsletter setting
    "newsletter_title": {"en": "Newsletter", "zh": "新文章通讯"},
    "newsletter_on": {
        "en": "New free articles are e-mailed to you.",
        "zh": "新的免费文章会通过邮件发送给你。",
    },
    "newsletter_off": {
        "en": "You do not receive new articles by e-mail.",
        "zh": "你目前不接收新文章邮件。",
    },
    "newsletter_stop": {"en": "Stop these e-mails", "zh": "退订邮件"},
    "newsletter_start": {"en": "E-mail me new articles", "zh": "通过邮件接收新文章"},
    # -- unsubscribe page (works signed out)
    "unsub_title": {"en": "Unsubscribe", "zh": "退订"},
    "unsub_confirm": {
        "en": "Stop sending new articles to {email}?",
        "zh": "不再向 {email} 发送新文章？",
    },
    "unsub_button": {"en": "Unsubscribe", "zh": "确认退订"},
    "unsub_done_title": {"en": "You are unsubscribed", "zh": "已退订"},
    "unsub_done": {
        "en": "{email} will not receive new articles any more. You can subscribe again on "
        "your account page.",
        "zh": "{email} 将不再收到新文章邮件。你可以随时在账户页面重新订阅。",
    },
    "unsub_invalid_title": {"en": "Link not valid", "zh": "链接无效"},
    "unsub_invalid": {
        "en": "This unsubscribe link is not valid. Sign in and change the newsletter setting "
        "on your account page.",
        "zh": "此退订链接无效。请登录后在账户页面修改邮件设置。",
    },
    # -- newsletter e-mail
    "mail_subject_one": {"en": "{site}: {title}", "zh": "{site}：{title}"},
    "mail_subject_many": {
        "en": "{site}: {count} new articles",
        "zh": "{site}：{count} 篇新文章",
    },
    "mail_intro": {"en": "New on {site}:", "zh": "{site} 的新文章："},
    "mail_read": {"en": "Read it", "zh": "阅读全文"},
    "mail_footer": {
        "en": "You receive this because you are a member of {site} and asked for new "
        "articles. Unsubscribe with one click: {link}",
        "zh": "你收到这封邮件，是因为你是 {site} 的会员并订阅了新文章。一键退订：{link}",
    },
    # -- admin dashboard
    "admin_title": {"en": "Growth dashboard", "zh": "增长看板"},
    "admin_sign_in": {
        "en": "Sign in with an admin e-mail address to see the growth dashboard.",
        "zh": "请使用管理员邮箱登录，查看增长看板。",
    },
    "admin_denied_title": {"en": "Admins only", "zh": "仅限管理员"},
    "admin_denied": {
        "en": "This page is for the site's admins, and {email} is not one of them.",
        "zh": "此页面仅限网站管理员访问，{email} 不是管理员。",
    },
    "admin_true_fans": {
        "en": "{count} paying members of a {goal} true fans goal ({percent})",
        "zh": "付费会员 {count} 人，距离 {goal} 位铁杆粉丝的目标已完成 {percent}",
    },
    "admin_funnel": {"en": "Funnel per page", "zh": "各页面转化漏斗"},
    "admin_daily": {"en": "Page views, last {days} days", "zh": "最近 {days} 天的页面浏览量"},
    "admin_partners": {"en": "Partners, {month}", "zh": "合作伙伴（{month}）"},
    "admin_no_data": {"en": "No data yet.", "zh": "暂无数据。"},
    "col_page": {"en": "Page", "zh": "页面"},
    "col_views": {"en": "Views", "zh": "浏览"},
    "col_cta": {"en": "CTA clicks", "zh": "行动点击"},
    "col_signups": {"en": "Sign-ups", "zh": "注册"},
    "col_purchases": {"en": "Purchases", "zh": "购买"},
    "col_overall": {"en": "Views → purchase", "zh": "浏览→购买"},
    "col_partner": {"en": "Partner", "zh": "合作伙伴"},
    "col_sales": {"en": "Sales", "zh": "销售"},
    "col_net": {"en": "Net sales", "zh": "净销售额"},
    "col_owed": {"en": "Commission owed", "zh": "应付佣金"},
}


def gt(lang: str | None, key: str, **values: object) -> str:
    """The growth text `key` in `lang` (the default language for an unknown one)."""
    try:
        entry = TEXTS[key]
    except KeyError:
        raise KeyError(f"no growth text {key!r} in paywall/growth_texts.py") from None
    template = entry[normalize_lang(lang)] if normalize_lang(lang) in entry else entry["en"]
    return template.format(**values) if values else template


__all__ = ["LANGS", "TEXTS", "gt"]
