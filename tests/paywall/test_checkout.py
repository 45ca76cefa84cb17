"""Buying through the app with the official SDK pointed at the local Stripe test server:
checkout sessions, the success page before and after the webhook, magic link to the lesson,
refunds, subscriptions (renewal, past due, cancel), the billing portal. SQLite and
PostgreSQL, real HTTP everywhere (app, LocalStripe, webhooks)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from paywall.billing.stripe_sync import sync_catalog

from .conftest import CANARY, PRO_CANARY, open_magic_link

pytestmark = pytest.mark.timeout(120)

LESSON = "/courses/demo/02-paid/"
PRO_LESSON = "/courses/pro-course/01-lesson/"


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return stripe_settings


@pytest.fixture
def shop(app_server, local_stripe):
    """The app with its catalog synced to LocalStripe (what `kp stripe sync` does)."""
    sync_catalog(local_stripe.client(), app_server.pw.manifest())
    return app_server


def start_checkout(client, **fields: str) -> str:
    """POST the pricing form like the static site does; the Checkout Session id."""
    response = client.post("/api/checkout", data=fields)
    assert response.status_code == 303, response.text[:500]
    location = response.headers["location"]
    session_id = location.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    assert session_id.startswith("cs_"), location
    return session_id


def session_id_of(redirect: str) -> str:
    return parse_qs(urlsplit(redirect).query)["session_id"][0]


def test_purchase_webhook_magic_link_lesson_refund(shop, local_stripe):
    browser = shop.client()
    assert CANARY not in browser.get(LESSON).text
    cs = start_checkout(browser, course="demo", **{"from": LESSON})

    session = local_stripe.client().v1.checkout.sessions.retrieve(cs)
    assert session.mode == "payment" and session.allow_promotion_codes is True
    assert session.metadata["kp_product"] == "course:demo"
    assert "{CHECKOUT_SESSION_ID}" in session.success_url
    assert session.cancel_url == f"{shop.url}{LESSON}"
    assert session.client_reference_id is None  # anonymous buyer: e-mail asked by Stripe

    page = browser.get(f"/checkout/success?session_id={cs}")
    assert page.status_code == 200 and "Payment not completed" in page.text

    redirect = local_stripe.pay(cs, email="Buyer@Example.com")
    assert redirect.startswith(f"{shop.url}/checkout/success?session_id={cs}")
    page = browser.get(redirect.removeprefix(shop.url))
    assert "check your e-mail" in page.text and "b***@example.com" in page.text
    assert CANARY not in browser.get(LESSON).text  # paid, but not signed in yet

    link = shop.outbox.link("buyer@example.com")
    assert open_magic_link(browser, link).status_code == 303
    assert CANARY in browser.get(LESSON).text

    local_stripe.refund(cs)
    assert CANARY not in browser.get(LESSON).text
    assert "kp-paywall" in browser.get(LESSON).text


AUTO_SUBMIT = "document.getElementById('kp-confirm').submit()"


def test_a_signed_out_buyer_signs_in_at_once_in_the_browser_that_bought(shop, local_stripe):
    """The purchase e-mail's link, opened in the browser that went through Checkout, signs in
    with no question (its nonce rode along in the session's metadata, hashed) and lands on
    the lesson the buyer was reading; opened anywhere else, it asks first."""
    browser = shop.client()
    cs = start_checkout(browser, course="demo", **{"from": LESSON + "?utm=x#part"})
    nonce = browser.cookies.get("kp_login_intent")
    assert nonce, "the signed-out buyer's browser gets a sign-in nonce"
    meta = local_stripe.client().v1.checkout.sessions.retrieve(cs).metadata
    assert nonce not in str(meta)  # only its hash goes to Stripe
    local_stripe.pay(cs, email="same@example.com")
    link = shop.outbox.link("same@example.com")

    elsewhere = shop.client().get(link)  # a mail scanner or the buyer's phone
    assert elsewhere.status_code == 200 and AUTO_SUBMIT not in elsewhere.text
    page = browser.get(link)
    assert AUTO_SUBMIT in page.text
    signed_in = open_magic_link(browser, link)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == LESSON
    assert CANARY in browser.get(LESSON).text


def test_a_purchase_link_from_a_page_the_purchase_does_not_open_lands_on_the_course(
    shop, local_stripe
):
    browser = shop.client()
    cs = start_checkout(browser, course="demo", **{"from": PRO_LESSON})
    local_stripe.pay(cs, email="elsewhere@example.com")
    signed_in = open_magic_link(browser, shop.outbox.link("elsewhere@example.com"))
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/courses/demo/"


def test_without_the_webhook_the_lesson_stays_locked(shop, local_stripe):
    browser = shop.client()
    shop.login(browser, "early@example.com")
    cs = start_checkout(browser, course="demo")
    session = local_stripe.client().v1.checkout.sessions.retrieve(cs)
    assert session.client_reference_id is not None
    assert session.customer_email == "early@example.com"

    local_stripe.hold()  # Stripe has taken the money; the webhook is late
    redirect = local_stripe.pay(cs)
    page = browser.get(redirect.removeprefix(shop.url))
    assert "Payment received, unlocking" in page.text
    assert page.headers.get("refresh") == "3"
    assert CANARY not in browser.get(LESSON).text

    local_stripe.flush()
    page = browser.get(redirect.removeprefix(shop.url))
    assert "You have access" in page.text and "/courses/demo/" in page.text
    assert CANARY in browser.get(LESSON).text
    assert len(shop.mailer.to("early@example.com")) == 1  # the sign-in mail; no purchase mail
    # Buying again is not offered: the form sends an owner straight to the course.
    again = browser.post("/api/checkout", data={"course": "demo"})
    assert again.status_code == 303 and again.headers["location"] == "/courses/demo/"


def test_subscription_renews_then_cancel_ends_access(shop, local_stripe):
    browser = shop.client()
    shop.login(browser, "pro@example.com")
    cs = start_checkout(browser, tier="pro", interval="month")
    session = local_stripe.client().v1.checkout.sessions.retrieve(cs)
    assert session.mode == "subscription"
    local_stripe.pay(cs)
    assert PRO_CANARY in browser.get(PRO_LESSON).text
    assert CANARY not in browser.get(LESSON).text  # the tier does not include demo

    sub_id = local_stripe.client().v1.checkout.sessions.retrieve(cs).subscription
    day = 86400
    local_stripe.advance(31 * day)  # renewal: invoice.paid, new period
    shop.clock.advance(days=31)
    shop.login(browser, "pro@example.com")  # sessions last 30 days
    assert PRO_CANARY in browser.get(PRO_LESSON).text

    local_stripe.cancel_subscription(sub_id, at_period_end=True)
    assert PRO_CANARY in browser.get(PRO_LESSON).text  # paid until the period ends
    local_stripe.advance(31 * day)
    shop.clock.advance(days=31)
    assert PRO_CANARY not in browser.get(PRO_LESSON).text


def test_anonymous_subscriber_gets_one_sign_in_mail(shop, local_stripe):
    """Stripe sends customer.subscription.created before checkout.session.completed: the
    member is created from the customer's e-mail, and the buyer still gets exactly one
    "purchase confirmed" mail."""
    browser = shop.client()
    cs = start_checkout(browser, tier="pro", interval="year")
    redirect = local_stripe.pay(cs, email="newpro@example.com")
    types = [t for _, t, _ in local_stripe.deliveries]
    assert types.index("customer.subscription.created") < types.index("checkout.session.completed")
    mails = shop.mailer.to("newpro@example.com")
    assert len(mails) == 1 and "purchase" in mails[0].subject.lower()
    assert "check your e-mail" in browser.get(redirect.removeprefix(shop.url)).text
    assert open_magic_link(browser, shop.outbox.link("newpro@example.com")).status_code == 303
    assert PRO_CANARY in browser.get(PRO_LESSON).text


def test_failed_renewal_keeps_a_grace_period(shop, local_stripe):
    browser = shop.client()
    shop.login(browser, "late@example.com")
    cs = start_checkout(browser, tier="pro", interval="month")
    local_stripe.pay(cs)
    customer = local_stripe.client().v1.checkout.sessions.retrieve(cs).customer
    local_stripe.set_card(customer, "4000000000000341")  # attaches, then declines
    local_stripe.advance(31 * 86400)
    shop.clock.advance(days=31)
    shop.login(browser, "late@example.com")  # sessions last 30 days
    assert PRO_CANARY in browser.get(PRO_LESSON).text  # past_due: grace days
    shop.clock.advance(days=shop.settings.grace_days + 1)
    assert PRO_CANARY not in browser.get(PRO_LESSON).text


def test_immediate_cancel_and_reverse_delivery_converge(shop, local_stripe):
    browser = shop.client()
    shop.login(browser, "rev@example.com")
    cs = start_checkout(browser, tier="pro", interval="year")
    local_stripe.hold()
    local_stripe.pay(cs)
    sub_id = local_stripe.client().v1.checkout.sessions.retrieve(cs).subscription
    local_stripe.cancel_subscription(sub_id, at_period_end=False)
    delivered = local_stripe.flush(order="reverse")
    assert len(delivered) >= 3
    assert PRO_CANARY not in browser.get(PRO_LESSON).text


@pytest.mark.parametrize(
    ("percent", "payment_status"), [(50, "paid"), (100, "no_payment_required")]
)
def test_promotion_codes(shop, local_stripe, percent, payment_status):
    """Checkout allows promotion codes; a 100% code needs no payment and still unlocks."""
    client = local_stripe.client()
    coupon = client.v1.coupons.create({"percent_off": percent, "duration": "once"})
    client.v1.promotion_codes.create(
        {"promotion": {"type": "coupon", "coupon": coupon.id}, "code": f"FRIEND{percent}"}
    )
    browser = shop.client()
    shop.login(browser, f"promo{percent}@example.com")
    cs = start_checkout(browser, course="demo")
    local_stripe.pay(cs, promotion_code=f"FRIEND{percent}")
    assert client.v1.checkout.sessions.retrieve(cs).payment_status == payment_status
    assert CANARY in browser.get(LESSON).text


def test_dispute_revokes_and_flags_the_member(shop, local_stripe):
    browser = shop.client()
    shop.login(browser, "chargeback@example.com")
    cs = start_checkout(browser, course="demo")
    local_stripe.pay(cs)
    assert CANARY in browser.get(LESSON).text
    local_stripe.dispute(cs)
    assert CANARY not in browser.get(LESSON).text
    from paywall.members.records import find_member

    with shop.pw.sessions() as db:
        assert "disputed" in (find_member(db, "chargeback@example.com").flagged or "")


def test_billing_portal(shop, local_stripe):
    anonymous = shop.client()
    assert anonymous.post("/api/billing-portal").headers["location"] == "/account/"

    browser = shop.client()
    shop.login(browser, "portal@example.com")
    before = browser.post("/api/billing-portal")
    assert before.status_code == 400 and "no billing account" in before.text.lower()

    local_stripe.pay(start_checkout(browser, course="demo"))
    response = browser.post("/api/billing-portal")
    assert response.status_code == 303
    assert response.headers["location"].startswith(local_stripe.url)


def test_checkout_form_errors_are_explained(shop):
    browser = shop.client()
    cases = [
        ({"course": "nope"}, 404, "no course &#x27;nope&#x27;"),
        ({}, 400, "named no course"),
        ({"tier": "pro", "interval": "week"}, 400, "month or year"),
        ({"course": "demo", "tier": "pro"}, 400, "not both"),
        ({"tier": "gold"}, 404, "no membership tier"),
    ]
    for fields, status, text in cases:
        response = browser.post("/api/checkout", data=fields)
        assert response.status_code == status, (fields, response.status_code)
        assert text in response.text, (fields, response.text[:400])
    # Cross-site form posts never reach Stripe (the app's origin check).
    forged = shop.client(headers={"Origin": "https://evil.example"})
    assert forged.post("/api/checkout", data={"course": "demo"}).status_code == 403


def test_success_page_rejects_unknown_sessions(shop):
    browser = shop.client()
    assert browser.get("/checkout/success?session_id=../../etc").status_code == 400
    assert browser.get("/checkout/success?session_id=cs_doesnotexist").status_code == 404


def test_missing_price_in_stripe_is_explained(app_server, local_stripe):
    """Catalog not synced: the checkout says what the site owner must do."""
    response = app_server.client().post("/api/checkout", data={"course": "demo"})
    assert response.status_code == 503
    assert "kp stripe sync" in response.text
