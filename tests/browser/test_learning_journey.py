"""Learning and belonging in chromium (desktop and phone), one journey per viewport: a buyer
reads lessons and marks them done with the lesson's own button (learning.js), sees ✓ and
the progress bar on the course page and on /account/, finds the dripped last lesson closed
with its opening date until the paywall's clock moves past it, finishes, claims a
certificate, opens its public page signed out and downloads the PDF. Then a Pro member
sees the Pro group's link at the foot of a lesson and on /account/, a free member sees it
nowhere, and no group link is anywhere in site/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from kp_contract.i18n import format_date
from paywall.app import make_paywall
from paywall.database.models import Entitlement
from paywall.members.entitlements import grant
from paywall.members.records import get_or_create_member
from paywall.runtime.context import Paywall

pytestmark = pytest.mark.browser

COURSE = "community-launch"
GROUP = "pro-circle"
DAY = 86_400


@pytest.fixture
def setup(stack) -> Iterator[Paywall]:  # noqa: ANN001
    """The stack's database and clock, for what the journey does not do in the browser (a
    Pro membership granted, the start of the buyer's access read)."""
    pw = make_paywall(stack.settings, clock=stack.clock)
    try:
        yield pw
    finally:
        pw.engine.dispose()


def press_mark_done(reader, lesson: str) -> None:  # noqa: ANN001
    """Open a lesson, press its "Mark as done" (learning.js posts it) and see it done."""
    reader.visit(lesson)
    page = reader.page
    page.wait_for_selector("html[data-kp-learning=ready]", state="attached")
    button = page.locator("[data-kp-lesson-end] [data-kp-mark-done]")
    assert button.inner_text().strip() == "Mark as done"
    with page.expect_response(lambda r: r.url.endswith("/api/progress")) as answer:
        reader.press(button, navigates=False)
    assert answer.value.status == 200, answer.value.text()
    page.wait_for_function("b => b.disabled", arg=button.element_handle())
    assert button.inner_text().strip() == "Done ✓"


def test_buyer_learns_finishes_and_proves_it_tier_member_joins_the_group(
    reader, stack, browser, setup
) -> None:
    page, site = reader.page, stack.site
    course = site.manifest.courses[COURSE]
    lessons = course.lessons
    dripped = lessons[-1]
    assert site.manifest.gated[dripped].available_after_days == 7, "example content changed"
    buyer = f"learner-{reader.viewport}@example.com"

    # Sign in and buy the course from its first paid lesson.
    reader.sign_in(buyer, next_path=lessons[1])
    buy = f".kp-paywall form:has(input[name=course][value={COURSE}]) button.md-button--primary"
    reader.press(page.locator(buy))
    reader.press(page.locator("button[name=action][value=pay]"))
    page.wait_for_url(f"{stack.url}/checkout/success?session_id=*")
    with setup.sessions() as db:
        began = db.query(Entitlement.valid_from).filter(Entitlement.key == f"course:{COURSE}")
        start = began.one()[0]
    opens = format_date((start + dt.timedelta(days=7)).date(), "en")

    # The free preview and the first paid lesson with the real button; two more by the API
    # the button uses (this journey is about learning, not about walking every page).
    press_mark_done(reader, lessons[0])
    press_mark_done(reader, lessons[1])
    assert reader.shows_canary(lessons[1])
    for lesson in lessons[2:4]:
        done = page.request.post(
            stack.url + "/api/progress",
            data={"lesson": lesson},
            headers={"Accept": "application/json", "Origin": stack.url},
        )
        assert done.status == 200, done.text()

    # The dripped lesson: its teaser and opening date, no button, no paid text.
    reader.visit(dripped)
    page.wait_for_selector("html[data-kp-learning=ready]", state="attached")
    assert not reader.shows_canary(dripped)
    notice = page.locator(".kp-paywall .kp-opens-on")
    assert notice.inner_text() == f"This lesson is part of your course and unlocks on {opens}."
    reader.check_readable(notice)
    assert page.locator("[data-kp-lesson-end]").is_hidden()

    # The course page: ✓ on the four done, the date on the fifth, 4 of 5 in the bar.
    reader.visit(course.url)
    page.wait_for_selector("html[data-kp-learning=ready]", state="attached")
    items = page.locator(".kp-lessons [data-kp-lesson]")
    assert items.count() == len(lessons)
    assert page.locator(".kp-lessons [data-kp-lesson].kp-done").count() == 4
    assert page.locator(".kp-lessons [data-kp-done]:visible").count() == 4
    drip = page.locator(f".kp-lessons [data-kp-lesson='{dripped}'] [data-kp-drip]")
    assert drip.inner_text() == f"Unlocks on {opens}"
    box = page.locator(f"[data-kp-progress={COURSE}]")
    assert box.is_visible() and box.locator("progress").evaluate("p => [p.value, p.max]") == [4, 5]
    assert box.locator("[data-kp-progress-label]").inner_text() == "4 of 5 lessons done (80 %)"
    reader.check_readable(box)
    reader.check_fits_width()
    reader.screenshot("course-progress", page.locator(".kp-course"))

    reader.visit("/account/")
    mine = page.locator(f".kp-progress-course[data-kp-course={COURSE}]")
    assert "4 of 5 lessons done (80 %)" in mine.inner_text()
    reader.press(mine.locator("a.kp-continue"))
    assert reader.path() == dripped and not reader.shows_canary(dripped)

    # A week later (the paywall's clock moves) the lesson opens; the buyer finishes.
    stack.advance(7 * DAY + 60)
    press_mark_done(reader, dripped)
    assert reader.shows_canary(dripped)
    reader.visit("/account/")
    mine = page.locator(f".kp-progress-course[data-kp-course={COURSE}]")
    assert "Finished. Well done!" in mine.inner_text()
    form = mine.locator("form.kp-claim-certificate")
    form.locator("input[name=name]").fill("Ada Lovelace")
    reader.press(form.locator("button[type=submit]"))
    certificate = reader.path()
    assert certificate.startswith("/certificates/") and certificate.endswith("/")

    # Anyone with the link, signed out, sees it and downloads the PDF.
    page.context.clear_cookies()
    reader.visit(certificate)
    assert reader.signed_in_as() is None
    card = page.locator(".kp-certificate")
    assert card.locator(".kp-certificate__name").inner_text() == "Ada Lovelace"
    assert course.title in card.inner_text() and buyer not in reader.html()
    reader.check_readable(card)
    reader.screenshot("certificate", card)
    with page.expect_download() as download:
        reader.press(card.locator("a[download]"), navigates=False)
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 1000

    # The Pro member's group: at the foot of their lesson and on /account/.
    group = site.manifest.groups[GROUP]
    pro = f"pro-{reader.viewport}@example.com"
    with setup.sessions() as db:
        member = get_or_create_member(db, pro, now=setup.now())
        grant(db, member, "tier:pro", "complimentary", now=setup.now(), actor="test")
        db.commit()
    reader.sign_in(pro, next_path=lessons[1])
    reader.visit(lessons[1])
    page.wait_for_selector("html[data-kp-learning=ready]", state="attached")
    join = page.locator(f"[data-kp-lesson-end] [data-kp-group={GROUP}] a")
    assert join.get_attribute("href") == group.join_url
    assert join.inner_text() == f"Join {group.title}"
    reader.check_readable(join)
    reader.visit("/account/")
    assert page.locator(f".kp-groups [data-kp-group={GROUP}] a").get_attribute("href") == (
        group.join_url
    )

    # A free member sees no group link, on a free lesson or on /account/.
    page.context.clear_cookies()
    reader.sign_in(f"free-{reader.viewport}@example.com")
    for path in ("/account/", lessons[0]):
        reader.visit(path)
        if path != "/account/":  # a lesson: its script has asked the paywall
            page.wait_for_selector("html[data-kp-learning=ready]", state="attached")
        assert group.join_url not in reader.html() and page.locator("[data-kp-group]").count() == 0

    # Neither the link nor the group's existence is in any built public file.
    built = site.project / "site"
    leaking = [
        str(p.relative_to(built))
        for p in built.rglob("*")
        if p.is_file() and group.join_url.encode() in p.read_bytes()
    ]
    assert leaking == [], f"the Pro group's link is in site/: {leaking}"
