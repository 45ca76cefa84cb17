"""Stage one to stage two: a reader finds a free article, meets the community CTA at its
foot, signs up for free with an e-mail, follows the magic link and is a member."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

ARTICLE = "/articles/why-free-content-comes-first/"


def test_free_article_cta_sign_up_magic_link_member(reader) -> None:
    page = reader.page
    reader.visit("/")
    assert reader.signed_in_as() is None
    reader.press(page.locator(f".md-content a[href$='{ARTICLE.lstrip('/')}']").first)
    assert reader.path() == ARTICLE
    reader.check_fits_width()

    cta = page.locator(".md-content .kp-cta")
    assert cta.count() == 1, "a free article ends with exactly one community CTA"
    at_foot = cta.evaluate(
        """cta => {
            const body = cta.closest('.md-content__inner') || cta.parentElement;
            const blocks = [...body.querySelectorAll('p, h2, h3, ul, ol, table, blockquote')]
                .filter(el => !cta.contains(el) && el.offsetParent);
            const bottom = Math.max(...blocks.map(el => el.getBoundingClientRect().bottom));
            return cta.getBoundingClientRect().top >= bottom;
        }"""
    )
    assert at_foot, "the CTA is not below the article's text"
    reader.check_readable(cta)
    reader.screenshot("free-article-cta", cta.locator("xpath=preceding-sibling::*[2]"), cta)

    address = f"new-reader-{reader.viewport}@example.com"
    form = cta.locator("form[action='/api/login']")
    form.locator("input[name=email]").fill(address)
    seen = reader.mails_to(address)
    reader.press(form.locator("button[type=submit]"))
    assert "mail" in page.locator("body").inner_text().lower(), "no 'check your e-mail' answer"

    reader.follow_magic_link(address, seen)
    assert reader.path() == ARTICLE, "the magic link brings the reader back to the article"
    assert reader.signed_in_as() == address
    account = page.locator("[data-kp-account]")
    if reader.viewport == "desktop":
        assert account.is_visible()
    assert account.get_attribute("href") == "/account/"
