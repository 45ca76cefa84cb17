"""Issue 16, the reader's part, in chromium at desktop and phone size: no failed request on
any page (both languages, signed out and in), search in the page's language with a way to
see the other, the CTA for a member, one offer for a subscription course sold as its tier
with a Chinese checkout, and outbox mails whose links read whole."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

ZH_ONLY = "/articles/community-convention-zh/"  # a Chinese article about 社群
EN_ARTICLE = "/articles/why-free-content-comes-first/"
ZH_COURSE = "/courses/paid-community-ops/"
LINK_RE = re.compile(r"https?://[^\s\"'<>]+/api/login/callback\?token=[A-Za-z0-9_\-]+[^\s\"'<>]*")


def _site_pages(reader) -> list[str]:
    site = reader.stack.site.project / "site"
    pages = sorted(
        "/" + p.parent.relative_to(site).as_posix().removeprefix(".").strip("/") + "/"
        for p in site.rglob("index.html")
    )
    return [page.replace("//", "/") for page in pages]


def _failures(reader, pages: list[str]) -> list[str]:
    """Every request that failed or answered 4xx/5xx while each page loaded and settled."""
    failed: list[str] = []
    page = reader.page
    current = {"path": ""}

    def on_response(response) -> None:
        if response.status >= 400:
            failed.append(f"{current['path']}: {response.status} {response.url}")

    def on_failed(request) -> None:
        if request.failure == "net::ERR_ABORTED":
            return  # the browser cancelled it (the walk moved on): no answer was refused
        failed.append(f"{current['path']}: failed {request.url} ({request.failure})")

    page.on("response", on_response)
    page.on("requestfailed", on_failed)
    try:
        for path in pages:
            current["path"] = path
            reader.visit(path)
            page.wait_for_load_state("networkidle")
    finally:
        page.remove_listener("response", on_response)
        page.remove_listener("requestfailed", on_failed)
    return failed


def _one_of_each_kind(pages: list[str]) -> list[str]:
    """A page of every kind in each language: home, archive, article, course, lesson,
    pricing, each top-level section's first page (the phone walk: layout differs there,
    requests hardly do, and the desktop walk covers every page)."""
    chosen: dict[tuple[str, ...], str] = {}
    for page in pages:
        parts = [part for part in page.split("/") if part]
        section = parts[: 2 if parts[:1] in (["zh"], ["courses"]) else 1]  # each course
        kind = (*section, str(min(len(parts), 3)))
        chosen.setdefault(kind, page)
    return sorted(chosen.values())


def test_no_request_fails_on_any_page_signed_out_and_in(reader) -> None:
    pages = _site_pages(reader)
    assert "/zh/" in pages and "/zh/pricing/" in pages and len(pages) > 40
    if reader.viewport == "phone":
        pages = _one_of_each_kind(pages)
        assert "/zh/" in pages and len(pages) >= 10
    signed_out = _failures(reader, pages)
    reader.sign_in("walker@example.com", "/")
    signed_in = _failures(reader, pages)
    assert signed_out == [] and signed_in == []


def _search(reader, query: str) -> list[str]:
    """Type `query` in the theme's search (opened with its keyboard shortcut, as on a phone
    or a desktop) and return the result pages' paths once material has answered."""
    page = reader.page
    page.keyboard.press("/")
    box = page.locator("input.md-search__input")
    box.fill(query)
    box.press("End")  # material searches on keyup
    return _results(reader)


def _results(reader) -> list[str]:
    page = reader.page
    page.wait_for_function(
        "() => { const m = document.querySelector('.md-search-result__meta');"
        " return m && /\\d|No matching|没有/.test(m.textContent); }"
    )
    links = page.eval_on_selector_all(
        ".md-search-result__item > a.md-search-result__link", "els => els.map(e => e.href)"
    )
    return sorted({urlsplit(link).path for link in links})


def _langs(reader) -> dict[str, str]:
    site = reader.stack.site.project / "site"
    found = {}
    for path in _site_pages(reader):
        html = (site / path.strip("/") / "index.html").read_text("utf-8") if path != "/" else ""
        html = html or (site / "index.html").read_text("utf-8")
        found[path] = re.search(r'<html lang="(\w+)"', html).group(1)
    return found


def test_search_is_in_the_page_language_with_a_link_to_every_language(reader) -> None:
    langs = _langs(reader)
    reader.visit(EN_ARTICLE)
    found = _search(reader, "社群")
    assert [p for p in found if langs.get(p) == "zh"] == [], "Chinese pages on an English page"
    scope = reader.page.locator(".kp-search-scope")
    assert "Showing English pages." in scope.inner_text()
    with reader.page.expect_navigation():
        reader.page.locator("[data-kp-search-set=all]").click()
    reader.settle()
    everywhere = _results(reader)
    assert ZH_ONLY in everywhere, "every language, once asked for"
    assert "Showing pages in every language." in scope.inner_text()
    with reader.page.expect_navigation():
        reader.page.locator("[data-kp-search-set=own]").click()
    reader.settle()
    reader.visit("/zh/")
    found = _search(reader, "community")
    assert found and [p for p in found if langs.get(p) == "en"] == [], found
    assert "正在显示中文页面" in scope.inner_text()


def test_a_member_sees_what_is_next_instead_of_the_sign_up(reader) -> None:
    for path in (EN_ARTICLE, ZH_ONLY):
        reader.visit(path)
        cta = reader.page.locator(".kp-cta")
        assert cta.locator("form.kp-form--login").is_visible()
        assert not cta.locator("[data-kp-member]").is_visible()
    reader.sign_in("member@example.com", EN_ARTICLE)
    for path, account in ((EN_ARTICLE, "Go to your account"), (ZH_ONLY, "前往我的账户")):
        reader.visit(path)
        cta = reader.page.locator(".kp-cta")
        assert not cta.locator("form.kp-form--login").is_visible(), path
        member = cta.locator("[data-kp-member]")
        reader.check_readable(member)
        assert "member@example.com" in member.inner_text()
        assert member.get_by_role("link", name=account).get_attribute("href") == "/account/"
        assert cta.locator("a.md-button--primary").is_visible(), "the group link stays"
    reader.screenshot("member-cta", reader.page.locator(".kp-cta"))


def test_outbox_links_read_whole(reader) -> None:
    """The raw .eml, as a text editor shows it, holds the link on one line."""
    reader.sign_in("raw@example.com")
    files = sorted(reader.stack.outbox.directory.glob("*.eml"))
    raw = files[-1].read_bytes().decode("utf-8")
    match = LINK_RE.search(raw)
    assert match and "=3D" not in raw
    page = reader.page
    page.goto(match.group(0))
    assert "not valid" in page.content() or "already used" in page.content()


def test_subscription_course_is_one_offer_with_a_chinese_checkout(reader) -> None:
    reader.visit(ZH_COURSE)
    offer = reader.page.locator(".kp-course .kp-offer")
    assert offer.locator("form").count() == 2, "the tier's month and year, nothing else"
    assert "本课程随Pro 会员提供" in offer.inner_text()
    assert offer.locator("input[name=course]").count() == 0
    reader.screenshot("zh-course-offer", offer)
    reader.visit("/zh/pricing/")
    prices = reader.page.locator(".kp-cards").all_inner_texts()
    assert " ".join(prices).count("¥79 / 月") == 1, "one ¥79 / 月 offer on the page"
    reader.visit(ZH_COURSE)
    reader.press(offer.locator("button").first)
    checkout = reader.page
    assert checkout.locator("html").get_attribute("lang") == "zh"
    assert checkout.get_by_role("button", name="订阅", exact=True).is_visible()
    assert "今日应付" in checkout.content() and "卡号" in checkout.content()
    reader.screenshot("zh-checkout")


def test_chinese_pages_for_the_readme(reader) -> None:
    lesson = next(u for u in reader.stack.site.paid_lessons("paid-community-ops"))
    reader.visit("/zh/")
    reader.screenshot("zh-home")
    reader.visit(lesson)
    reader.screenshot("zh-lesson")
    reader.screenshot("zh-paywall", reader.page.locator(".kp-paywall"))
