"""Role prices in chromium: the real kp.js and roles.js on a course page with the theme's
checkout and gift forms (as partials/kp-offer.html renders them). Signed out, the page
shows everyone's price, and the static file holds nothing else; a distributor signed in
sees their price, why, and the button with it (from GET /api/prices), and checkout
charges it; the gift form keeps everyone's price. Served by the app over loopback."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from kp_contract.manifest import read_manifest, write_manifest

from .conftest import make_built_site
from .test_commerce import priced_in_yuan
from .test_offers_page import CHROMIUM
from .test_role_prices import kp as kp_fixture
from .test_role_prices import shop as shop_fixture
from .test_role_prices import with_roles

kp, shop = kp_fixture, shop_fixture  # the fixtures, by name
pytestmark = pytest.mark.timeout(180)
ASSETS = Path(__file__).resolve().parents[2] / "themes" / "assets" / "kp"
PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>课程</title>
<script src="/assets/kp/kp.js" defer></script><script src="/assets/kp/roles.js" defer></script>
</head><body><a data-kp-account href="/account/?next=/"><span data-kp-account-label>登录</span></a>
<div class="kp-offer"><div class="kp-offer__course"><p class="kp-offer__price">¥299</p>
<form class="kp-form kp-form--checkout" method="post" action="/api/checkout">
  <input type="hidden" name="course" value="demo">
  <input type="hidden" name="from" value="/courses/demo/">
  <input type="hidden" name="lang" value="zh">
  <button type="submit" class="md-button md-button--primary">¥299 购买</button>
</form>
<details class="kp-gift"><summary>这是礼物</summary>
<form class="kp-form kp-form--checkout kp-form--gift" method="post" action="/api/checkout">
  <input type="hidden" name="course" value="demo"><input type="hidden" name="gift" value="1">
  <input type="email" name="gift_email"><input type="hidden" name="lang" value="zh">
  <button type="submit" class="md-button">送出礼物</button>
</form></details></div></div></body></html>"""


@pytest.fixture
def built_site(tmp_path: Path) -> Path:
    project = make_built_site(tmp_path / "project")
    path = project / "private" / "manifest.json"
    write_manifest(with_roles(priced_in_yuan(read_manifest(path))), path)
    (project / "site" / "courses" / "demo" / "index.html").write_text(PAGE, encoding="utf-8")
    (project / "site" / "assets" / "kp").mkdir(parents=True, exist_ok=True)
    for name in ("kp.js", "roles.js"):
        shutil.copy(ASSETS / name, project / "site" / "assets" / "kp" / name)
    return project


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return stripe_settings


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_signed_in_distributor_sees_and_pays_their_price(shop, local_stripe, kp):
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    static = (shop.settings.project_dir / "site" / "courses" / "demo" / "index.html").read_text()
    assert "¥199" not in static and "分销商" not in static
    email = "dist-browser@example.com"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.goto(f"{shop.url}/courses/demo/")
            page.wait_for_function("window.kpMe !== undefined")
            assert page.text_content("form:not(.kp-form--gift) button").strip() == "¥299 购买"

            page.request.post(
                f"{shop.url}/api/login",
                form={"email": email, "next": "/"},
                headers={"Origin": shop.url},
            )
            page.goto(shop.outbox.link(email))
            page.wait_for_url(lambda url: "/api/login/callback" not in url)
            kp("members", "role", email, "distributor")
            page.goto(f"{shop.url}/courses/demo/")
            page.wait_for_selector("html[data-kp-role=distributor]")
            assert page.text_content("[data-kp-role-note]") == "你的分销商价：¥199（其他人 ¥299）。"
            assert page.text_content(".kp-offer__price") == "¥199"
            assert page.text_content("form:not(.kp-form--gift) button").strip() == "¥199 购买"
            assert page.text_content(".kp-form--gift button").strip() == "送出礼物"

            page.click("form:not(.kp-form--gift) button")
            page.wait_for_url(f"{local_stripe.url}/**")
            session_id = page.url.rstrip("/").rsplit("/", 1)[-1]
            session = local_stripe.client().v1.checkout.sessions.retrieve(session_id)
            assert (session.currency, session.amount_total) == ("cny", 19900)
        finally:
            browser.close()
