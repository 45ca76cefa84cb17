"""Stage three: a visitor opens a course, sees the locked lessons, reads a teaser that stops
at the paywall (the paid text is nowhere in the page), buys the course on the local Stripe
checkout page, and after the magic link from the purchase e-mail reads the whole lesson."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

COURSE = "community-launch"
OTHER_COURSE = "paid-community-ops"


def test_course_locked_lesson_buy_pay_unlocked(reader, stack) -> None:
    page = reader.page
    site = stack.site
    course = site.manifest.courses[COURSE]
    paid = site.paid_lessons(COURSE)
    lesson = paid[0]

    reader.visit(course.url)
    assert reader.signed_in_as() is None
    locked = page.locator(".kp-lessons li.kp-locked")
    assert locked.count() == len(paid), "every paid lesson is listed with a lock"
    assert page.locator(".kp-lessons li.kp-locked .kp-lesson__lock").first.is_visible()
    assert page.locator(".kp-lessons li.kp-unlocked").count() == 0
    assert page.locator(".kp-lessons li:not(.kp-locked)").count() == len(course.lessons) - len(
        paid
    ), "free previews carry no lock"
    reader.check_fits_width()
    reader.screenshot("course-lessons", page.locator(".kp-course"))

    link = page.locator(f".kp-lessons a[href$='{lesson.split('/')[-2]}/']")
    reader.press(link)
    assert reader.path() == lesson
    paywall = page.locator(".md-content .kp-paywall")
    assert paywall.count() == 1 and paywall.is_visible(), "a locked lesson ends in the paywall"
    teaser = page.locator(".md-content__inner > p").first
    assert teaser.is_visible() and len(teaser.inner_text()) > 40, "the teaser is readable"
    assert not reader.shows_canary(lesson), "the teaser page holds the paid text"
    assert not any(text in reader.html() for text in site.canaries.values())
    reader.check_readable(paywall)
    reader.check_fits_width()
    reader.screenshot("locked-lesson", page.locator(".md-content h1").first, paywall)
    paywall.evaluate("el => { el.scrollIntoView({block: 'start'}); scrollBy(0, -64); }")
    reader.screenshot("paywall-in-view")  # what the screen shows when the paywall comes up

    reader.press(
        paywall.locator(f"form:has(input[name=course][value={COURSE}]) button.md-button--primary")
    )
    assert page.url.startswith(stack.stripe.url + "/"), f"not on the local checkout: {page.url}"
    assert "$49" in page.locator("body").inner_text()
    reader.check_fits_width()
    buyer = f"buyer-{reader.viewport}@example.com"
    page.locator("input[name=email]").fill(buyer)
    reader.screenshot("checkout")
    seen = reader.mails_to(buyer)
    reader.press(page.locator("button[name=action][value=pay]"))
    page.wait_for_url(f"{stack.url}/checkout/success?session_id=*")
    assert "mail" in page.locator(".md-content").inner_text().lower(), (
        "the success page tells an anonymous buyer to look for the sign-in e-mail"
    )
    assert page.locator("h1").count() == 1, "the success page's heading is doubled"
    reader.screenshot("success")

    reader.follow_magic_link(buyer, seen)
    assert reader.signed_in_as() == buyer
    reader.visit(lesson)
    assert reader.shows_canary(lesson), "the bought lesson shows its paid text"
    assert page.locator(".md-content .kp-paywall").count() == 0
    reader.check_fits_width()
    reader.screenshot("unlocked-lesson", page.locator("header.md-header"), height=820, margin=0)

    opened = site.open_at_once(paid)
    assert opened != paid, "the example course has a dripped lesson"
    assert reader.unlocked(paid) == opened, "every lesson of the course comes with it (on its day)"
    reader.visit(course.url)
    assert page.locator(".kp-lessons li.kp-locked.kp-unlocked").count() == len(paid)
    assert page.locator(".kp-lessons li.kp-locked .kp-lesson__lock").first.is_hidden()
    assert reader.unlocked(site.paid_lessons(OTHER_COURSE)) == [], "not bought, yet unlocked"
