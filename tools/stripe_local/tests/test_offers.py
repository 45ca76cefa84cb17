"""Offers as a shop makes them: a coupon limited to some products (`applies_to[products]`,
shown only when expanded, as Stripe does), a promotion code with an expiry and a redemption
limit, applied through Checkout's `discounts` (never together with `allow_promotion_codes`),
the discounted `amount_total` charged, redemptions counted, expiry and use-up refused."""

from __future__ import annotations

import pytest
import stripe

DAY = 86400


def test_applies_to_is_kept_and_shown_only_when_expanded(client, catalog) -> None:
    coupon = client.v1.coupons.create(
        {"percent_off": 20, "duration": "once", "applies_to": {"products": [catalog.product.id]}}
    )
    assert "applies_to" not in coupon
    expanded = client.v1.coupons.retrieve(coupon.id, {"expand": ["applies_to"]})
    assert expanded.applies_to.products == [catalog.product.id]
    anything = client.v1.coupons.create({"percent_off": 5, "duration": "once"})
    assert client.v1.coupons.retrieve(anything.id, {"expand": ["applies_to"]}).applies_to is None
    promo = client.v1.promotion_codes.create(
        {"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "SPRING20"}
    )
    deep = client.v1.promotion_codes.retrieve(promo.id, {"expand": ["promotion.coupon.applies_to"]})
    assert deep.promotion.coupon.applies_to.products == [catalog.product.id]
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.coupons.create({"percent_off": 20, "applies_to": {"products": ["prod_missing"]}})
    assert unknown.value.param == "applies_to[products][0]"


def test_an_offer_for_the_course_discounts_its_checkout_and_counts_the_redemption(
    local, client, checkout, catalog
) -> None:
    coupon = client.v1.coupons.create(
        {
            "percent_off": 25,
            "duration": "once",
            "applies_to": {"products": [catalog.product.id]},
            "redeem_by": local.now() + 10 * DAY,
        }
    )
    promo = client.v1.promotion_codes.create(
        {
            "promotion": {"type": "coupon", "coupon": coupon.id},
            "code": "WRITE25",
            "max_redemptions": 2,
            "expires_at": local.now() + 5 * DAY,
        }
    )
    with pytest.raises(stripe.InvalidRequestError) as both:
        checkout("payment", allow_promotion_codes=True, discounts=[{"promotion_code": promo.id}])
    assert "allow_promotion_codes" in str(both.value)

    session = checkout("payment", discounts=[{"promotion_code": promo.id}])
    assert (session.amount_subtotal, session.amount_total) == (4900, 3675)
    assert session.total_details.amount_discount == 1225
    items = client.v1.checkout.sessions.line_items.list(session.id).data
    assert [(i.amount_discount, i.amount_total) for i in items] == [(1225, 3675)]
    local.pay(session.id, email="w@x.test")
    done = client.v1.checkout.sessions.retrieve(session.id)
    charge = client.v1.charges.retrieve(
        client.v1.payment_intents.retrieve(done.payment_intent).latest_charge
    )
    assert (charge.amount, charge.currency) == (3675, "usd")
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1


def test_an_offer_for_another_product_is_refused(client, checkout, catalog) -> None:
    membership = catalog.monthly.product
    coupon = client.v1.coupons.create(
        {"percent_off": 50, "duration": "once", "applies_to": {"products": [membership]}}
    )
    promo = client.v1.promotion_codes.create({"coupon": coupon.id, "code": "MEMBERS50"})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        checkout("payment", discounts=[{"promotion_code": promo.id}])
    assert refused.value.param == "discounts[0][promotion_code]"
    assert refused.value.code == "coupon_not_applicable"
    subscription = checkout("subscription", discounts=[{"promotion_code": promo.id}])
    assert subscription.amount_total == 450


def test_only_the_lines_of_the_offers_product_are_discounted(client, catalog) -> None:
    other = client.v1.products.create({"name": "Workbook"})
    workbook = client.v1.prices.create(
        {"product": other.id, "unit_amount": 1000, "currency": "usd"}
    )
    coupon = client.v1.coupons.create(
        {"amount_off": 2000, "currency": "usd", "applies_to": {"products": [other.id]}}
    )
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [
                {"price": catalog.one_time.id, "quantity": 1},
                {"price": workbook.id, "quantity": 1},
            ],
            "success_url": "http://site.test/ok",
            "discounts": [{"coupon": coupon.id}],
        }
    )
    # 20.00 off a 10.00 workbook takes 10.00, and nothing from the course.
    assert (session.amount_subtotal, session.amount_total) == (5900, 4900)
    items = client.v1.checkout.sessions.line_items.list(session.id).data
    assert [i.amount_discount for i in items] == [0, 1000]


def test_an_expired_or_used_up_offer_is_refused_in_stripes_words(local, client, checkout) -> None:
    coupon = client.v1.coupons.create({"percent_off": 10, "duration": "once"})
    soon = client.v1.promotion_codes.create(
        {"coupon": coupon.id, "code": "SOON", "expires_at": local.now() + DAY}
    )
    once = client.v1.promotion_codes.create(
        {"coupon": coupon.id, "code": "ONCE", "max_redemptions": 1}
    )
    first = checkout("payment", discounts=[{"promotion_code": once.id}])
    local.pay(first.id, email="o@x.test")
    with pytest.raises(stripe.InvalidRequestError, match="fully redeemed"):
        checkout("payment", discounts=[{"promotion_code": once.id}])
    local.advance(DAY + 1)
    with pytest.raises(stripe.InvalidRequestError, match="has expired"):
        checkout("payment", discounts=[{"promotion_code": soon.id}])
    ended = client.v1.promotion_codes.update(once.id, {"active": False})
    assert ended.active is False
    with pytest.raises(stripe.InvalidRequestError, match="not active"):
        checkout("payment", discounts=[{"promotion_code": once.id}])
