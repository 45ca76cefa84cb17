"""The hosted pages as people see them: escaping, and a real browser at phone width."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from stripe_local.asgi_thread import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_names_are_escaped(client, browser) -> None:
    price = client.v1.prices.create(
        {"product_data": {"name": "<b>Bold</b>"}, "unit_amount": 100, "currency": "usd"}
    )
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 1}],
            "cancel_url": 'http://site.test/"onmouseover="x',
        }
    )
    page = browser.get(session.url).text
    assert "<b>Bold</b>" not in page and "&lt;b&gt;Bold&lt;/b&gt;" in page
    assert 'href="http://site.test/&quot;onmouseover=&quot;x"' in page


def test_unknown_checkout_link(local, browser) -> None:
    assert browser.get(f"{local.url}/c/pay/cs_test_nope").status_code == 404


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
def test_checkout_in_a_phone_sized_browser(local, client, catalog, receiver) -> None:
    from playwright.sync_api import sync_playwright

    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "line_items": [{"price": catalog.monthly.id, "quantity": 1}],
            "success_url": f"{local.url}/?session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{local.url}/",
        }
    )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = chromium.new_page(viewport={"width": 375, "height": 740})
            page.goto(session.url)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0
            page.get_by_label("Email").fill("phone@x.test")
            page.get_by_role("button", name="Subscribe", exact=True).click()
            page.wait_for_url(f"{local.url}/?session_id={session.id}")
        finally:
            chromium.close()
    assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"
    assert "checkout.session.completed" in receiver.types()


def test_module_entry_point_serves() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "stripe_local", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with httpx.Client(trust_env=False) as http:
                    response = http.get(
                        f"http://127.0.0.1:{port}/v1/products",
                        headers={"Authorization": "Bearer sk_test_local"},
                    )
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200 and response.json()["object"] == "list"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("locale", "lang", "words"),
    [
        ("zh", "zh", ["订阅", "今日应付", "卡号", "优惠码", "取消", "/ 月", "电子邮件"]),
        ("en", "en", ["Subscribe", "Total due today", "Card number", "Cancel", "/ month"]),
        ("auto", "en", ["Subscribe", "Email"]),
    ],
)
def test_checkout_page_speaks_the_session_locale(
    client, catalog, browser, locale, lang, words
) -> None:
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "line_items": [{"price": catalog.monthly.id, "quantity": 1}],
            "success_url": "http://site.test/ok",
            "cancel_url": "http://site.test/back",
            "allow_promotion_codes": True,
            "locale": locale,
        }
    )
    page = browser.get(session.url).text
    assert f'<html lang="{lang}">' in page
    missing = [word for word in words if word not in page]
    assert missing == [], f"{locale}: {missing}"
    if lang == "zh":
        english = ["Subscribe", "Total", "Card number", "Promotion code", "Cancel", "month"]
        assert [word for word in english if word in page] == []
