"""The built example site, page by page: `<html lang>`, the language switcher, `hreflang`
alternates in `<head>` and in the sitemaps, feeds per language, dates and interface strings in
the page's language. Expectations come from content/ (conftest.expected_pages), not from the
builder's own code."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree as ET

import pytest
import yaml

from kp_contract.i18n import format_date, placeholders, strings

SITE_URL = "http://127.0.0.1:8000"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
XHTML = "{http://www.w3.org/1999/xhtml}"
ATOM = "{http://www.w3.org/2005/Atom}"
EN_ARTICLE = "/articles/why-free-content-comes-first/"


def _path(page_url: str, href: str) -> str:
    """A link's target path as the browser resolves it from the page's URL."""
    path = urlsplit(urljoin(f"{SITE_URL}{page_url}", href)).path
    return path if path.endswith("/") else f"{path}/"


class _Links(HTMLParser):
    """Collects <link> and <a> attributes, and the text inside elements with a kp- class."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str]] = []
        self.anchors: list[dict[str, str]] = []
        self.kp_text: list[str] = []
        self._stack: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "link":
            self.links.append(values)
            return
        if tag == "a":
            self.anchors.append(values)
        if tag in ("input", "img", "br", "meta", "hr"):
            return
        inside = bool(self._stack and self._stack[-1])
        self._stack.append(inside or "kp-" in values.get("class", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("link", "input", "img", "br", "meta", "hr") and self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1]:
            self.kp_text.append(data)


def _parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


_ARCHIVE_URL = re.compile(r"^/(zh/)?(articles/(page/\d+/)?|tags/([^/]+/)?(page/\d+/)?)$")


def test_every_built_page_is_expected_and_has_its_html_lang(i18n_build):
    built = {
        "/" + p.parent.relative_to(i18n_build.site).as_posix().removeprefix(".") + "/"
        for p in i18n_build.site.rglob("index.html")
    }
    built = {url.replace("//", "/") for url in built}
    expected = {page.url for page in i18n_build.pages}
    # Plus the generated article archives and tag pages of each language (archives.py).
    archives = {u for u in built - expected if _ARCHIVE_URL.match(u)}
    assert {"/articles/", "/zh/articles/", "/tags/", "/zh/tags/"} <= archives
    assert built - archives == expected
    for url in archives:
        lang = "zh" if url.startswith("/zh/") else "en"
        assert f'<html lang="{lang}"' in i18n_build.html(url), url
    assert {p.lang for p in i18n_build.pages} == {"en", "zh"}
    for page in i18n_build.pages:
        html = i18n_build.html(page.url)
        assert re.search(r"<html\b[^>]*>", html).group(0).startswith(f'<html lang="{page.lang}"'), (
            page.src
        )
        assert html.count("<html") == 1


def test_the_example_has_a_real_translated_article_pair(i18n_build):
    pairs = [
        page
        for page in i18n_build.pages
        if page.kind == "article" and set(i18n_build.translations(page)) == {"en", "zh"}
    ]
    assert len(pairs) >= 2, "an English article and its .zh.md translation"
    zh = next(p for p in pairs if p.lang == "zh")
    assert zh.url.startswith("/zh/articles/") and zh.src.endswith(".zh.md")


def test_switcher_goes_to_the_same_page_in_the_other_language(i18n_build):
    for page in i18n_build.pages:
        html = i18n_build.html(page.url)
        switcher = html[html.index('class="md-header__option kp-language"') :]
        switcher = switcher[: switcher.index("</ul>")]
        links = [a for a in _parse(switcher).anchors if "data-kp-lang" in a]
        assert [a["data-kp-lang"] for a in links] == ["en", "zh"], page.src
        versions = i18n_build.translations(page)
        for link in links:
            lang = link["data-kp-lang"]
            target = versions.get(lang) or i18n_build.home(lang)
            assert _path(page.url, link["href"]) == target.url, (page.src, lang)
            assert link["hreflang"] == lang
            assert link["data-kp-translated"] == ("true" if lang in versions else "false")
            assert ("aria-current" in link) == (lang == page.lang), (page.src, lang)


def test_hreflang_alternates_in_head(i18n_build):
    for page in i18n_build.pages:
        links = _parse(i18n_build.html(page.url)).links
        found = {
            (link["hreflang"], link["href"])
            for link in links
            if link.get("rel") == "alternate" and "type" not in link
        }
        versions = i18n_build.translations(page)
        if len(versions) < 2:
            assert found == set(), page.src
            continue
        expected = {(lang, f"{SITE_URL}{v.url}") for lang, v in versions.items()}
        expected.add(("x-default", f"{SITE_URL}{versions['en'].url}"))
        assert found == expected, page.src


def _sitemap(path) -> dict[str, set[tuple[str, str]]]:
    root = ET.fromstring(path.read_bytes())  # noqa: S314 (our own output)
    urls = {}
    for url in root.findall(f"{SM}url"):
        loc = url.findtext(f"{SM}loc")
        urls[loc] = {
            (link.get("hreflang"), link.get("href")) for link in url.findall(f"{XHTML}link")
        }
    return urls


def test_sitemaps_list_every_page_with_its_alternates(i18n_build):
    everything = _sitemap(i18n_build.site / "sitemap.xml")
    assert set(everything) == {f"{SITE_URL}{p.url}" for p in i18n_build.pages}
    compressed = gzip.decompress((i18n_build.site / "sitemap.xml.gz").read_bytes())
    assert compressed == (i18n_build.site / "sitemap.xml").read_bytes()
    for page in i18n_build.pages:
        versions = i18n_build.translations(page)
        expected = set()
        if len(versions) > 1:
            expected = {(lang, f"{SITE_URL}{v.url}") for lang, v in versions.items()}
            expected.add(("x-default", f"{SITE_URL}{versions['en'].url}"))
        assert everything[f"{SITE_URL}{page.url}"] == expected, page.src
    for lang in ("en", "zh"):
        per_language = _sitemap(i18n_build.site / f"sitemap-{lang}.xml")
        mine = {f"{SITE_URL}{p.url}" for p in i18n_build.pages if p.lang == lang}
        assert set(per_language) == mine
        assert all(per_language[url] == everything[url] for url in mine)


def test_one_feed_per_language_linked_as_alternates(i18n_build):
    feeds = {"en": "feed.xml", "zh": "zh/feed.xml"}
    for lang, path in feeds.items():
        channel = ET.parse(i18n_build.site / path).getroot().find("channel")  # noqa: S314
        links = {
            (a.get("rel"), a.get("hreflang"), a.get("href")) for a in channel.iter(f"{ATOM}link")
        }
        other = "zh" if lang == "en" else "en"
        assert ("self", None, f"{SITE_URL}/{path}") in links
        assert ("alternate", other, f"{SITE_URL}/{feeds[other]}") in links
        items = [item.findtext("link") for item in channel.findall("item")]
        mine = [p for p in i18n_build.pages if p.kind == "article" and p.lang == lang]
        assert sorted(items) == sorted(f"{SITE_URL}{p.url}" for p in mine)
    zh_page = i18n_build.html("/zh/articles/why-free-content-comes-first/")
    feed_links = [
        link for link in _parse(zh_page).links if link.get("type") == "application/rss+xml"
    ]
    assert [link["hreflang"] for link in feed_links] == ["zh", "en"], "own language first"
    assert feed_links[0]["title"] == "Knowledge Rocket（中文）"


def test_article_dates_are_written_per_language(i18n_build):
    for page in i18n_build.pages:
        if page.kind != "article":
            continue
        date = page.meta["date"]
        html = i18n_build.html(page.url)
        shown = format_date(date, page.lang)
        assert f'<time datetime="{date.isoformat()}">{shown}</time>' in html, page.src
    assert format_date(i18n_build.pages[0].meta["date"], "zh").endswith("日")
    first = next(p for p in i18n_build.pages if p.src == "articles/community-convention-zh.md")
    assert "2026年5月12日" in i18n_build.html(first.url)


def _literal_parts(template: str) -> list[str]:
    """The fixed text of a format string, in pieces long enough to be telling."""
    pieces = re.split(r"\{[^}]*\}", template)
    return [piece.strip() for piece in pieces if len(piece.strip()) >= 6]


def test_chinese_pages_show_no_english_interface_strings(i18n_build):
    english = [part for text in strings("en").values() for part in _literal_parts(text)]
    english = [part for part in english if part not in {"you@example.com"}]
    checked = 0
    for page in i18n_build.pages:
        if page.lang != "zh":
            continue
        text = " ".join(_parse(i18n_build.html(page.url)).kp_text)
        leaked = [part for part in english if part in text]
        assert leaked == [], (page.src, leaked)
        checked += bool(text.strip())
    assert checked >= 8, "the theme's parts were found on the Chinese pages"


def test_chinese_article_gets_chinese_cta_chrome_and_navigation(i18n_build, repo_root):
    config = yaml.safe_load(
        re.sub(r"!!python/\S+", "", (repo_root / "mkdocs.yml").read_text(encoding="utf-8"))
    )
    zh_name = config["extra"]["community"]["translations"]["zh"]["name"]
    zh = i18n_build.html(f"/zh{EN_ARTICLE}")
    en = i18n_build.html(EN_ARTICLE)
    t_zh, t_en = strings("zh"), strings("en")
    assert t_zh["join_title"].format(name=zh_name) in zh
    assert t_en["join_title"].format(name=config["extra"]["community"]["name"]) in en
    assert t_zh["signup_button"] in zh and t_en["signup_button"] in en
    assert 'placeholder="搜索"' in zh and 'placeholder="Search"' in en
    assert f">{t_zh['sign_in']}<" in zh.replace("\n", "").replace(" ", "")
    # Navigation in the page's language: its language's article archive (not every article);
    # the archive lists each article once, in the reader's language.
    en_url, zh_url = EN_ARTICLE, f"/zh{EN_ARTICLE}"
    for html, own_url, other_url, prefix in ((zh, zh_url, en_url, "/zh"), (en, en_url, zh_url, "")):
        sidebar = html[html.index("md-nav--primary") : html.index("md-sidebar--secondary")]
        targets = {_path(own_url, a["href"]) for a in _parse(sidebar).anchors if "href" in a}
        assert f"{prefix}/articles/" in targets and own_url not in targets, own_url
        archive_url = f"{prefix}/articles/"
        archive = i18n_build.html(archive_url)
        listing = archive[archive.index('class="kp-archive"') :]
        listed = {_path(archive_url, a["href"]) for a in _parse(listing).anchors if "href" in a}
        assert own_url in listed and other_url not in listed, archive_url
    zh_listing = i18n_build.html("/zh/articles/")
    assert "/articles/community-convention-zh/" in {
        _path("/zh/articles/", a["href"]) for a in _parse(zh_listing).anchors if "href" in a
    }, "untranslated articles are listed in their language's archive"
    assert ">文章<" in re.sub(r"\s+", "", zh) and ">Articles<" in re.sub(r"\s+", "", en)
    # The other language's archive, titled in the page's language (issue 16).
    assert ">英文文章<" in re.sub(r"\s+", "", zh)
    assert ">ArticlesinChinese<" in re.sub(r"\s+", "", en)


def test_chinese_lesson_paywall_and_tier_in_chinese(i18n_build):
    canary = next(c for c in i18n_build.paid if "paid-community-ops" in c.url)
    html = i18n_build.html(canary.url)
    paywall = html[html.index('class="kp-paywall"') :]
    paywall = paywall[: paywall.index("</aside>")]
    t = strings("zh")
    assert t["paywall_title"].format(course="付费社群运营实战") in paywall
    # A subscription course in Pro is sold as Pro: one offer, named for it (issue 16).
    assert t["tier_course"].format(tier="Pro 会员") in paywall
    assert t["or_tier"].format(tier="Pro 会员") not in paywall
    assert paywall.count('name="tier" value="pro"') == 2 and 'name="course"' not in paywall
    assert t["already_bought"] in paywall and t["send_link"] in paywall
    assert "Pro membership" not in paywall


def test_forms_send_the_page_language(i18n_build):
    """Sign-up, sign-in and checkout forms and the header's account link tell the paywall
    the reader's language."""
    posted = 0
    for page in i18n_build.pages:
        html = i18n_build.html(page.url)
        for form in re.findall(r'<form class="kp-form\b.*?</form>', html, re.S):
            assert f'name="lang" value="{page.lang}"' in form, page.src
            posted += 1
        account = re.search(r'<a href="(/account/[^"]*)"[^>]*data-kp-account', html).group(1)
        assert account.endswith(f"&amp;lang={page.lang}"), page.src
    assert posted > 20


def test_chinese_headings_get_pinyin_anchors(i18n_build):
    html = i18n_build.html("/zh/articles/why-free-content-comes-first/")
    assert 'id="di-yi-ji-yao-wan-cheng-shen-me-ren-wu"' in html
    for page in i18n_build.pages:
        ids = re.findall(r'<h[1-6] id="([^"]+)"', i18n_build.html(page.url))
        assert all(re.fullmatch(r"[a-z0-9-]+(_\d+)?", i) and not i.startswith("_") for i in ids), (
            page.src,
            ids,
        )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_shells_are_in_their_language_with_a_switcher_to_the_homes(i18n_build, lang):
    shell = (i18n_build.project / "private" / "_shell" / f"{lang}.html").read_text("utf-8")
    assert f'<html lang="{lang}"' in shell
    switcher = shell[shell.index("kp-language") :]
    switcher = switcher[: switcher.index("</ul>")]
    anchors = [a for a in _parse(switcher).anchors if "data-kp-lang" in a]
    # Shells are served at unknown URLs under <base href="/">: links resolve from the root.
    assert {a["data-kp-lang"]: _path("/", a["href"]) for a in anchors} == {"en": "/", "zh": "/zh/"}
    assert all(a["data-kp-translated"] == "false" for a in anchors)


def test_translation_file_placeholders_match_templates_usage():
    """Templates format a few strings; the placeholders they pass exist in both languages."""
    for key in ("buy_for", "subscribe_for", "paywall_title", "join_title", "lesson_n"):
        assert placeholders(strings("en")[key]) == placeholders(strings("zh")[key]) != set()
