"""`/account/` for visitors and members, rendered in the build's page shell."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from kp_contract.i18n import format_date

from .conftest import open_magic_link

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_anonymous_gets_sign_in_form_in_the_site_shell(app_server) -> None:
    r = app_server.client().get("/account/")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "private, no-store"
    assert "<title>Sign in - Demo Site</title>" in r.text  # the build's shell
    assert "<header>Demo Site</header>" in r.text
    form = re.search(
        r'<form class="kp-form kp-form--login kp-login" method="post" action="/api/login">'
        r".*?</form>",
        r.text,
    )
    assert form, r.text
    assert 'name="email"' in form.group(0)
    assert 'name="next" value="/account/"' in form.group(0)


@SQLITE_ONLY
def test_sign_in_form_keeps_a_safe_next_only(app_server) -> None:
    c = app_server.client()
    assert 'value="/courses/demo/"' in c.get("/account/?next=/courses/demo/").text
    page = c.get("/account/", params={"next": "//evil.com"}).text
    assert "evil.com" not in page


@SQLITE_ONLY
def test_account_without_slash_redirects(app_server) -> None:
    r = app_server.client().get("/account")
    assert r.status_code == 301 and r.headers["location"] == "/account/"


def test_member_sees_courses_membership_dates_billing_and_sign_out(
    app_server, grant_access
) -> None:
    now = app_server.clock()
    renews = now + dt.timedelta(days=20)
    grant_access(
        "member@example.com",
        "course:demo",
        "purchase",
        stripe_object_id="cs_1",
        customer_id="cus_123",
    )
    grant_access(
        "member@example.com",
        "tier:pro",
        "subscription",
        valid_until=renews,
        stripe_status="active",
        stripe_object_id="sub_1",
    )
    c = app_server.client()
    app_server.login(c, "member@example.com")
    r = c.get("/account/")
    assert r.status_code == 200
    text = r.text
    assert "member@example.com" in text
    assert '<a href="/courses/demo/">Demo course</a></strong> — Lifetime access' in text
    assert f"Pro membership</strong> — Renews on {format_date(renews.date(), 'en')}" in text
    assert '<a href="/courses/pro-course/">Pro course</a></strong> — Included in Pro' in text
    assert '<form method="post" action="/api/billing-portal">' in text
    assert "Manage billing" in text
    assert '<form method="post" action="/api/logout">' in text
    assert r.headers["cache-control"] == "private, no-store"


@SQLITE_ONLY
def test_ending_and_complimentary_access_show_end_dates(app_server, grant_access) -> None:
    now = app_server.clock()
    ends = now + dt.timedelta(days=5)
    grant_access(
        "ending@example.com",
        "tier:pro",
        "subscription",
        valid_until=ends,
        stripe_status="canceled",
        stripe_object_id="sub_2",
    )
    grant_access("ending@example.com", "course:demo", "complimentary", valid_until=ends)
    c = app_server.client()
    app_server.login(c, "ending@example.com")
    text = c.get("/account/").text
    assert f"Ends on {format_date(ends.date(), 'en')}" in text
    assert f"Access until {format_date(ends.date(), 'en')}" in text
    assert "Manage billing" not in text  # no Stripe customer yet


@SQLITE_ONLY
def test_free_member_and_expired_access(app_server, grant_access) -> None:
    grant_access(
        "free@example.com", "course:demo", valid_until=app_server.clock() + dt.timedelta(hours=1)
    )
    c = app_server.client()
    app_server.login(c, "free@example.com")
    assert "Demo course" in c.get("/account/").text
    app_server.clock.advance(hours=2)
    text = c.get("/account/").text
    assert "Demo course" not in text
    assert "Free membership." in text and "no courses yet" in text


@SQLITE_ONLY
def test_account_without_a_build_uses_the_built_in_page(app_server) -> None:
    app_server.settings.manifest_path.unlink()
    r = app_server.client().get("/account/")
    assert r.status_code == 200
    assert "<title>Sign in</title>" in r.text and "/api/login" in r.text


@SQLITE_ONLY
def test_sign_out_from_account_page(app_server) -> None:
    c = app_server.client()
    app_server.login(c, "out@example.com")
    assert "out@example.com" in c.get("/account/").text
    r = c.post("/api/logout", data={"next": "/"})
    assert r.status_code == 303
    assert 'action="/api/login"' in c.get("/account/").text


@SQLITE_ONLY
def test_chinese_visitor_gets_chinese_pages_mail_and_member_language(app_server, db) -> None:
    from sqlalchemy import select

    from paywall.database.models import Member

    c = app_server.client()
    r = c.post("/api/login", data={"email": "zh@example.com", "next": "/", "lang": "zh"})
    assert r.status_code == 200 and "请查收邮件" in r.text
    mail = app_server.mailer.to("zh@example.com")[-1]
    assert mail.subject.startswith("确认你在")
    link = app_server.outbox.link("zh@example.com")
    assert link.endswith("&lang=zh")
    assert open_magic_link(c, link).status_code == 303
    assert db.scalar(select(Member.lang).where(Member.email == "zh@example.com")) == "zh"
    page = c.get("/account/").text
    assert "我的账户" in page and "退出登录" in page
    # the next e-mail follows the member's language even without a lang field
    c.post("/api/login", data={"email": "zh@example.com"})
    assert app_server.mailer.to("zh@example.com")[-1].subject.startswith("登录")


@SQLITE_ONLY
def test_anonymous_language_follows_accept_language(app_server) -> None:
    c = app_server.client(headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "发送登录链接" in c.get("/account/").text
    assert "E-mail me a sign-in link" in app_server.client().get("/account/").text


@SQLITE_ONLY
def test_sign_in_page_language_follows_the_page_the_visitor_came_from(app_server) -> None:
    c = app_server.client()
    assert "发送登录链接" in c.get("/account/", params={"next": "/zh/articles/x/"}).text
    r = c.post("/api/login", data={"email": "p@example.com", "from": "/zh/articles/x/"})
    assert "请查收邮件" in r.text


def test_subscription_cancelled_at_period_end_says_ends_not_renews() -> None:
    """Stripe keeps such a subscription `active` until its period ends: no renewal promise."""
    from paywall.database.models import Entitlement
    from paywall.members.entitlements import CANCELS_AT_PERIOD_END
    from paywall.web.account import describe_term

    until = dt.datetime(2026, 12, 25, tzinfo=dt.UTC)
    row = Entitlement(source="subscription", stripe_status="active", valid_until=until, note="")
    assert describe_term(row) == "Renews on December 25, 2026"
    row.note = CANCELS_AT_PERIOD_END
    assert describe_term(row) == "Ends on December 25, 2026"
    assert describe_term(row, "zh") == "将于2026年12月25日结束"
