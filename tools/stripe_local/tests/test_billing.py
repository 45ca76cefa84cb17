"""Refunds, disputes, the customer portal, renewals, failed payments and discounts."""

from __future__ import annotations

import pytest
import stripe
from stripe_local.server import LocalStripeError

DAY = 86400


def _paid_subscription(local, client, checkout, **extra):
    session = checkout("subscription", customer_email="member@x.test", **extra)
    local.pay(session.id)
    sub_id = client.v1.checkout.sessions.retrieve(session.id).subscription
    return client.v1.subscriptions.retrieve(sub_id)


def test_refund_by_session_sends_charge_refunded(local, client, checkout, receiver) -> None:
    session = checkout("payment")
    local.pay(session.id, email="r@x.test")
    receiver.clear()

    partial = local.refund(session.id, amount=900)
    assert partial["object"] == "refund" and partial["id"].startswith("re_")
    assert partial["amount"] == 900 and partial["status"] == "succeeded"
    assert receiver.types() == ["charge.refunded", "refund.created"]
    first = receiver.of_type("charge.refunded")[0]["data"]
    assert first["object"]["amount_refunded"] == 900 and first["object"]["refunded"] is False
    assert first["previous_attributes"] == {"amount_refunded": 0}

    rest = local.refund(partial["payment_intent"])
    assert rest["amount"] == 4000
    charge = client.v1.charges.retrieve(rest["charge"])
    assert charge.refunded is True and charge.amount_refunded == 4900
    last = receiver.of_type("charge.refunded")[-1]["data"]
    assert last["object"]["refunded"] is True
    assert last["previous_attributes"] == {"amount_refunded": 900, "refunded": False}

    with pytest.raises(LocalStripeError, match="already been refunded"):
        local.refund(charge.id)
    refunds = client.v1.refunds.list({"payment_intent": charge.payment_intent})
    assert [r.amount for r in refunds.data] == [4000, 900]


def test_refund_through_the_api(local, client, checkout, receiver) -> None:
    session = checkout("payment")
    local.pay(session.id, email="r@x.test")
    intent = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create({"payment_intent": intent, "amount": 5000})
    assert too_much.value.param == "amount"
    with pytest.raises(stripe.InvalidRequestError) as neither:
        client.v1.refunds.create({})
    assert neither.value.param == "payment_intent"
    refund = client.v1.refunds.create({"payment_intent": intent, "reason": "requested_by_customer"})
    assert refund.amount == 4900 and refund.reason == "requested_by_customer"
    local.drain()
    assert "charge.refunded" in receiver.types()


def test_refund_a_subscription_invoice(local, client, checkout) -> None:
    sub = _paid_subscription(local, client, checkout)
    refund = local.refund(sub.latest_invoice)
    assert refund["amount"] == 900
    # A refund alone does not cancel the subscription (as on Stripe).
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    payments = client.v1.invoices.retrieve(sub.latest_invoice, {"expand": ["payments"]}).payments
    assert payments.data[0].payment.payment_intent == refund["payment_intent"]


def test_dispute(local, client, checkout, receiver) -> None:
    session = checkout("payment")
    local.pay(session.id, email="d@x.test")
    receiver.clear()
    dispute = local.dispute(session.id)
    assert dispute["id"].startswith("dp_") and dispute["status"] == "needs_response"
    assert receiver.types() == ["charge.dispute.created"]
    assert client.v1.charges.retrieve(dispute["charge"]).disputed is True
    with pytest.raises(LocalStripeError, match="already disputed"):
        local.dispute(dispute["charge"])


def test_portal_cancel_at_period_end_then_deleted(
    local, client, checkout, browser, receiver
) -> None:
    sub = _paid_subscription(local, client, checkout)
    portal = client.v1.billing_portal.sessions.create(
        {"customer": sub.customer, "return_url": "http://site.test/account/"}
    )
    assert portal.id.startswith("bps_") and portal.url == f"{local.url}/p/session/{portal.id}"
    page = browser.get(portal.url)
    assert page.status_code == 200 and "Membership" in page.text and "Renews on" in page.text
    assert 'href="http://site.test/account/">Return</a>' in page.text
    receiver.clear()

    cancel = browser.submit(f"{portal.url}/subscriptions/{sub.id}/cancel")
    assert cancel.status_code == 303
    assert receiver.types() == ["customer.subscription.updated"]
    event = receiver.of_type("customer.subscription.updated")[0]["data"]
    assert event["object"]["cancel_at_period_end"] is True
    assert event["object"]["status"] == "active"
    assert event["object"]["cancel_at"] == sub.current_period_end
    assert event["previous_attributes"]["cancel_at_period_end"] is False
    assert "Cancels on" in browser.get(portal.url).text

    local.advance(sub.current_period_end - local.now() - 60)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    local.advance(120)
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled" and ended.ended_at == sub.current_period_end
    assert receiver.types()[-1] == "customer.subscription.deleted"
    assert "invoice.paid" not in receiver.types()  # no renewal
    assert "No active subscriptions" in browser.get(portal.url).text
    listed = client.v1.subscriptions.list({"customer": sub.customer})
    assert listed.data == []  # canceled ones are only listed on request
    assert [s.id for s in client.v1.subscriptions.list({"status": "canceled"}).data] == [sub.id]


def test_portal_renew_and_cancel_immediately(local, client, checkout, browser, receiver) -> None:
    sub = _paid_subscription(local, client, checkout)
    portal = client.v1.billing_portal.sessions.create({"customer": sub.customer})
    browser.submit(f"{portal.url}/subscriptions/{sub.id}/cancel")
    browser.submit(f"{portal.url}/subscriptions/{sub.id}/renew")
    renewed = client.v1.subscriptions.retrieve(sub.id)
    assert renewed.cancel_at_period_end is False and renewed.cancel_at is None
    receiver.clear()
    response = browser.submit(f"{portal.url}/subscriptions/{sub.id}/cancel_now")
    assert response.status_code == 303
    assert receiver.types() == ["customer.subscription.deleted"]
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"

    stranger = client.v1.customers.create({"email": "s@x.test"})
    other = client.v1.billing_portal.sessions.create({"customer": stranger.id})
    refused = browser.submit(f"{other.url}/subscriptions/{sub.id}/cancel")
    assert refused.status_code == 404
    assert browser.get(f"{local.url}/p/session/bps_nope").status_code == 404


def test_renewals_follow_the_clock(local, client, checkout, receiver) -> None:
    sub = _paid_subscription(local, client, checkout)
    receiver.clear()
    first_end = sub.current_period_end
    local.advance(first_end - local.now() + 1)
    renewed = client.v1.subscriptions.retrieve(sub.id)
    assert renewed.status == "active" and renewed.current_period_start == first_end
    assert renewed["items"].data[0].current_period_start == first_end
    assert renewed.latest_invoice != sub.latest_invoice
    invoice = client.v1.invoices.retrieve(renewed.latest_invoice)
    assert invoice.billing_reason == "subscription_cycle" and invoice.status == "paid"
    assert invoice.lines.data[0].period.start == first_end
    types = receiver.types()
    assert types[0] == "customer.subscription.updated"
    assert types.index("invoice.paid") > types.index("invoice.created")
    updated = receiver.of_type("customer.subscription.updated")[0]["data"]
    assert updated["previous_attributes"]["current_period_end"] == first_end
    with receiver.lock:
        stamps = {r.event["created"] for r in receiver.received}
    assert stamps == {first_end}  # things that fell due carry the moment they were due

    local.advance(70 * DAY)  # two more months
    invoices = client.v1.invoices.list({"subscription": sub.id})
    assert len(invoices.data) == 4
    assert all(i.status == "paid" for i in invoices.data)


def test_failed_renewal_past_due_then_recovered(local, client, checkout, receiver) -> None:
    sub = _paid_subscription(local, client, checkout)
    local.set_card(sub.customer, "4000000000000341")
    receiver.clear()
    local.advance(sub.current_period_end - local.now() + 1)
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    failed = receiver.of_type("invoice.payment_failed")[0]["data"]["object"]
    assert failed["attempt_count"] == 1 and failed["next_payment_attempt"] is not None
    status_change = receiver.of_type("customer.subscription.updated")[-1]["data"]
    assert status_change["previous_attributes"] == {"status": "active"}

    local.set_card(sub.customer, "4242424242424242")
    local.advance(3 * DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    paid = client.v1.invoices.retrieve(failed["id"])
    assert paid.status == "paid" and paid.attempt_count == 2


def test_failed_renewal_exhausts_retries_and_cancels(local, client, checkout, receiver) -> None:
    sub = _paid_subscription(local, client, checkout)
    local.set_card(sub.customer, "4000000000000341")
    local.advance(sub.current_period_end - local.now() + 10 * DAY)
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled"
    assert ended.cancellation_details.reason == "payment_failed"
    assert len(receiver.of_type("invoice.payment_failed")) == 4


def test_subscription_api_update_and_cancel(local, client, checkout, receiver) -> None:
    sub = _paid_subscription(local, client, checkout)
    receiver.clear()
    changed = client.v1.subscriptions.update(
        sub.id, {"cancel_at_period_end": True, "metadata": {"why": "test"}}
    )
    assert changed.cancel_at_period_end and changed.metadata.to_dict() == {"why": "test"}
    local.drain()
    assert receiver.types() == ["customer.subscription.updated"]  # one event for one update
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled" and canceled.ended_at is not None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.cancel(sub.id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.update(sub.id, {"bogus": "1"})
    assert caught.value.param == "bogus"
    local.drain()
    assert receiver.types()[-1] == "customer.subscription.deleted"


def test_cancel_subscription_hook(local, client, checkout, receiver) -> None:
    sub = _paid_subscription(local, client, checkout)
    receiver.clear()
    local.cancel_subscription(sub.id)
    assert receiver.types() == ["customer.subscription.updated"]
    local.cancel_subscription(sub.id, at_period_end=False)
    assert receiver.types() == ["customer.subscription.updated", "customer.subscription.deleted"]


def test_promotion_code_in_session_parameters(local, client, checkout, catalog) -> None:
    coupon = client.v1.coupons.create({"percent_off": 20, "duration": "once"})
    promo = client.v1.promotion_codes.create({"coupon": coupon.id, "code": "SPRING"})
    session = checkout("payment", discounts=[{"promotion_code": promo.id}])
    assert session.amount_subtotal == 4900 and session.amount_total == 3920
    assert session.total_details.amount_discount == 980
    assert session.discounts[0].promotion_code == promo.id
    local.pay(session.id, email="p@x.test")
    intent = client.v1.payment_intents.retrieve(
        client.v1.checkout.sessions.retrieve(session.id).payment_intent
    )
    assert intent.amount == 3920
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1
    assert client.v1.coupons.retrieve(coupon.id).times_redeemed == 1


def test_promotion_code_typed_on_hosted_page(local, client, checkout, browser) -> None:
    coupon = client.v1.coupons.create({"amount_off": 1000, "currency": "usd", "duration": "once"})
    client.v1.promotion_codes.create({"coupon": coupon.id, "code": "TENOFF"})
    session = checkout("payment", allow_promotion_codes=True)
    page = browser.get(session.url)
    assert 'name="promotion_code"' in page.text
    wrong = browser.submit(session.url, action="apply", promotion_code="NOPE")
    assert wrong.status_code == 400 and "This code is invalid." in wrong.text
    applied = browser.submit(session.url, action="apply", promotion_code="tenoff")
    assert applied.status_code == 200 and "$39.00" in applied.text and "TENOFF" in applied.text
    paid = browser.submit(session.url, email="t@x.test")
    assert paid.status_code == 303
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert done.amount_total == 3900 and done.total_details.amount_discount == 1000

    plain = checkout("payment")
    assert 'name="promotion_code"' not in browser.get(plain.url).text
    with pytest.raises(LocalStripeError, match="does not accept promotion codes"):
        local.pay(plain.id, email="t@x.test", promotion_code="TENOFF")


def test_promotion_code_with_pay_hook_on_subscription(local, client, checkout) -> None:
    coupon = client.v1.coupons.create({"percent_off": 50, "duration": "once"})
    client.v1.promotion_codes.create({"coupon": coupon.id, "code": "HALF", "max_redemptions": 1})
    session = checkout("subscription", allow_promotion_codes=True)
    local.pay(session.id, email="h@x.test", promotion_code="HALF")
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription"]})
    assert done.amount_total == 450
    first = client.v1.invoices.retrieve(done.subscription.latest_invoice)
    assert (first.subtotal, first.total, first.amount_paid) == (900, 450, 450)
    local.advance(done.subscription.current_period_end - local.now() + 1)
    second = client.v1.invoices.retrieve(
        client.v1.subscriptions.retrieve(done.subscription.id).latest_invoice
    )
    assert second.total == 900  # a "once" coupon applies to the first invoice only

    another = checkout("subscription", allow_promotion_codes=True)
    with pytest.raises(LocalStripeError, match="fully redeemed"):
        local.pay(another.id, email="h2@x.test", promotion_code="HALF")


def test_repeating_coupon_covers_its_months(local, client, checkout) -> None:
    coupon = client.v1.coupons.create(
        {"percent_off": 10, "duration": "repeating", "duration_in_months": 2}
    )
    sub = _paid_subscription(local, client, checkout, discounts=[{"coupon": coupon.id}])
    local.advance(95 * DAY)
    totals = [i.total for i in reversed(client.v1.invoices.list({"subscription": sub.id}).data)]
    assert totals == [810, 810, 900, 900]


def test_clock_hooks(local, client, checkout) -> None:
    sub = _paid_subscription(local, client, checkout)
    target = sub.current_period_end + 5
    assert local.set_time(target) == target
    assert local.now() >= target
    assert client.v1.subscriptions.retrieve(sub.id).current_period_start == sub.current_period_end
    with pytest.raises(LocalStripeError, match="cannot go backwards"):
        local.set_time(target - 1000)
    with pytest.raises(LocalStripeError, match="non-negative"):
        local.advance(-1)


def test_canceling_a_past_due_subscription_stops_retries(local, client, checkout) -> None:
    sub = _paid_subscription(local, client, checkout)
    local.set_card(sub.customer, "4000000000000341")
    local.advance(sub.current_period_end - local.now() + 1)
    open_invoice = client.v1.subscriptions.retrieve(sub.id).latest_invoice
    local.cancel_subscription(sub.id, at_period_end=False)
    assert client.v1.invoices.retrieve(open_invoice).next_payment_attempt is None
    local.advance(20 * DAY)
    assert client.v1.invoices.retrieve(open_invoice).attempt_count == 1
