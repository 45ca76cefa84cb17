"""Bundles and lifetime access through the app, the official SDK and the local Stripe
server: a bundle (two courses, one price) and a tier's one-time lifetime price are synced
to Stripe idempotently, sold at Checkout in `payment` mode with the right amount and
currency, opened by the webhook, shown on /account/, and taken back by a refund or a
dispute; a course in two tiers opens to members of either. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kp_contract.manifest import (
    Bundle,
    Course,
    GatedPage,
    Manifest,
    Price,
    Tier,
    read_manifest,
    write_manifest,
)
from paywall.billing.stripe_sync import sync_catalog
from paywall.members.records import find_member

from .conftest import CANARY, PRO_CANARY, make_built_site
from .test_checkout import LESSON, PRO_LESSON, start_checkout

pytestmark = pytest.mark.timeout(180)
EXTRA_CANARY = "CANARY-EXTRA-3b7e"
EXTRA_LESSON = "/courses/extra/01-paid/"
YEAR = 365 * 86400


def with_bundle_and_lifetime(manifest: Manifest) -> Manifest:
    """The hand-made build plus what `extra.paywall.bundles.starter` (demo + extra, $59 /
    ¥399), `tiers.pro.lifetime` ($299) and `tier: [pro, team]` on the extra course build to."""
    extra_price = Price(amount=3000, currency="usd", display="$30", lookup_key="extra")
    extra = Course(
        slug="extra",
        title="Extra course",
        url="/courses/extra/",
        mode="payment",
        price=extra_price,
        tier="pro",
        tiers=["pro", "team"],
        lessons=[EXTRA_LESSON],
    )
    bundle_price = Price(
        amount=5900,
        currency="usd",
        display="$59",
        lookup_key="starter",
        currencies={
            "cny": Price(amount=39900, currency="cny", display="¥399", lookup_key="starter-cny")
        },
    )
    lifetime = Price(amount=29900, currency="usd", display="$299", lookup_key="pro-lifetime")
    team_year = Price(
        amount=40000, currency="usd", display="$400", lookup_key="team-year", interval="year"
    )
    pro = manifest.tiers["pro"]
    return manifest.model_copy(
        update={
            "courses": {**manifest.courses, "extra": extra},
            "tiers": {
                "pro": pro.model_copy(
                    update={"lifetime": lifetime, "courses": [*pro.courses, "extra"]}
                ),
                "team": Tier(
                    name="team", title="Team", prices={"year": team_year}, courses=["extra"]
                ),
            },
            "bundles": {
                "starter": Bundle(
                    name="starter",
                    title="Starter bundle",
                    courses=["demo", "extra"],
                    price=bundle_price,
                )
            },
            "gated": {
                **manifest.gated,
                EXTRA_LESSON: GatedPage(
                    url=EXTRA_LESSON,
                    title="Extra lesson",
                    private_file="courses/extra/01-paid/index.html",
                    requires=["course:extra", "tier:pro", "tier:team"],
                    course="extra",
                ),
            },
            "currency_by_lang": {"en": "usd", "zh": "cny"},
        }
    )


@pytest.fixture
def built_site(tmp_path: Path) -> Path:
    project = make_built_site(tmp_path / "project")
    for root, text in (("site", "Extra teaser. kp-paywall"), ("private", EXTRA_CANARY)):
        page = project / root / "courses" / "extra" / "01-paid" / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<html><body><p>{text}</p></body></html>", encoding="utf-8")
    path = project / "private" / "manifest.json"
    write_manifest(with_bundle_and_lifetime(read_manifest(path)), path)
    return project


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return stripe_settings


@pytest.fixture
def shop(app_server, local_stripe):
    sync_catalog(local_stripe.client(), app_server.pw.manifest())
    return app_server


@pytest.mark.parametrize(
    ("lang", "amount", "currency"), [("en", 5900, "usd"), ("zh", 39900, "cny")]
)
def test_a_bundle_opens_each_course_and_a_refund_closes_them_all(
    shop, local_stripe, lang, amount, currency
):
    browser = shop.client()
    shop.login(browser, f"bundle-{lang}@example.com")
    cs = start_checkout(browser, bundle="starter", lang=lang, **{"from": "/pricing/"})
    session = local_stripe.client().v1.checkout.sessions.retrieve(cs)
    assert (session.mode, session.amount_total, session.currency) == ("payment", amount, currency)
    assert session.metadata["kp_product"] == "bundle:starter"
    assert CANARY not in browser.get(LESSON).text

    local_stripe.pay(cs)
    assert CANARY in browser.get(LESSON).text
    assert EXTRA_CANARY in browser.get(EXTRA_LESSON).text
    assert PRO_CANARY not in browser.get(PRO_LESSON).text  # a bundle is its courses only
    account = browser.get("/account/").text
    assert "Demo course" in account and "Extra course" in account
    success = browser.get(f"/checkout/success?session_id={cs}")
    assert success.status_code == 200 and "You have access" in success.text
    # owning every course of the bundle: the checkout sends back instead of charging again
    again = browser.post("/api/checkout", data={"bundle": "starter"})
    assert again.status_code == 303 and again.headers["location"] == "/courses/demo/"

    local_stripe.refund(cs)
    assert CANARY not in browser.get(LESSON).text
    assert EXTRA_CANARY not in browser.get(EXTRA_LESSON).text


def test_owning_one_course_of_a_bundle_still_lets_you_buy_it(shop, local_stripe, grant_access):
    grant_access("half@example.com", "course:demo")
    browser = shop.client()
    shop.login(browser, "half@example.com")
    cs = start_checkout(browser, bundle="starter")
    local_stripe.pay(cs)
    assert EXTRA_CANARY in browser.get(EXTRA_LESSON).text


def test_a_disputed_bundle_is_revoked_and_the_buyer_flagged(shop, local_stripe):
    browser = shop.client()
    shop.login(browser, "disputer@example.com")
    cs = start_checkout(browser, bundle="starter")
    local_stripe.pay(cs)
    assert EXTRA_CANARY in browser.get(EXTRA_LESSON).text
    local_stripe.dispute(cs)
    assert CANARY not in browser.get(LESSON).text
    assert EXTRA_CANARY not in browser.get(EXTRA_LESSON).text
    with shop.pw.sessions() as db:
        member = find_member(db, "disputer@example.com")
        assert member is not None and (member.flagged or "").startswith("disputed")


def test_lifetime_access_is_paid_once_never_ends_and_a_refund_ends_it(shop, local_stripe):
    browser = shop.client()
    shop.login(browser, "forever@example.com")
    cs = start_checkout(browser, tier="pro", interval="lifetime")
    client = local_stripe.client()
    session = client.v1.checkout.sessions.retrieve(cs)
    assert (session.mode, session.amount_total, session.currency) == ("payment", 29900, "usd")
    assert session.subscription is None
    local_stripe.pay(cs)
    assert PRO_CANARY in browser.get(PRO_LESSON).text
    assert EXTRA_CANARY in browser.get(EXTRA_LESSON).text  # a course of the tier
    account = browser.get("/account/").text
    assert "Pro membership" in account and "Lifetime access" in account

    shop.clock.advance(days=5 * 365)  # years later: no renewal, no end
    shop.login(browser, "forever@example.com")
    assert PRO_CANARY in browser.get(PRO_LESSON).text

    local_stripe.refund(cs)
    assert PRO_CANARY not in browser.get(PRO_LESSON).text


def test_a_course_in_two_tiers_opens_to_members_of_either(shop, local_stripe):
    browser = shop.client()
    shop.login(browser, "team@example.com")
    cs = start_checkout(browser, tier="team", interval="year")
    local_stripe.pay(cs)
    assert EXTRA_CANARY in browser.get(EXTRA_LESSON).text
    assert PRO_CANARY not in browser.get(PRO_LESSON).text


def test_unknown_bundle_and_missing_lifetime_are_refused_clearly(shop):
    browser = shop.client()
    r = browser.post("/api/checkout", data={"bundle": "nope"})
    assert r.status_code == 404 and "There is no bundle" in r.text
    r = browser.post("/api/checkout", data={"tier": "team", "interval": "lifetime"})
    assert r.status_code == 404 and "no lifetime price" in r.text
    r = browser.post("/api/checkout", data={"bundle": "starter", "course": "demo"})
    assert r.status_code == 400


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_stripe_sync_creates_bundle_and_lifetime_prices_idempotently(app_server, local_stripe):
    client = local_stripe.client()
    first = sync_catalog(client, app_server.pw.manifest())
    created = {line.name: line.action for line in first}
    assert created["kp_bundle_starter"] == "created"
    assert created["starter"] == created["starter-cny"] == created["pro-lifetime"] == "created"
    again = sync_catalog(client, app_server.pw.manifest())
    assert {line.action for line in again} == {"unchanged"}, [str(x) for x in again]
    prices = client.v1.prices.list({"lookup_keys": ["starter-cny", "pro-lifetime"]}).data
    found = {(p.lookup_key, p.currency, p.unit_amount, p.product, p.type) for p in prices}
    assert found == {
        ("starter-cny", "cny", 39900, "kp_bundle_starter", "one_time"),
        ("pro-lifetime", "usd", 29900, "kp_tier_pro", "one_time"),
    }
