"""Selling on the Chinese site, in chromium at desktop and phone size (one journey each):
a reader sees ¥ prices on /zh/pricing/, opens an offer link, pays the offer price with
Alipay on the local checkout page in Chinese, and reads the lesson; another person buys
the course as a gift and pays with WeChat Pay, and the recipient opens the gift e-mail's
link, redeems it and reads the lesson. Screenshots for the README's "Selling" section."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from paywall.billing.offers import check_new_offer, create_offer

pytestmark = pytest.mark.browser

COURSE = "community-launch"
CODE = "CHUN20"
CS_ID = re.compile(r"cs_[A-Za-z0-9_]+")
GIFT_LINK = re.compile(r"https?://[^\s\"'<>]+/gift/redeem\?token=[A-Za-z0-9_\-]+")
CARD = f".kp-card--course:has(input[name=course][value={COURSE}])"


def another(browser, reader, name: str):  # noqa: ANN001, ANN201
    """Another person: own browser context (own cookies) at the same viewport, in Chinese."""
    context = browser.new_context(
        viewport=reader.size,
        is_mobile=reader.viewport == "phone",
        has_touch=reader.viewport == "phone",
        locale="zh-CN",
    )
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(30_000)
    return type(reader)(page, reader.stack, reader.viewport, name)


def pay_with(person, method: str, label: str, email: str | None) -> str:  # noqa: ANN001
    """On the local checkout page: the address (a signed-out buyer), the wallet, pay; the
    Checkout Session's id."""
    page = person.page
    session_id = CS_ID.search(page.url).group(0)
    if email is not None:
        page.locator("input[name=email]").fill(email)
    choice = page.get_by_label(label, exact=True)
    choice.check()
    assert page.locator(f"input[name=payment_method][value={method}]").is_checked()
    return session_id


def test_a_chinese_reader_pays_an_offer_with_alipay_and_a_gift_is_redeemed(
    reader, stack, browser
) -> None:
    page = reader.page
    site = stack.site
    client = stack.stripe.client()
    lesson = site.open_at_once(site.paid_lessons(COURSE))[0]
    today = dt.datetime.now(dt.UTC).date()
    create_offer(
        client,
        check_new_offer(
            site.manifest, "春季优惠", percent="20", amount=None, currency=None, course=COURSE,
            tier=None, expires=(today + dt.timedelta(days=30)).isoformat(),
            max_redemptions=None, code=CODE, today=today,
        ),
    )  # fmt: skip

    # The Chinese pricing page: every price in yuan.
    reader.visit("/zh/pricing/")
    cards = " ".join(page.locator(".kp-cards").all_inner_texts())
    assert "¥299" in cards and "¥79 / 月" in cards and "¥799 / 年" in cards
    assert "$" not in cards, "a Chinese page shows a dollar price"

    # The offer link: the offer price, what it is off and its last day, above the button.
    reader.visit(f"/zh/pricing/?offer={CODE.lower()}")
    page.wait_for_selector("html[data-kp-offer=checked]")
    card = page.locator(CARD)
    deal = card.locator(":scope > .kp-offer__deal").inner_text()
    assert deal.startswith(f"优惠 {CODE}：¥239.20，原价 ¥299（立减 20%）。有效期至"), deal
    reader.check_readable(card)
    reader.check_fits_width()
    reader.screenshot("zh-offer", card)
    buy = card.locator("form.kp-form--checkout:not(.kp-form--gift) button")
    assert buy.inner_text().strip() == "¥239.20 购买"

    # The local checkout in Chinese: the offer's total in yuan, paid with Alipay.
    reader.press(buy)
    assert page.url.startswith(stack.stripe.url + "/"), page.url
    assert page.locator("html").get_attribute("lang") == "zh"
    body = page.locator("body").inner_text()
    assert "¥239.20" in body and "支付宝" in body and "微信支付" in body and CODE in body
    reader.check_fits_width()
    buyer = f"zh-reader-{reader.viewport}@example.com"
    session_id = pay_with(reader, "alipay", "支付宝", buyer)
    reader.screenshot("zh-alipay-checkout")
    seen = reader.mails_to(buyer)
    reader.press(page.locator("button[name=action][value=pay]"))
    page.wait_for_url(f"{stack.url}/checkout/success?session_id=*")
    assert page.locator("html").get_attribute("lang") == "zh"
    session = client.v1.checkout.sessions.retrieve(session_id)
    intent = client.v1.payment_intents.retrieve(session.payment_intent)
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount, charge.currency, charge.payment_method_details.type) == (
        23920,
        "cny",
        "alipay",
    )

    # The purchase e-mail's link signs in; the lesson reads whole.
    reader.follow_magic_link(buyer, seen)
    assert reader.signed_in_as() == buyer
    reader.visit(lesson)
    assert reader.shows_canary(lesson) and page.locator(".kp-paywall").count() == 0

    # Someone else gives the course: the gift form on the Chinese pricing page, WeChat Pay.
    giver = another(browser, reader, "giver")
    recipient_address = f"zh-friend-{reader.viewport}@example.com"
    try:
        giver.visit("/zh/pricing/")
        gift = giver.page.locator(f"{CARD} details.kp-gift")
        giver.press(gift.locator("summary"), navigates=False)
        form = gift.locator("form.kp-form--gift")
        form.locator("input[name=gift_email]").fill(recipient_address)
        form.locator("textarea[name=gift_message]").fill("生日快乐！一起做社群。")
        giver.check_readable(gift)
        giver.screenshot("zh-gift-form", gift)
        giver.press(form.locator("button[type=submit]"))
        assert "¥299" in giver.page.locator("body").inner_text()
        pay_with(giver, "wechat_pay", "微信支付", f"zh-giver-{reader.viewport}@example.com")
        giver.press(giver.page.locator("button[name=action][value=pay]"))
        giver.page.wait_for_url(f"{stack.url}/checkout/success?session_id=*")
    finally:
        giver.page.context.close()

    # The recipient opens the gift e-mail's link, redeems it, and reads the lesson.
    (mail,) = stack.outbox.messages(recipient_address)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "生日快乐！一起做社群。" in text
    link = GIFT_LINK.search(text).group(0)
    recipient = another(browser, reader, "recipient")
    try:
        recipient.page.goto(link)
        redeem = recipient.page.locator("form.kp-redeem")
        assert recipient.page.locator("html").get_attribute("lang") == "zh"
        assert "送给你" in recipient.page.locator(".md-content").inner_text()
        recipient.check_fits_width()
        recipient.screenshot("zh-gift-redeem", recipient.page.locator(".md-content"))
        recipient.press(redeem.locator("button[type=submit]"))
        assert recipient.signed_in_as() == recipient_address
        recipient.visit(lesson)
        assert recipient.shows_canary(lesson), "the redeemed gift opens the lesson"
    finally:
        recipient.page.context.close()
