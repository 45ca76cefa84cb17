"""The theme's script in a real browser: the header shows the signed-in member, owned lessons
unlock, and on a static host (no /api/me) the page stays as built, without errors."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from stripe_local.asgi_thread import serving

pytestmark = pytest.mark.browser

MEMBER = {
    "authenticated": True,
    "email": "reader@example.com",
    "entitlements": ["course:community-launch"],
    "lang": "en",
}


def _site_app(site: Path, me: dict | None) -> Starlette:
    routes = []
    if me is not None:

        async def api_me(request: Request) -> JSONResponse:
            return JSONResponse(me)

        routes.append(Route("/api/me", api_me))
    routes.append(Mount("/", StaticFiles(directory=site, html=True)))
    return Starlette(routes=routes)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium)
        yield launched
        launched.close()


def _open(browser: Browser, url: str) -> tuple[Page, list[str]]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return page, errors


def test_signed_in_member_sees_email_and_unlocked_lessons(example_build, browser):
    with serving(_site_app(example_build.site, MEMBER)) as server:
        page, errors = _open(browser, f"{server.url}/courses/community-launch/")
        page.wait_for_selector(".kp-account--member")
        link = page.locator("[data-kp-account]")
        assert link.get_attribute("href") == "/account/"
        assert link.locator("[data-kp-account-label]").inner_text() == MEMBER["email"]
        assert page.locator("li.kp-locked.kp-unlocked").count() == 4
        assert page.locator(".kp-offer.kp-unlocked .kp-owned").is_visible()
        assert not page.locator(".kp-offer .kp-form--checkout").first.is_visible()
        page.close()
        assert errors == []


def test_static_host_without_paywall_keeps_sign_in_link(example_build, browser):
    with serving(_site_app(example_build.site, None)) as server:
        url = f"{server.url}/courses/community-launch/02-plan-ten-articles/"
        page, errors = _open(browser, url)
        page.wait_for_load_state("networkidle")
        link = page.locator("[data-kp-account]")
        assert link.inner_text().strip() == "Sign in"
        assert link.get_attribute("href") == (
            "/account/?next=%2Fcourses%2Fcommunity-launch%2F02-plan-ten-articles%2F&lang=en"
        )
        # The course, the course as a gift, and Pro by the month and by the year.
        assert page.locator(".kp-paywall form[action='/api/checkout']").count() == 4
        assert page.locator(".kp-lesson.kp-unlocked").count() == 0
        page.close()
        assert errors == []
