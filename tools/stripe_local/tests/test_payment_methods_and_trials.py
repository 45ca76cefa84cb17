"""Payment method types on Checkout (card, Alipay, WeChat Pay: refused where Stripe refuses
them, chosen on the hosted page, in the charge's `payment_method_details`), prices in other
currencies, and subscription trials (`trialing`, the trial-will-end notice, conversion or
past_due at the trial's end, cancelling during the trial)."""

from __future__ import annotations

import pytest
import stripe

DAY = 86400
WALLETS = {"payment_method_types": ["card", "alipay", "wechat_pay"]}
WEB = {"payment_method_options": {"wechat_pay": {"client": "web"}}}


def test_the_hosted_page_offers_each_method_and_the_charge_says_which_paid(
    local, client, checkout, browser
) -> None:
    session = checkout("payment", locale="zh", **WALLETS, **WEB)
    assert session.payment_method_types == ["card", "alipay", "wechat_pay"]
    assert session.payment_method_options.wechat_pay.client == "web"
    page = browser.get(session.url).text
    for value, label in (("card", "银行卡"), ("alipay", "支付宝"), ("wechat_pay", "微信支付")):
        assert f'value="{value}"' in page and label in page
    paid = browser.submit(session.url, email="wallet@x.test", payment_method="wechat_pay")
    assert paid.status_code == 303
    done = client.v1.checkout.sessions.retrieve(session.id)
    intent = client.v1.payment_intents.retrieve(done.payment_intent)
    assert intent.payment_method_types == ["card", "alipay", "wechat_pay"]
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.payment_method_details.type == "wechat_pay"
    assert charge.payment_method_details.wechat_pay.transaction_id
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    assert refund.status == "succeeded"


def test_a_card_only_session_shows_no_choice_and_refuses_a_wallet(local, checkout, browser):
    session = checkout("payment")
    assert session.payment_method_types == ["card"]
    assert 'type="radio"' not in browser.get(session.url).text
    refused = browser.submit(session.url, email="x@x.test", payment_method="alipay")
    assert refused.status_code == 400 and "does not offer `alipay`" in refused.text


@pytest.mark.parametrize(
    ("mode", "extra", "param", "words"),
    [
        (
            "subscription",
            {"payment_method_types": ["card", "alipay"]},
            "payment_method_types[1]",
            "only available for one-time",
        ),
        (
            "subscription",
            {**WALLETS, **WEB},
            "payment_method_types[1]",
            "`alipay` cannot be used in `subscription` mode",
        ),
        (
            "payment",
            {"payment_method_types": ["wechat_pay"]},
            "payment_method_options[wechat_pay][client]",
            "Missing required param",
        ),
        (
            "payment",
            {
                "payment_method_types": ["wechat_pay"],
                "payment_method_options": {"wechat_pay": {"client": "ios"}},
            },
            "payment_method_options[wechat_pay][app_id]",
            "Missing required param",
        ),
        ("payment", {"payment_method_types": ["paypal"]}, "payment_method_types[0]", "Invalid"),
    ],
)
def test_methods_stripe_refuses(checkout, mode, extra, param, words) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        checkout(mode, **extra)
    assert refused.value.param == param
    assert words.lower() in str(refused.value).lower()


def test_a_wallet_refuses_a_currency_it_does_not_take(client, checkout) -> None:
    course = client.v1.products.create({"name": "Kurs"})
    zloty = client.v1.prices.create({"product": course.id, "unit_amount": 9900, "currency": "pln"})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        checkout("payment", price=zloty, payment_method_types=["card", "alipay"])
    assert refused.value.param == "payment_method_types[1]" and "(pln)" in str(refused.value)


def test_a_price_in_yuan_is_charged_in_yuan_with_alipay(local, client, checkout) -> None:
    course = client.v1.products.create({"name": "课程"})
    yuan = client.v1.prices.create(
        {"product": course.id, "unit_amount": 29900, "currency": "cny", "lookup_key": "c-cny"}
    )
    session = checkout("payment", price=yuan, **WALLETS, **WEB)
    assert (session.currency, session.amount_total) == ("cny", 29900)
    local.pay(session.id, email="yuan@x.test", payment_method="alipay")
    intent = client.v1.payment_intents.retrieve(
        client.v1.checkout.sessions.retrieve(session.id).payment_intent
    )
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount, charge.currency, charge.payment_method_details.type) == (
        29900,
        "cny",
        "alipay",
    )


def _trialing(local, client, checkout, days: int = 14):
    session = checkout("subscription", subscription_data={"trial_period_days": days})
    assert session.amount_total == 0
    local.pay(session.id, email="trial@x.test")
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert done.payment_status == "no_payment_required"
    return client.v1.subscriptions.retrieve(done.subscription)


def test_a_trial_is_trialing_then_announced_then_converted(local, client, checkout, receiver):
    sub = _trialing(local, client, checkout)
    assert sub.status == "trialing"
    assert (sub.trial_end - sub.trial_start, sub.current_period_end) == (14 * DAY, sub.trial_end)
    first = client.v1.invoices.retrieve(sub.latest_invoice)
    assert (first.amount_due, first.status, first.billing_reason) == (
        0,
        "paid",
        "subscription_create",
    )
    assert first.lines.data[0].description.startswith("Trial period for")
    created = receiver.of_type("customer.subscription.created")[0]["data"]["object"]
    assert created["status"] == "trialing"
    receiver.clear()

    local.advance(11 * DAY + 1)
    assert receiver.types() == ["customer.subscription.trial_will_end"]
    local.advance(3 * DAY)
    converted = client.v1.subscriptions.retrieve(sub.id)
    assert converted.status == "active" and converted.current_period_start == sub.trial_end
    invoice = client.v1.invoices.retrieve(converted.latest_invoice)
    assert (invoice.amount_paid, invoice.billing_reason) == (900, "subscription_cycle")
    updated = receiver.of_type("customer.subscription.updated")[0]["data"]
    assert updated["previous_attributes"]["status"] == "trialing"
    assert updated["object"]["status"] == "active"
    local.advance(31 * DAY)  # then it renews monthly from the trial's end
    assert client.v1.subscriptions.retrieve(sub.id).current_period_start > sub.trial_end + 27 * DAY


def test_a_card_declined_at_the_trials_end_makes_it_past_due(local, client, checkout):
    sub = _trialing(local, client, checkout, days=7)
    local.set_card(sub.customer, "4000000000000341")
    local.advance(7 * DAY + 1)
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"


def test_cancelling_during_the_trial(local, client, checkout, receiver):
    sub = _trialing(local, client, checkout, days=7)
    local.cancel_subscription(sub.id, at_period_end=True)
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at == sub.trial_end
    local.advance(8 * DAY)
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled" and ended.ended_at == sub.trial_end
    charged = [i for i in client.v1.invoices.list({"subscription": sub.id}).data if i.amount_paid]
    assert charged == []


def test_a_trial_needs_a_subscription(checkout):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        checkout("payment", subscription_data={"trial_period_days": 7})
    assert refused.value.param == "subscription_data"
