"""Offers end to end: `kp offers add` makes the Stripe coupon + promotion code through the
SDK (against the local Stripe server), the pages ask `GET /api/offer` what an offer link's
code gives (price in the reader's currency, what it is off, its last day), checkout applies
it as the session's `discounts` and charges the discounted amount, the webhook grants, a
refund revokes; an expired, used-up, ended or wrong-product offer is explained in the
reader's language instead of failing at Stripe. `kp offers list|end`. SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from kp_contract.manifest import read_manifest, write_manifest
from paywall.billing.stripe_sync import sync_catalog

from .conftest import CANARY, PRO_CANARY, make_built_site
from .test_checkout import LESSON, PRO_LESSON, start_checkout
from .test_commerce import charge_of, priced_in_yuan

pytestmark = pytest.mark.timeout(180)
DAY = 86400


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


@pytest.fixture
def kp(settings: Any, pw: Any) -> Callable[..., Result]:
    """`kp("offers", "list")`: the real `kp` command with the test's settings."""
    from kp.cli import main

    env = {
        "KP_PROJECT_DIR": str(settings.project_dir),
        "KP_DATABASE_URL": settings.database_url,
        "KP_SECRET_KEY": settings.secret_key.get_secret_value(),
        "KP_BASE_URL": settings.base_url,
        "KP_SMTP_HOST": None,
        "STRIPE_SECRET_KEY": settings.stripe_secret_key.get_secret_value(),
        "STRIPE_API_BASE": settings.stripe_api_base,
        "STRIPE_WEBHOOK_SECRET": None,
    }

    def run(*args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, f"kp {' '.join(args)}: {result.output}"
        return result

    return run


def offer_api(browser, code: str, lang: str = "en", **product: str) -> Any:
    """What offers.js asks for a checkout form of the page."""
    return browser.get("/api/offer", params={"code": code, "lang": lang, **product})


def last_day(days: int) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)).isoformat()


def test_an_offer_link_charges_the_offer_price_and_a_refund_revokes(shop, local_stripe, kp):
    made = kp(
        "offers", "add", "Spring sale", "--percent", "20", "--course", "demo",
        "--expires", last_day(10), "--max-redemptions", "5", "--code", "SPRING20",
    ).output  # fmt: skip
    assert "SPRING20\tSpring sale\t20% off\tcourse:demo" in made
    assert f"offer link: {shop.url}/courses/demo/?offer=SPRING20" in made
    client = local_stripe.client()
    coupon = client.v1.coupons.list().data[0]
    assert (coupon.percent_off, coupon.max_redemptions, coupon.metadata["kp_offer"]) == (
        20,
        5,
        "Spring sale",
    )
    expanded = client.v1.coupons.retrieve(coupon.id, {"expand": ["applies_to"]})
    assert expanded.applies_to.products == ["kp_course_demo"]

    browser = shop.client()
    page = browser.get("/courses/demo/?offer=SPRING20")
    assert page.status_code == 200 and "SPRING20" not in page.text  # nothing baked in

    zh = offer_api(browser, "spring20", "zh", course="demo")
    assert zh.status_code == 200, zh.text
    answer = zh.json()
    assert (answer["price"], answer["was"], answer["off"], answer["currency"]) == (
        "¥239.20",
        "¥299",
        "20%",
        "cny",
    )
    assert answer["ends"] == last_day(10)
    ends = dt.date.fromisoformat(last_day(10))
    assert answer["deal"] == (
        f"优惠 SPRING20：¥239.20，原价 ¥299（立减 20%）。"
        f"有效期至{ends.year}年{ends.month}月{ends.day}日。"
    )
    assert answer["button"] == "¥239.20 购买"
    en = offer_api(browser, "SPRING20", course="demo").json()
    assert (en["price"], en["was"], en["button"]) == ("$39.20", "$49", "Buy for $39.20")

    shop.login(browser, "spring@example.com")
    cs = start_checkout(browser, course="demo", lang="zh", offer="spring20", **{"from": LESSON})
    session = client.v1.checkout.sessions.retrieve(cs)
    assert (session.currency, session.amount_subtotal, session.amount_total) == (
        "cny",
        29900,
        23920,
    )
    assert session.allow_promotion_codes is None
    promo = client.v1.promotion_codes.list({"code": "SPRING20"}).data[0]
    assert session.discounts[0].promotion_code == promo.id
    assert session.metadata["kp_offer"] == "SPRING20"
    local_stripe.pay(cs, payment_method="alipay")
    charge = charge_of(local_stripe, cs)
    assert (charge.amount, charge.currency) == (23920, "cny")
    assert CANARY in browser.get(LESSON).text
    assert "Demo course" in browser.get("/account/").text

    listed = kp("offers", "list").output
    assert "SPRING20\tSpring sale\t20% off\tcourse:demo" in listed
    assert "used 1/5\tactive" in listed

    local_stripe.refund(cs)
    assert CANARY not in browser.get(LESSON).text


def test_an_amount_offer_on_a_tier_discounts_the_first_payment(shop, local_stripe, kp):
    kp("offers", "add", "Pro ten", "--amount", "10", "--currency", "cny", "--tier", "pro")
    browser = shop.client()
    answer = offer_api(browser, "PROTEN", "zh", tier="pro", interval="month").json()
    assert answer["ok"] and (answer["price"], answer["was"], answer["off"]) == (
        "¥49",
        "¥59",
        "¥10",
    )
    assert "首次付款" in answer["deal"] and answer["ends"] is None
    wrong = offer_api(browser, "PROTEN", "en", tier="pro", interval="month")
    assert wrong.status_code == 409 and wrong.json()["reason"] == "other_currency"

    shop.login(browser, "pro-ten@example.com")
    cs = start_checkout(browser, tier="pro", interval="month", lang="zh", offer="PROTEN")
    client = local_stripe.client()
    session = client.v1.checkout.sessions.retrieve(cs)
    assert (session.currency, session.amount_total) == ("cny", 4900)
    local_stripe.pay(cs)
    assert PRO_CANARY in browser.get(PRO_LESSON).text
    sub = client.v1.subscriptions.retrieve(client.v1.checkout.sessions.retrieve(cs).subscription)
    first = client.v1.invoices.retrieve(sub.latest_invoice)
    assert (first.amount_paid, first.currency) == (4900, "cny")


def refused(browser, lang: str = "en", **fields: str) -> Any:
    response = browser.post("/api/checkout", data={"lang": lang, "from": LESSON, **fields})
    assert "checkout.stripe" not in response.headers.get("location", "")
    return response


def test_made_up_codes_never_reach_stripe(shop, local_stripe, kp):
    """`/api/offer` is public: it answers from one listing of the offers (renewed every 30 s),
    so a flood of made-up codes costs Stripe nothing, and the pages keep their offers while
    Stripe's API does not answer."""
    kp("offers", "add", "Spring", "--percent", "20", "--code", "SPRING")
    browser = shop.client()
    assert offer_api(browser, "SPRING", course="demo").status_code == 200  # listed once
    before = local_stripe.api_refused
    local_stripe.pause_api()
    try:
        for n in range(30):
            made_up = offer_api(browser, f"GUESS{n:03d}", course="demo")
            assert made_up.status_code == 404 and made_up.json()["reason"] == "unknown"
        assert offer_api(browser, "spring", course="demo").status_code == 200
        refused_calls = local_stripe.api_refused
    finally:
        local_stripe.resume_api()
    assert refused_calls == before  # not one request reached the (paused) API


def test_expired_used_up_ended_and_wrong_product_offers_say_so(shop, local_stripe, kp):
    kp("offers", "add", "Once", "--percent", "50", "--max-redemptions", "1", "--code", "ONCE")
    kp("offers", "add", "Soon", "--percent", "10", "--expires", last_day(0), "--code", "SOON")
    kp("offers", "add", "Pro only", "--percent", "30", "--tier", "pro", "--code", "PROONLY")
    kp("offers", "add", "Ends", "--percent", "15", "--code", "ENDS")
    client = local_stripe.client()
    browser = shop.client()
    sessions_before = len(client.v1.checkout.sessions.list().data)

    wrong = refused(browser, "zh", course="demo", offer="PROONLY")
    assert wrong.status_code == 409
    assert "优惠 PROONLY 不适用于《Demo course》。没有产生任何扣款。" in wrong.text
    assert f'href="{LESSON}"' in wrong.text  # back to the page, to buy at the full price
    api = offer_api(browser, "PROONLY", course="demo")
    assert api.status_code == 409 and api.json()["message"] == (
        "The offer PROONLY is not for Demo course."
    )

    shop.login(browser, "first@example.com")
    cs = start_checkout(browser, course="demo", offer="ONCE")
    local_stripe.pay(cs)
    other = shop.client()
    used = refused(other, course="demo", offer="ONCE")
    assert used.status_code == 410 and "The offer ONCE is used up" in used.text
    assert offer_api(other, "ONCE", course="demo").json()["reason"] == "used_up"

    ended = kp("offers", "end", "ends").output
    assert "ended ENDS (Ends)" in ended
    gone = refused(other, "zh", course="demo", offer="ENDS")
    assert gone.status_code == 410 and "优惠 ENDS 已结束。" in gone.text
    again = kp("offers", "end", "ENDS", ok=False)
    assert again.exit_code == 1 and "ended already" in again.output

    shop.clock.advance(days=1)
    local_stripe.advance(DAY)
    late = refused(other, course="demo", offer="SOON")
    today = dt.datetime.now(dt.UTC).date()
    assert late.status_code == 410
    assert f"The offer SOON expired on {today:%B} {today.day}, {today.year}." in late.text
    unknown = refused(other, course="demo", offer="NOSUCH")
    assert unknown.status_code == 404 and "There is no offer with the code NOSUCH." in unknown.text

    assert len(client.v1.checkout.sessions.list().data) == sessions_before + 1
    rows = [line.split("\t") for line in kp("offers", "list").output.splitlines()]
    states = {row[0]: row[-1] for row in rows}
    # (the command runs on the real clock, where SOON's last day is today: still active)
    assert states == {"ENDS": "ended", "PROONLY": "active", "SOON": "active", "ONCE": "used_up"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["X", "--percent", "20", "--amount", "5"], "either --percent P or --amount A"),
        (["X"], "either --percent P or --amount A"),
        (["X", "--amount", "5"], "--amount needs --currency"),
        (["X", "--percent", "120"], "--percent: 120 must be more than 0"),
        (["X", "--amount", "5.555", "--currency", "usd"], "more decimals than USD"),
        (["X", "--percent", "20", "--course", "nope"], "--course: there is no course 'nope'"),
        (["X", "--percent", "20", "--tier", "gold"], "--tier: there is no membership tier"),
        (["X", "--percent", "20", "--expires", "2020-01-01"], "--expires: 2020-01-01 is in"),
        (["X", "--percent", "20", "--expires", "soon"], "is not a date (YYYY-MM-DD)"),
        (["X", "--percent", "20", "--code", "a b"], "--code: 'A B' must be 3-40"),
    ],
)
def test_kp_offers_add_names_what_is_wrong(shop, local_stripe, kp, args, words):
    result = kp("offers", "add", *args, ok=False)
    assert result.exit_code == 1 and words in result.output, result.output
    assert local_stripe.client().v1.coupons.list().data == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_taken_code_leaves_no_orphan_coupon(shop, local_stripe, kp):
    kp("offers", "add", "First", "--percent", "10", "--code", "TAKEN")
    second = kp("offers", "add", "Second", "--percent", "20", "--code", "TAKEN", ok=False)
    assert second.exit_code == 1 and "Stripe refused" in second.output
    coupons = local_stripe.client().v1.coupons.list().data
    assert [c.name for c in coupons] == ["First"]
