"""Commerce through the app, the official SDK and the local Stripe server: prices per
currency (each language charges its `currency_by_lang` currency), payment methods (Alipay
and WeChat Pay for one-time payments, card for subscriptions), and free trials (trialing
access, conversion, a card declined at the trial's end, cancelling during the trial).
Checkout → webhook → access → /account/ → refund, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kp_contract.manifest import Manifest, Price, read_manifest, write_manifest
from paywall.billing.stripe_sync import sync_catalog

from .conftest import CANARY, PRO_CANARY, make_built_site
from .test_checkout import LESSON, PRO_LESSON, start_checkout

pytestmark = pytest.mark.timeout(180)
DAY = 86400


def priced_in_yuan(manifest: Manifest) -> Manifest:
    """The hand-made build with Chinese prices, wallets and a 14-day trial on the yearly
    Pro price (what `prices: {usd: …, cny: …}`, `currency_by_lang`, `payment_methods` and
    `trial_days` build to)."""
    demo = manifest.courses["demo"]
    cny = Price(amount=29900, currency="cny", display="¥299", lookup_key="demo-cny")
    courses = {
        **manifest.courses,
        "demo": demo.model_copy(
            update={"price": demo.price.model_copy(update={"currencies": {"cny": cny}})}
        ),
    }
    pro = manifest.tiers["pro"]
    month = pro.prices["month"].model_copy(
        update={
            "currencies": {
                "cny": Price(
                    amount=5900,
                    currency="cny",
                    display="¥59",
                    lookup_key="pro-month-cny",
                    interval="month",
                )
            }
        }
    )
    year = pro.prices["year"].model_copy(update={"trial_days": 14})
    tiers = {"pro": pro.model_copy(update={"prices": {"month": month, "year": year}})}
    return manifest.model_copy(
        update={
            "courses": courses,
            "tiers": tiers,
            "currency_by_lang": {"en": "usd", "zh": "cny"},
            "payment_methods": ["card", "alipay", "wechat_pay"],
        }
    )


@pytest.fixture
def built_site(tmp_path: Path) -> Path:
    project = make_built_site(tmp_path / "project")
    path = project / "private" / "manifest.json"
    write_manifest(priced_in_yuan(read_manifest(path)), path)
    return project


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return stripe_settings


@pytest.fixture
def shop(app_server, local_stripe):
    sync_catalog(local_stripe.client(), app_server.pw.manifest())
    return app_server


def charge_of(local_stripe, cs: str) -> Any:
    client = local_stripe.client()
    session = client.v1.checkout.sessions.retrieve(cs)
    intent = client.v1.payment_intents.retrieve(session.payment_intent)
    return client.v1.charges.retrieve(intent.latest_charge)


@pytest.mark.parametrize(
    ("lang", "method", "amount", "currency"),
    [
        ("zh", "alipay", 29900, "cny"),
        ("zh", "wechat_pay", 29900, "cny"),
        ("en", "card", 4900, "usd"),
    ],
)
def test_each_language_pays_its_currency_with_the_method_chosen(
    shop, local_stripe, lang, method, amount, currency
):
    browser = shop.client()
    email = f"{method}-{lang}@example.com"
    shop.login(browser, email)
    cs = start_checkout(browser, course="demo", lang=lang, **{"from": LESSON})
    session = local_stripe.client().v1.checkout.sessions.retrieve(cs)
    assert (session.currency, session.amount_total, session.locale) == (currency, amount, lang)
    assert session.payment_method_types == ["card", "alipay", "wechat_pay"]
    assert session.payment_method_options["wechat_pay"]["client"] == "web"

    local_stripe.pay(cs, payment_method=method)
    charge = charge_of(local_stripe, cs)
    assert (charge.amount, charge.currency) == (amount, currency)
    assert charge.payment_method_details.type == method
    assert CANARY in browser.get(LESSON).text
    account = browser.get("/account/")
    assert account.status_code == 200 and "Demo course" in account.text

    local_stripe.refund(cs)
    assert CANARY not in browser.get(LESSON).text


def test_a_subscription_is_paid_by_card_in_the_readers_currency(shop, local_stripe):
    """Stripe takes Alipay and WeChat Pay for one-time payments only: a subscription's
    Checkout offers the card alone, priced in the reader's currency."""
    browser = shop.client()
    shop.login(browser, "yuan-pro@example.com")
    cs = start_checkout(browser, tier="pro", interval="month", lang="zh")
    client = local_stripe.client()
    session = client.v1.checkout.sessions.retrieve(cs)
    assert (session.currency, session.amount_total) == ("cny", 5900)
    assert session.payment_method_types == ["card"]
    assert "wechat_pay" not in session.payment_method_options
    local_stripe.pay(cs)
    assert PRO_CANARY in browser.get(PRO_LESSON).text
    session = client.v1.checkout.sessions.retrieve(cs)
    sub = client.v1.subscriptions.retrieve(session.subscription)
    assert sub.items.data[0].price.lookup_key == "pro-month-cny"
    local_stripe.refund(session.invoice)
    local_stripe.cancel_subscription(sub.id, at_period_end=False)
    assert PRO_CANARY not in browser.get(PRO_LESSON).text


def test_a_trial_gives_access_then_converts_at_its_end(shop, local_stripe):
    browser = shop.client()
    shop.login(browser, "trial@example.com")
    cs = start_checkout(browser, tier="pro", interval="year")
    client = local_stripe.client()
    session = client.v1.checkout.sessions.retrieve(cs)
    assert session.amount_total == 0  # nothing due today
    local_stripe.pay(cs)
    sub = client.v1.subscriptions.retrieve(client.v1.checkout.sessions.retrieve(cs).subscription)
    assert sub.status == "trialing"
    assert sub.trial_end - sub.trial_start == 14 * DAY
    assert sub.current_period_end == sub.trial_end
    first = client.v1.invoices.retrieve(sub.latest_invoice)
    assert (first.amount_paid, first.status) == (0, "paid")
    assert PRO_CANARY in browser.get(PRO_LESSON).text  # trialing members read
    assert "Pro membership" in browser.get("/account/").text

    local_stripe.advance(11 * DAY + 60)
    assert [
        e["data"]["object"]["id"]
        for e in local_stripe.events("customer.subscription.trial_will_end")
    ] == [sub.id]
    shop.clock.advance(days=11)
    local_stripe.advance(3 * DAY)  # the trial ends: the first year is charged
    shop.clock.advance(days=4)
    converted = client.v1.subscriptions.retrieve(sub.id)
    assert converted.status == "active"
    assert converted.current_period_start == sub.trial_end
    paid = client.v1.invoices.retrieve(converted.latest_invoice)
    assert (paid.amount_paid, paid.currency, paid.billing_reason) == (
        9000,
        "usd",
        "subscription_cycle",
    )
    shop.login(browser, "trial@example.com")
    assert PRO_CANARY in browser.get(PRO_LESSON).text  # paid for the year now

    local_stripe.refund(paid.id)
    local_stripe.cancel_subscription(sub.id, at_period_end=False)
    assert PRO_CANARY not in browser.get(PRO_LESSON).text


def test_cancelling_during_the_trial_ends_access_at_the_trials_end(shop, local_stripe):
    browser = shop.client()
    shop.login(browser, "quitter@example.com")
    cs = start_checkout(browser, tier="pro", interval="year")
    local_stripe.pay(cs)
    client = local_stripe.client()
    sub_id = client.v1.checkout.sessions.retrieve(cs).subscription
    local_stripe.cancel_subscription(sub_id, at_period_end=True)
    assert PRO_CANARY in browser.get(PRO_LESSON).text  # the trial runs to its end
    local_stripe.advance(15 * DAY)
    shop.clock.advance(days=15)
    shop.login(browser, "quitter@example.com")
    ended = client.v1.subscriptions.retrieve(sub_id)
    assert ended.status == "canceled"
    assert not [i for i in client.v1.invoices.list({"subscription": sub_id}).data if i.amount_paid]
    assert PRO_CANARY not in browser.get(PRO_LESSON).text


def test_a_card_declined_at_the_trials_end_leaves_the_grace_period(shop, local_stripe):
    browser = shop.client()
    shop.login(browser, "declined@example.com")
    cs = start_checkout(browser, tier="pro", interval="year")
    local_stripe.pay(cs)
    client = local_stripe.client()
    session = client.v1.checkout.sessions.retrieve(cs)
    local_stripe.set_card(session.customer, "4000000000000341")
    local_stripe.advance(14 * DAY + 60)
    shop.clock.advance(days=14, seconds=60)
    assert client.v1.subscriptions.retrieve(session.subscription).status == "past_due"
    shop.login(browser, "declined@example.com")
    assert PRO_CANARY in browser.get(PRO_LESSON).text  # grace days
    shop.clock.advance(days=shop.settings.grace_days + 1)
    assert PRO_CANARY not in browser.get(PRO_LESSON).text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_stripe_sync_makes_one_price_per_currency_and_is_idempotent(app_server, local_stripe):
    client = local_stripe.client()
    first = sync_catalog(client, app_server.pw.manifest())
    created = {line.name: line.action for line in first if line.kind == "price"}
    assert created == {
        "demo": "created",
        "demo-cny": "created",
        "pro-month": "created",
        "pro-month-cny": "created",
        "pro-year": "created",
    }
    again = sync_catalog(client, app_server.pw.manifest())
    assert {line.action for line in again} == {"unchanged"}, [str(x) for x in again]
    prices = client.v1.prices.list({"lookup_keys": ["demo-cny", "pro-month-cny"]}).data
    found = {(p.lookup_key, p.currency, p.unit_amount, p.product) for p in prices}
    assert found == {
        ("demo-cny", "cny", 29900, "kp_course_demo"),
        ("pro-month-cny", "cny", 5900, "kp_tier_pro"),
    }


def test_a_manifest_written_before_per_currency_prices_still_reads(tmp_path):
    old = {
        "version": 1,
        "built_at": "2026-01-01T00:00:00Z",
        "site_name": "Old",
        "courses": {
            "c": {
                "slug": "c",
                "title": "C",
                "url": "/courses/c/",
                "mode": "payment",
                "price": {"amount": 4900, "currency": "usd", "display": "$49", "lookup_key": "c"},
            }
        },
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    manifest = read_manifest(path)
    assert manifest.currency_by_lang == {} and manifest.payment_methods == []
    price = manifest.courses["c"].price
    assert price.in_currency("cny") == price and price.every_currency() == [price]
