"""Checkout Sessions: validation, the hosted page, and paying through it."""

from __future__ import annotations

import re

import pytest
import stripe

SUCCESS_PREFIX = "http://site.test/thanks?session_id="


def test_payment_checkout_through_hosted_page(
    local, client, checkout, browser, receiver, catalog
) -> None:
    session = checkout(
        "payment",
        client_reference_id="member-7",
        metadata={"kp_product": "course:writing"},
        payment_intent_data={"metadata": {"kp_product": "course:writing"}},
    )
    assert session.id.startswith("cs_test_") and session.object == "checkout.session"
    assert session.url == f"{local.url}/c/pay/{session.id}"
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert session.amount_total == 4900 and session.currency == "usd"

    page = browser.get(session.url)
    assert page.status_code == 200
    assert 'name="viewport"' in page.text
    assert "Writing Course" in page.text and "$49.00" in page.text
    assert 'type="email"' in page.text
    assert re.search(r'<button type="submit"[^>]*>Pay</button>', page.text)
    assert 'href="http://site.test/courses/writing/">Cancel</a>' in page.text

    paid = browser.submit(session.url, email="buyer@x.test", card="4242 4242 4242 4242")
    assert paid.status_code == 303
    assert paid.headers["location"] == SUCCESS_PREFIX + session.id

    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["line_items"]})
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert done.customer is None  # Stripe makes no Customer for a one-time payment by default
    assert done.customer_details.email == "buyer@x.test"
    assert done.url is None
    assert done.line_items.data[0].price.id == catalog.one_time.id
    assert done.line_items.data[0].amount_total == 4900
    intent = client.v1.payment_intents.retrieve(done.payment_intent)
    assert intent.status == "succeeded" and intent.amount == 4900
    assert intent.metadata.to_dict() == {"kp_product": "course:writing"}
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.paid and charge.payment_intent == intent.id and not charge.refunded

    # Delivered (and verified by the receiver) before the redirect came back.
    assert receiver.types() == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]
    completed = receiver.of_type("checkout.session.completed")[0]["data"]["object"]
    assert completed["id"] == session.id
    assert completed["client_reference_id"] == "member-7"
    assert completed["metadata"] == {"kp_product": "course:writing"}
    assert completed["payment_intent"] == intent.id
    hook = [r for r in receiver.received if r.event["type"] == "checkout.session.completed"][0]
    assert hook.headers["user-agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    assert hook.headers["content-type"] == "application/json; charset=utf-8"
    assert receiver.rejected == []


def test_customer_creation_always_and_existing_customer(local, client, checkout) -> None:
    session = checkout("payment", customer_creation="always", customer_email="c@x.test")
    local.pay(session.id)
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["customer"]})
    assert done.customer.email == "c@x.test"

    known = client.v1.customers.create({"email": "known@x.test"})
    again = checkout("payment", customer=known.id)
    redirect = local.pay(again.id)
    assert redirect == SUCCESS_PREFIX + again.id
    assert client.v1.checkout.sessions.retrieve(again.id).customer == known.id
    assert client.v1.payment_intents.list({"customer": known.id}).data[0].amount == 4900


def test_subscription_checkout(local, client, checkout, browser, receiver, catalog) -> None:
    session = checkout(
        "subscription", client_reference_id="m1", subscription_data={"metadata": {"k": "v"}}
    )
    page = browser.get(session.url)
    assert "$9.00" in page.text and "/ month" in page.text
    assert re.search(r"<button[^>]*>Subscribe</button>", page.text)
    started = local.now()
    response = browser.submit(session.url, email="sub@x.test")
    assert response.status_code == 303

    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription"]})
    sub = done.subscription
    assert done.status == "complete" and done.payment_status == "paid"
    assert done.customer.startswith("cus_") and sub.customer == done.customer
    assert done.invoice == sub.latest_invoice
    assert sub.status == "active" and sub.metadata.to_dict() == {"k": "v"}
    assert sub["items"].data[0].price.id == catalog.monthly.id
    assert started <= sub.current_period_start <= started + 5
    item = sub["items"].data[0]
    assert item.current_period_end == sub.current_period_end
    assert 28 * 86400 <= sub.current_period_end - sub.current_period_start <= 31 * 86400
    invoice = client.v1.invoices.retrieve(sub.latest_invoice)
    assert invoice.status == "paid" and invoice.amount_paid == 900
    assert invoice.billing_reason == "subscription_create"
    assert invoice.parent.subscription_details.subscription == sub.id
    assert invoice.lines.data[0].period.end == sub.current_period_end
    assert client.v1.customers.retrieve(done.customer).email == "sub@x.test"

    types = receiver.types()
    order = [
        "customer.created",
        "customer.subscription.created",
        "invoice.paid",
        "checkout.session.completed",
    ]
    assert [t for t in types if t in order] == order
    assert types[-1] == "checkout.session.completed"
    created = receiver.of_type("customer.subscription.created")[0]["data"]["object"]
    assert created["status"] == "active" and created["metadata"] == {"k": "v"}


def test_yearly_subscription_period(local, client, checkout, catalog) -> None:
    session = checkout("subscription", price=catalog.yearly, customer_email="y@x.test")
    local.pay(session.id)
    sub = client.v1.subscriptions.retrieve(
        client.v1.checkout.sessions.retrieve(session.id).subscription
    )
    assert 365 * 86400 <= sub.current_period_end - sub.current_period_start <= 366 * 86400


@pytest.mark.parametrize(
    ("mode", "price_attr", "extra", "param", "words"),
    [
        ("payment", "monthly", {}, "line_items[0][price]", "recurring price"),
        ("subscription", "one_time", {}, "line_items", "at least one recurring price"),
        ("payment", None, {}, "line_items[0][price]", "No such price: 'price_missing'"),
        ("payment", "one_time", {"customer": "cus_missing"}, "customer", "No such customer"),
        (
            "payment",
            "one_time",
            {"customer": "cus_x", "customer_email": "a@x.test"},
            "customer",
            "only specify one of",
        ),
        (
            "payment",
            "one_time",
            {"allow_promotion_codes": True, "discounts": [{"coupon": "X"}]},
            "allow_promotion_codes",
            "only specify one of",
        ),
        (
            "subscription",
            "monthly",
            {"payment_intent_data": {"metadata": {"a": "b"}}},
            "payment_intent_data",
            "subscription",
        ),
        ("payment", "one_time", {"success_url": "nope"}, "success_url", "Not a valid URL"),
        ("payment", "one_time", {"locale": "xx"}, "locale", "must be one of"),
    ],
)
def test_session_validation(client, catalog, mode, price_attr, extra, param, words) -> None:
    price = getattr(catalog, price_attr).id if price_attr else "price_missing"
    params = {"mode": mode, "line_items": [{"price": price, "quantity": 1}], **extra}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params)
    assert caught.value.param == param
    assert words in caught.value.user_message


def test_session_needs_line_items_and_quantity(client, catalog) -> None:
    with pytest.raises(stripe.InvalidRequestError) as no_items:
        client.v1.checkout.sessions.create({"mode": "payment"})
    assert no_items.value.param == "line_items"
    with pytest.raises(stripe.InvalidRequestError) as no_quantity:
        client.v1.checkout.sessions.create(
            {"mode": "payment", "line_items": [{"price": catalog.one_time.id}]}
        )
    assert no_quantity.value.param == "line_items[0][quantity]"
    with pytest.raises(stripe.InvalidRequestError) as no_mode:
        client.v1.checkout.sessions.create({"line_items": [{"price": catalog.one_time.id}]})
    assert no_mode.value.param == "mode"


def test_inactive_price_is_refused(client, catalog) -> None:
    client.v1.prices.update(catalog.one_time.id, {"active": False})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(
            {"mode": "payment", "line_items": [{"price": catalog.one_time.id, "quantity": 1}]}
        )
    assert caught.value.param == "line_items[0][price]"
    assert "inactive" in caught.value.user_message


def test_line_items_endpoint_and_price_data(client) -> None:
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 300,
                        "product_data": {"name": "Ad hoc"},
                    },
                    "quantity": 2,
                }
            ],
        }
    )
    assert session.amount_total == 600
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert items.object == "list" and items.url.endswith(f"/{session.id}/line_items")
    assert (items.data[0].description, items.data[0].quantity) == ("Ad hoc", 2)
    assert items.data[0].price.active is False


def test_declined_card_and_bad_email_keep_the_session_open(
    client, checkout, browser, receiver
) -> None:
    session = checkout("payment")
    declined = browser.submit(session.url, email="d@x.test", card="4000 0000 0000 0002")
    assert declined.status_code == 402
    assert "Your card was declined." in declined.text
    assert 'value="d@x.test"' in declined.text  # what was typed is kept
    bad_email = browser.submit(session.url, email="nope")
    assert bad_email.status_code == 400 and "Invalid email address: nope" in bad_email.text
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert receiver.types() == []


def test_completed_session_cannot_be_paid_twice(local, client, checkout, browser) -> None:
    session = checkout("payment")
    local.pay(session.id, email="once@x.test")
    again = browser.submit(session.url, email="once@x.test")
    assert again.status_code == 409
    shown = browser.get(session.url)
    assert "Payment complete" in shown.text
    with pytest.raises(Exception, match="no longer active"):
        local.pay(session.id, email="once@x.test")
    assert len(client.v1.charges.list().data) == 1


def test_expire_and_time_out(local, client, checkout, browser, receiver) -> None:
    session = checkout("payment")
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired" and expired.url is None
    local.drain()  # events caused by API calls go out just after the response
    assert receiver.types() == ["checkout.session.expired"]
    assert "expired" in browser.get(session.url).text
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)

    later = checkout("payment")
    assert later.expires_at == later.created + 24 * 3600
    local.advance(24 * 3600 + 1)
    assert client.v1.checkout.sessions.retrieve(later.id).status == "expired"
    assert receiver.types().count("checkout.session.expired") == 2
    listed = client.v1.checkout.sessions.list({"status": "expired"})
    assert {s.id for s in listed.data} == {session.id, later.id}
