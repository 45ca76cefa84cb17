"""An offer link in chromium: the real assets/kp/offers.js on a course page with the
theme's checkout form (as partials/kp-forms.html renders it) shows the offer price from
GET /api/offer and carries the code to checkout; a used-up offer says so and the form
sells at the full price. Served by the app over loopback with the local Stripe server."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from kp_contract.manifest import read_manifest, write_manifest
from paywall.billing.stripe_sync import sync_catalog

from .conftest import make_built_site
from .test_commerce import priced_in_yuan
from .test_offers import kp as kp_fixture

kp = kp_fixture  # the `kp` command fixture, by name

pytestmark = pytest.mark.timeout(180)
CHROMIUM = Path("/usr/bin/chromium")
OFFERS_JS = Path(__file__).resolve().parents[2] / "themes" / "assets" / "kp" / "offers.js"
PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>课程</title>
<script src="/assets/kp/offers.js" defer></script></head><body><h1>Demo course</h1>
<div class="kp-offer"><div class="kp-offer__course"><p class="kp-offer__price">¥299</p>
<form class="kp-form kp-form--checkout" method="post" action="/api/checkout">
  <input type="hidden" name="course" value="demo">
  <input type="hidden" name="from" value="/courses/demo/">
  <input type="hidden" name="lang" value="zh">
  <button type="submit" class="md-button md-button--primary">¥299 购买</button>
</form></div></div></body></html>"""


@pytest.fixture
def built_site(tmp_path: Path) -> Path:
    project = make_built_site(tmp_path / "project")
    path = project / "private" / "manifest.json"
    write_manifest(priced_in_yuan(read_manifest(path)), path)
    (project / "site" / "courses" / "demo" / "index.html").write_text(PAGE, encoding="utf-8")
    target = project / "site" / "assets" / "kp" / "offers.js"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(OFFERS_JS, target)
    return project


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return stripe_settings


@pytest.fixture
def page(app_server, local_stripe):
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    sync_catalog(local_stripe.client(), app_server.pw.manifest())
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_offer_link_shows_the_offer_price_and_checkout_charges_it(
    app_server, local_stripe, page, kp
):
    kp("offers", "add", "Spring", "--percent", "20", "--course", "demo", "--code", "SPRING20")
    kp("offers", "add", "Once", "--percent", "50", "--max-redemptions", "1", "--code", "ONCE")
    page.goto(f"{app_server.url}/courses/demo/?offer=spring20")
    page.wait_for_selector("html[data-kp-offer=checked]")
    deal = page.text_content(".kp-offer__deal")
    assert deal == "优惠 SPRING20：¥239.20，原价 ¥299（立减 20%）。"
    assert page.text_content("form button").strip() == "¥239.20 购买"
    assert page.get_attribute('input[name="offer"]', "value") == "SPRING20"

    page.click("form button")
    page.wait_for_url(f"{local_stripe.url}/**")
    session_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    session = local_stripe.client().v1.checkout.sessions.retrieve(session_id)
    assert (session.currency, session.amount_total) == ("cny", 23920)

    # The code stays for the tab: the course page without the query still applies it.
    page.goto(f"{app_server.url}/courses/demo/")
    page.wait_for_selector("html[data-kp-offer=checked]")
    assert "SPRING20" in page.text_content(".kp-offer__deal")

    local_stripe.pay(session_id, email="spring@example.com")  # ONCE stays unused
    first = page.context.browser.new_page()
    first.goto(f"{app_server.url}/courses/demo/?offer=ONCE")
    first.wait_for_selector("input[name=offer]", state="attached")
    first.click("form button")
    first.wait_for_url(f"{local_stripe.url}/**")
    local_stripe.pay(first.url.rstrip("/").rsplit("/", 1)[-1], email="once@example.com")

    # The pages' answers come from a 30-second cache (checkout always asks Stripe afresh):
    # a minute later, the page knows the offer is used up.
    app_server.thread.server.config.app.state.offer_cache.clear()
    late = page.context.browser.new_page()
    late.goto(f"{app_server.url}/courses/demo/?offer=ONCE")
    late.wait_for_selector("html[data-kp-offer=refused]")
    assert late.text_content(".kp-offer__refused") == "优惠 ONCE 的名额已全部用完。"
    assert late.query_selector('input[name="offer"]') is None
    assert late.text_content("form button").strip() == "¥299 购买"
