"""The paywall in the reader's language, on the real example site (its en and zh page shells):
sign-in and account pages, checkout (Stripe's page locale, our success page) and the magic-link
and purchase e-mails in the member's language — all strings from kp_contract/translations.yml."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from stripe_local.server import LocalStripe

from kp_contract.i18n import format_date, t
from kp_contract.manifest import read_manifest
from paywall.billing.stripe_sync import sync_catalog
from paywall.database.models import Member
from site_builder.build import build_site

from .conftest import open_magic_link

REPO = Path(__file__).resolve().parents[2]
ZH_LESSON = "/courses/paid-community-ops/02-onboarding/"
EN_LESSON = "/courses/community-launch/02-plan-ten-articles/"
CS_ID = re.compile(r"cs_[A-Za-z0-9_]+")


@pytest.fixture(scope="module")
def example_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example site built once for this module (en and zh shells, real manifest)."""
    project = tmp_path_factory.mktemp("i18n-paywall") / "project"
    project.mkdir()
    for name in ("content", "themes"):
        shutil.copytree(REPO / name, project / name)
    shutil.copy2(REPO / "mkdocs.yml", project / "mkdocs.yml")
    build_site(project / "mkdocs.yml")
    return project


@pytest.fixture
def built_site(example_project: Path, tmp_path: Path) -> Path:
    """A fresh copy of the built example site per test (overrides the hand-made one)."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("site", "private"):
        shutil.copytree(example_project / name, project / name)
    return project


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return stripe_settings


@pytest.fixture
def catalog(local_stripe: LocalStripe, settings) -> None:  # noqa: ANN001
    sync_catalog(local_stripe.client(), read_manifest(settings.manifest_path))


def _html_lang(html: str) -> str:
    return re.search(r'<html lang="([a-z]+)"', html).group(1)


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_sign_in_page_in_the_language_of_the_page_the_link_came_from(app_server) -> None:
    c = app_server.client()
    zh = c.get("/account/", params={"next": "/zh/", "lang": "zh"}).text
    assert _html_lang(zh) == "zh" and t("zh", "sign_in.button") in zh
    assert "搜索" in zh, "the Chinese shell: material's chrome in Chinese"
    assert 'name="lang" value="zh"' in zh, "the form keeps the language"
    # A Chinese page without /zh/ in its URL: the gated page's language from the manifest.
    lesson = c.get("/account/", params={"next": ZH_LESSON}).text
    assert _html_lang(lesson) == "zh"
    en = c.get("/account/", params={"next": EN_LESSON}).text
    assert _html_lang(en) == "en" and t("en", "sign_in.button") in en


@SQLITE_ONLY
def test_sign_up_from_a_chinese_page_mails_in_chinese_and_remembers_it(app_server, db) -> None:
    c = app_server.client()
    r = c.post(
        "/api/login",
        data={"email": "li@example.com", "next": "/zh/", "from": "/zh/join/", "lang": "zh"},
    )
    assert r.status_code == 200 and _html_lang(r.text) == "zh"
    assert t("zh", "sent.title") in r.text
    mail = app_server.mailer.to("li@example.com")[-1]
    site = read_manifest(app_server.settings.manifest_path).site_name
    assert mail.subject == t("zh", "email.signup_subject", site=site)
    assert "链接仅可使用一次" in app_server.outbox.body(app_server.outbox.latest("li@example.com"))
    assert open_magic_link(c, app_server.outbox.link("li@example.com")).status_code == 303
    assert db.scalar(select(Member.lang).where(Member.email == "li@example.com")) == "zh"
    # Later, from an English page: the page answers in English, the e-mail in Chinese.
    again = app_server.client().post(
        "/api/login", data={"email": "li@example.com", "from": "/articles/x/", "lang": "en"}
    )
    assert _html_lang(again.text) == "en"
    assert app_server.mailer.to("li@example.com")[-1].subject == t(
        "zh", "email.login_subject", site=site
    )


@SQLITE_ONLY
def test_account_page_dates_and_tier_in_the_readers_language(app_server, grant_access) -> None:
    until = dt.datetime(2027, 3, 5, 12, tzinfo=dt.UTC)
    grant_access(
        "wang@example.com", "tier:pro", "subscription", valid_until=until, stripe_status="active"
    )
    c = app_server.client()
    app_server.login(c, "wang@example.com")
    zh = c.get("/account/", params={"lang": "zh"}).text
    assert _html_lang(zh) == "zh" and t("zh", "account.title") in zh
    assert "Pro 会员" in zh and "Pro membership" not in zh, "tier title from its translation"
    assert t("zh", "term.renews", date="2027年3月5日") in zh
    assert t("zh", "term.included", tier="Pro 会员") in zh
    en = c.get("/account/", params={"lang": "en"}).text
    assert "Pro membership" in en and t("en", "term.renews", date="March 5, 2027") in en
    assert format_date(until.date(), "en") == "March 5, 2027"


@SQLITE_ONLY
def test_chinese_purchase_checkout_success_page_and_mail(
    app_server, local_stripe: LocalStripe, catalog, db
) -> None:
    buyer = app_server.client()
    r = buyer.post(
        "/api/checkout",
        data={"course": "paid-community-ops", "from": ZH_LESSON, "lang": "zh"},
    )
    assert r.status_code == 303, r.text[:300]
    cs_id = CS_ID.search(r.headers["location"]).group(0)
    session = local_stripe.client().v1.checkout.sessions.retrieve(cs_id)
    assert session["locale"] == "zh", "Stripe's hosted page in Chinese"
    assert session["metadata"]["kp_lang"] == "zh"
    redirect = local_stripe.pay(cs_id, email="zhao@example.com")
    assert "&lang=zh" in redirect
    success = buyer.get(redirect.removeprefix(app_server.url))
    assert success.status_code == 200 and _html_lang(success.text) == "zh"
    assert t("zh", "checkout.mailed_title") in success.text
    mail = app_server.mailer.to("zhao@example.com")[-1]
    site = read_manifest(app_server.settings.manifest_path).site_name
    assert mail.subject == t("zh", "email.purchase_subject", site=site)
    assert db.scalar(select(Member.lang).where(Member.email == "zhao@example.com")) == "zh"


@SQLITE_ONLY
@pytest.mark.parametrize("settings_overrides", [{}])  # Stripe not configured
def test_checkout_without_stripe_explains_in_chinese(app_server) -> None:
    r = app_server.client().post(
        "/api/checkout", data={"course": "paid-community-ops", "from": ZH_LESSON, "lang": "zh"}
    )
    assert r.status_code == 503 and _html_lang(r.text) == "zh"
    assert t("zh", "checkout.not_configured_title") in r.text
