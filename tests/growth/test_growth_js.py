"""themes/assets/kp/growth.js in headless chromium against the paywall over loopback (SQLite):
`?ref=` survives navigation (sessionStorage, no cookie) into the sign-in and checkout forms
together with the article read (`via`); the beacon counts the view and the CTA click; an
invited friend who signs up from the article counts for the referrer; nothing is sent when
the browser says Do-Not-Track."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from paywall.database.models import LoginToken, PageCounter, Referral
from paywall.growth.referrals import code_for
from paywall.members.records import find_member, get_or_create_member

from .conftest import ARTICLE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(180),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
COURSE = "/courses/demo/"

ARTICLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hello free</title></head>
<body><main><h1>Hello free</h1><p>Free text for everyone.</p>
<aside class="kp-cta kp-cta--community" data-kp-cta="default">
  <p><a class="md-button" href="/courses/demo/">See the course</a></p>
  <form class="kp-form kp-form--login" method="post" action="/api/login">
    <input type="email" name="email" required>
    <input type="hidden" name="next" value="/articles/hello/">
    <input type="hidden" name="from" value="/articles/hello/">
    <input type="hidden" name="lang" value="en">
    <button type="submit">Join for free</button>
  </form>
</aside></main>
<script src="/assets/kp/growth.js" defer></script></body></html>
"""

COURSE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo course</title></head>
<body><main><h1>Demo course</h1>
<form class="kp-form kp-form--checkout" method="post" action="/api/checkout">
  <input type="hidden" name="course" value="demo">
  <input type="hidden" name="from" value="/courses/demo/">
  <button type="submit">Buy for $49</button>
</form></main>
<script src="/assets/kp/growth.js" defer></script></body></html>
"""


@pytest.fixture
def site(app_server) -> Path:
    """The hand-made site's article and course pages with growth.js, as the theme loads it."""
    root = app_server.settings.site_path
    (root / "assets" / "kp").mkdir(exist_ok=True)
    shutil.copy2(REPO / "themes" / "assets" / "kp" / "growth.js", root / "assets" / "kp")
    (root / ARTICLE.strip("/") / "index.html").write_text(ARTICLE_PAGE, encoding="utf-8")
    (root / COURSE.strip("/") / "index.html").write_text(COURSE_PAGE, encoding="utf-8")
    return root


@pytest.fixture
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


def counters(pw) -> dict[tuple[str, str], int]:
    with pw.sessions() as db:
        return {(c.path, c.event): c.count for c in db.scalars(select(PageCounter))}


def wait_for(check: Callable[[], bool], what: str, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def hidden(page, form: str, name: str) -> str | None:
    field = page.locator(f'form[action="{form}"] input[name="{name}"]')
    return field.input_value() if field.count() else None


def test_ref_and_article_ride_along_and_the_beacon_counts(site, browser, app_server, pw):
    with pw.sessions() as db:
        host = get_or_create_member(db, "host@example.com", now=pw.now())
        host.confirmed_at = pw.now()
        code = code_for(db, host, pw.now())
        db.commit()

    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{app_server.url}{ARTICLE}?ref={code.upper()}")
    wait_for(lambda: counters(pw).get((ARTICLE, "view")) == 1, "the article's page view")
    assert hidden(page, "/api/login", "ref") == code
    assert hidden(page, "/api/login", "via") == ARTICLE

    page.goto(f"{app_server.url}{COURSE}")  # no ?ref= any more: sessionStorage keeps it
    wait_for(lambda: counters(pw).get((COURSE, "view")) == 1, "the course page view")
    assert hidden(page, "/api/checkout", "ref") == code
    assert hidden(page, "/api/checkout", "via") == ARTICLE
    assert context.cookies() == [], "growth.js sets no cookie"
    assert page.evaluate("sessionStorage.getItem('kp_ref')") == code

    page.goto(f"{app_server.url}{ARTICLE}")
    page.fill('form[action="/api/login"] input[name="email"]', "friend@example.com")
    page.click("text=Join for free")
    page.wait_for_load_state()
    assert "Check your inbox" in page.content()
    wait_for(lambda: counters(pw).get((ARTICLE, "cta")) == 1, "the CTA click")
    with pw.sessions() as db:
        token = db.scalar(select(LoginToken).where(LoginToken.email == "friend@example.com"))
        assert (token.ref, token.source) == (code, ARTICLE)

    page.goto(app_server.outbox.link("friend@example.com"))  # lands on the article (`next`)
    assert page.url == f"{app_server.url}{ARTICLE}"
    wait_for(lambda: counters(pw).get((ARTICLE, "view")) == 3, "the view after signing in")
    with pw.sessions() as db:
        referral = db.scalar(select(Referral))
        assert referral is not None and referral.email == "friend@example.com"
        assert referral.referrer_id == find_member(db, "host@example.com").id
    assert counters(pw) == {(ARTICLE, "view"): 3, (ARTICLE, "cta"): 1, (COURSE, "view"): 1}
    assert errors == []
    context.close()


def test_do_not_track_sends_nothing(site, browser, app_server, pw):
    context = browser.new_context()
    context.add_init_script("Object.defineProperty(navigator, 'doNotTrack', {get: () => '1'})")
    page = context.new_page()
    page.goto(f"{app_server.url}{ARTICLE}")
    page.click("text=See the course")
    page.wait_for_load_state()
    time.sleep(0.5)
    assert counters(pw) == {}
    context.close()

    control = browser.new_context()  # the same visit without DNT is counted
    control.new_page().goto(f"{app_server.url}{ARTICLE}")
    wait_for(lambda: counters(pw) == {(ARTICLE, "view"): 1}, "a page view without DNT")
    control.close()
