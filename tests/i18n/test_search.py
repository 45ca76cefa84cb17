"""Chinese and English search on the built site, through mkdocs-material's own search: the
site's `search/search_index.json` loaded into the theme's search worker (lunr, material's
tokenizer and Chinese query segmentation) in headless chromium, exactly as a reader's browser
does, plus one query typed into the search box. Paid text must not be findable."""

from __future__ import annotations

import json
import re
from functools import cache

import jieba
import pytest
from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

# Drives material's search worker with its own message protocol (SETUP=0, QUERY=2).
RUN_QUERIES = """
async (queries) => {
  const config = JSON.parse(document.getElementById("__config").textContent);
  const base = new URL(config.base, location.href);
  const index = await (await fetch(new URL("search/search_index.json", base))).json();
  const worker = new Worker(new URL(config.search, base));
  const ask = (message) => new Promise((resolve, reject) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.onerror = (event) => reject(new Error(event.message));
    worker.postMessage(message);
  });
  await ask({type: 0, data: {config: index.config, docs: index.docs, options: {suggest: false}}});
  const results = {};
  for (const query of queries) {
    const answer = await ask({type: 2, data: query});
    results[query] = answer.data.items.map((group) => group.map((item) => item.location));
  }
  worker.terminate();
  return results;
}
"""


@pytest.fixture(scope="module")
def search(chromium: Browser, site_server):
    """`search(*queries)` → {query: [page path, …]} in rank order (anchors dropped)."""

    @cache
    def run(*queries: str) -> dict[str, list[str]]:
        page = chromium.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{site_server.url}/")
        raw = page.evaluate(RUN_QUERIES, list(queries))
        page.close()
        assert errors == []
        return {
            query: list(dict.fromkeys("/" + group[0].split("#")[0] for group in groups))
            for query, groups in raw.items()
        }

    return run


def _pages_containing(i18n_build, word: str, lang: str) -> set[str]:
    """Articles in `lang` whose Markdown mentions `word` (title, summary or body)."""
    return {
        page.url
        for page in i18n_build.pages
        if page.kind == "article"
        and page.lang == lang
        and word.lower() in (i18n_build.project / "content" / page.src).read_text("utf-8").lower()
    }


def _source(i18n_build, url: str) -> str:
    return next(page.src for page in i18n_build.pages if page.url == url)


def _articles_in_other_languages(i18n_build, found: list[str], lang: str) -> list[str]:
    """Hits that are articles in another language (home and pricing pages may mix both)."""
    articles = {page.url: page.lang for page in i18n_build.pages if page.kind == "article"}
    return [url for url in found if articles.get(url, lang) != lang]


def test_search_index_is_configured_for_chinese(i18n_build):
    config = json.loads((i18n_build.site / "search/search_index.json").read_text("utf-8"))
    assert config["config"]["lang"] == ["en", "zh"]
    assert re.search(config["config"]["separator"].replace("\\u200b", "\u200b"), "a\u200bb")
    docs = config["docs"]
    zh_text = next(d["text"] for d in docs if d["location"] == "articles/first-paid-course-zh/")
    assert "\u200b付费\u200b" in zh_text or "\u200b课程\u200b" in zh_text, "jieba segmented"


@pytest.mark.parametrize(
    ("query", "must_find"),
    [
        ("社群", {"/articles/community-convention-zh/", "/articles/private-traffic-and-trust-zh/"}),
        ("付费课程", {"/articles/first-paid-course-zh/"}),
        ("私域", {"/articles/private-traffic-and-trust-zh/"}),
    ],
)
def test_chinese_query_finds_the_chinese_articles(i18n_build, search, query, must_find):
    found = search(query)[query]
    expected = _pages_containing(i18n_build, query, "zh")
    assert must_find <= expected, "the example content still uses the word"
    assert expected <= set(found), sorted(expected - set(found))
    assert found[0] in expected, "the best hit is an article about it"
    # An English article shows up only if it really quotes the Chinese words, and below
    # every Chinese article about them.
    words = [w for w in jieba.cut(query) if len(w) > 1] or [query]
    for url in _articles_in_other_languages(i18n_build, found, "zh"):
        text = (i18n_build.project / "content" / _source(i18n_build, url)).read_text("utf-8")
        assert any(word in text for word in words), url
        assert found.index(url) > max(found.index(hit) for hit in expected), url


@pytest.mark.parametrize("query", ["community", "pricing", "welcome"])
def test_english_query_finds_the_english_articles(i18n_build, search, query):
    found = search(query)[query]
    expected = _pages_containing(i18n_build, query, "en")
    assert expected, "the example content still uses the word"
    assert expected <= set(found), sorted(expected - set(found))
    assert _articles_in_other_languages(i18n_build, found, "en") == []


def test_translated_article_is_found_in_both_languages(search):
    results = search("免费内容", "free content")
    assert "/zh/articles/why-free-content-comes-first/" in results["免费内容"]
    assert "/articles/why-free-content-comes-first/" in results["free content"]
    assert "/articles/why-free-content-comes-first/" not in results["免费内容"]


def _token(canary: str) -> str:
    """The canary's unique ASCII run (`KPCANARY3a…` or the `3a…` inside Chinese text)."""
    return max(re.findall(r"[A-Za-z0-9]+", canary), key=len)


def test_paid_text_is_not_found_but_free_previews_are(i18n_build, search):
    paid = [_token(c.text) for c in i18n_build.paid]
    public = [_token(c.text) for c in i18n_build.public]
    results = search(*paid, *public, "金丝雀")
    for token in paid:
        assert results[token] == [], token
    for canary, token in zip(i18n_build.public, public, strict=True):
        assert results[token] == [canary.url], "the same query finds text that is public"
    # The Chinese canary word is in free previews only: every hit is a public page.
    zh_previews = {c.url for c in i18n_build.public if "金丝雀" in c.text}
    assert zh_previews and set(results["金丝雀"]) == zh_previews


def test_search_box_on_a_chinese_page(chromium: Browser, site_server):
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{site_server.url}/zh/")
    box = page.locator("input.md-search__input")
    assert box.get_attribute("placeholder") == "搜索"
    box.click()
    box.fill("付费课程")
    box.press("End")  # material searches on keyup
    page.wait_for_selector(".md-search-result__item")
    links = page.eval_on_selector_all(
        ".md-search-result__item > a.md-search-result__link", "els => els.map(e => e.href)"
    )
    assert any("/articles/first-paid-course-zh/" in link for link in links), links
    assert "个符合条件的结果" in page.locator(".md-search-result__meta").inner_text()
    page.close()
