"""The membership tier: a signed-in member subscribes monthly on the pricing page, every
course in the tier unlocks, the member cancels in the billing portal (reached from
/account/), keeps access until the paid period ends, and loses it after: both clocks (the
app's and the local Stripe server's) jump forward instead of anyone sleeping."""

from __future__ import annotations

import datetime as dt

import pytest

from kp_contract.i18n import format_date

pytestmark = pytest.mark.browser

TIER = "pro"
DAY = 86400


def all_tier_lessons(stack) -> list[str]:
    return [url for c in stack.site.tier_courses(TIER) for url in stack.site.paid_lessons(c)]


def test_subscribe_unlocks_tier_cancel_in_portal_ends_at_period_end(reader, stack) -> None:
    page = reader.page
    lessons = all_tier_lessons(stack)
    assert len({stack.site.manifest.gated[u].course for u in lessons}) >= 2
    address = f"pro-{reader.viewport}@example.com"
    reader.sign_in(address, next_path="/pricing/")
    assert reader.path() == "/pricing/"
    reader.visit(lessons[0])
    assert not reader.shows_canary(lessons[0]), "a member without a plan reads paid text"
    assert reader.unlocked(lessons) == [], "a member without a plan reads paid text"

    reader.visit("/pricing/")
    monthly = page.locator(
        f"form:has(input[name=tier][value={TIER}]):has(input[name=interval][value=month]) button"
    )
    reader.check_fits_width()
    reader.press(monthly)
    assert page.url.startswith(stack.stripe.url + "/")
    body = page.locator("body").inner_text()
    assert "Pro membership" in body and "month" in body and address in body
    reader.press(page.locator("button[name=action][value=pay]"))
    page.wait_for_url(f"{stack.url}/checkout/success?session_id=*")
    assert reader.signed_in_as() == address

    for course in stack.site.tier_courses(TIER):
        first = stack.site.paid_lessons(course)[0]
        reader.visit(first)
        assert reader.shows_canary(first), f"{first}: in the tier, still locked"
    assert reader.unlocked(lessons) == stack.site.open_at_once(lessons), (
        "every lesson of every course in the tier (a dripped one on its day)"
    )

    reader.visit("/account/")
    account = page.locator(".md-content")
    assert "Pro membership" in account.inner_text()
    assert "Renews on" in account.inner_text()
    reader.check_fits_width()
    reader.screenshot("account", page.locator("header.md-header"), page.locator("form").last)

    reader.press(page.get_by_role("button", name="Manage billing"))
    assert page.url.startswith(stack.stripe.url + "/"), f"not on the portal: {page.url}"
    reader.screenshot("portal")
    reader.press(page.get_by_role("button", name="Cancel plan"))
    assert "Cancels on" in page.locator("body").inner_text()
    assert stack.stripe.events("customer.subscription.updated"), "portal sent no update"
    reader.press(page.get_by_role("link", name="Return"))
    page.wait_for_url(f"{stack.url}/account/")
    sub = stack.stripe.events("customer.subscription.updated")[-1]["data"]["object"]
    assert sub["cancel_at_period_end"] is True
    period_end = sub["items"]["data"][0]["current_period_end"]
    end_date = format_date(dt.datetime.fromtimestamp(period_end, dt.UTC).date(), "en")
    account_text = page.locator(".md-content").inner_text()
    assert f"Ends on {end_date}" in account_text and "Renews" not in account_text

    # Two days before the period ends the member still reads every lesson.
    stack.advance(period_end - stack.stripe.now() - 2 * DAY)
    reader.visit(lessons[-1])
    assert reader.signed_in_as() == address
    assert reader.unlocked(lessons) == lessons, "access ended before the paid period did"

    # Past the period end: Stripe deleted the subscription, the lessons are locked again.
    stack.advance(3 * DAY)
    assert stack.stripe.events("customer.subscription.deleted"), "no deletion at period end"
    page.context.clear_cookies()  # a month on, the member signs in again
    reader.sign_in(address)
    assert "Free membership" in page.locator(".md-content").inner_text()
    assert reader.unlocked(lessons) == [], "still unlocked after the paid period ended"
    for course in stack.site.tier_courses(TIER):
        first = stack.site.paid_lessons(course)[0]
        reader.visit(first)
        assert reader.signed_in_as() == address
        assert not reader.shows_canary(first), f"{first}: unlocked after the period ended"
        assert page.locator(".md-content .kp-paywall").is_visible()
