"""After the purchase: a forged "payment completed" webhook unlocks nothing, signing out
brings the teaser back (and signing in the lesson), and a refund takes the lesson away
from the still signed-in member."""

from __future__ import annotations

import re
import time

import pytest

from paywall.billing.stripe_objects import META_PRODUCT

pytestmark = pytest.mark.browser

COURSE = "community-launch"
CS_ID = re.compile(r"cs_[A-Za-z0-9_]+")


def forged_completion(address: str) -> dict:
    """What an attacker would post: checkout.session.completed, paid, for their e-mail."""
    now = int(time.time())
    return {
        "id": f"evt_forged{now}",
        "object": "event",
        "type": "checkout.session.completed",
        "created": now,
        "livemode": False,
        "data": {
            "object": {
                "id": f"cs_test_forged{now}",
                "object": "checkout.session",
                "mode": "payment",
                "status": "complete",
                "payment_status": "paid",
                "payment_intent": f"pi_forged{now}",
                "customer": f"cus_forged{now}",
                "customer_details": {"email": address},
                "metadata": {META_PRODUCT: f"course:{COURSE}"},
                "amount_total": 4900,
                "currency": "usd",
            }
        },
    }


def test_forged_webhook_sign_out_and_refund_lock_the_lesson(reader, stack) -> None:
    page = reader.page
    lesson = stack.site.paid_lessons(COURSE)[1]
    address = f"student-{reader.viewport}@example.com"

    # Signed in from the paywall's own form ("Already bought? Sign in").
    reader.visit(lesson)
    assert not reader.shows_canary(lesson), "the paid text is served to a visitor"
    form = page.locator(".kp-paywall form[action='/api/login']")
    form.locator("input[name=email]").fill(address)
    seen = reader.mails_to(address)
    reader.press(form.locator("button[type=submit]"))
    reader.follow_magic_link(address, seen)
    assert reader.path() == lesson and reader.signed_in_as() == address
    assert not reader.shows_canary(lesson), "signed in, bought nothing, reads the paid text"

    body, headers = stack.forged_webhook(forged_completion(address))
    answer = page.request.post(f"{stack.url}/api/stripe/webhook", data=body, headers=headers)
    assert answer.status == 400, f"forged webhook answered {answer.status}: {answer.text()}"
    reader.visit(lesson)
    assert not reader.shows_canary(lesson), "a forged webhook unlocked the lesson"

    buy = f".kp-paywall form:has(input[name=course][value={COURSE}]) button.md-button--primary"
    reader.press(page.locator(buy))  # (the gift form beside it has a button too)
    cs_id = CS_ID.search(page.url)
    assert page.url.startswith(stack.stripe.url + "/") and cs_id, page.url
    assert address in page.locator("body").inner_text(), "checkout knows the signed-in member"
    reader.press(page.locator("button[name=action][value=pay]"))
    page.wait_for_url(f"{stack.url}/checkout/success?session_id=*")
    reader.visit(lesson)
    assert reader.shows_canary(lesson)

    reader.visit("/account/")
    reader.press(page.get_by_role("button", name="Sign out"))
    assert reader.signed_in_as() is None
    reader.visit(lesson)
    assert reader.signed_in_as() is None
    assert not reader.shows_canary(lesson), "signed out, still reading the paid text"
    assert page.locator(".md-content .kp-paywall").is_visible()

    reader.sign_in(address, next_path=lesson)
    assert reader.path() == lesson and reader.shows_canary(lesson)

    stack.stripe.refund(cs_id.group(0))
    assert stack.stripe.events("charge.refunded"), "no refund event"
    reader.visit(lesson)
    assert reader.signed_in_as() == address, "the refund is what locks it, not a sign-out"
    assert not reader.shows_canary(lesson), "refunded, still unlocked"
    assert page.locator(".md-content .kp-paywall").is_visible()
    assert reader.unlocked(stack.site.paid_lessons(COURSE)) == []
