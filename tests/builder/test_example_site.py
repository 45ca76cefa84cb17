"""The example site built end to end (once per session) with canaries in every paid lesson."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from kp_contract.manifest import SHELL_BODY, SHELL_TITLE, read_manifest
from site_builder.frontmatter import split_front_matter


def test_paid_canaries_are_private_only(example_build, find_in_tree):
    assert len(example_build.paid) >= 12
    for canary in example_build.paid:
        assert find_in_tree(example_build.site, canary.text) == [], canary
        private_hits = find_in_tree(example_build.private, canary.text)
        expected = f"{canary.url.strip('/')}/index.html"
        assert private_hits == [expected], canary


def test_search_index_holds_teasers_and_no_paid_text(example_build):
    index_file = example_build.site / "search" / "search_index.json"
    raw = index_file.read_bytes()
    docs = json.loads(raw)["docs"]
    text = re.sub("[\u200b-\u200d]", "", json.dumps(docs, ensure_ascii=False))
    for canary in example_build.paid:
        assert canary.text not in text
        assert canary.text.encode() not in raw
    gated = {c.url.strip("/") + "/" for c in example_build.paid}
    indexed = {doc["location"].split("#")[0] for doc in docs}
    assert gated <= indexed, "teasers of gated lessons are still searchable"
    for canary in example_build.public:
        assert canary.text in text, "free preview lessons are indexed in full"


def test_free_preview_lesson_is_public_in_full(example_build, find_in_tree):
    manifest = read_manifest(example_build.private / "manifest.json")
    for canary in example_build.public:
        assert find_in_tree(example_build.site, canary.text), canary
        assert canary.url not in manifest.gated
        html = example_build.page(canary.url)
        assert 'class="kp-paywall' not in html
        assert 'class="kp-preview' in html and 'action="/api/checkout"' in html
        assert not (example_build.private / canary.url.strip("/")).exists()


def test_teaser_has_paywall_and_private_page_has_full_text(example_build):
    canary = example_build.paid[0]
    teaser = example_build.page(canary.url)
    full = example_build.page(canary.url, private=True)
    assert 'class="kp-paywall"' in teaser
    course = canary.url.split("/")[2]
    assert f'name="course" value="{course}"' in teaser
    assert 'name="tier" value="pro"' in teaser and 'name="interval" value="year"' in teaser
    assert 'action="/api/login"' in teaser and 'name="email"' in teaser
    assert f'name="next" value="{canary.url}"' in teaser
    assert f'name="from" value="{canary.url}"' in teaser
    assert "kp-paywall" not in full and canary.text in full
    # The same theme and the teaser text in both.
    teaser_text = re.search(r"<article.*?<p>(.*?)</p>", teaser, re.S).group(1)
    assert teaser_text in full
    assert 'class="md-header' in full and "assets/kp/kp.css" in full


def test_manifest_products_gated_pages_and_shells(example_build):
    manifest = read_manifest(example_build.private / "manifest.json")
    launch = manifest.courses["community-launch"]
    assert launch.mode == "payment" and launch.tier == "pro"
    assert (launch.price.amount, launch.price.currency) == (4900, "usd")
    assert launch.price.lookup_key == "community-launch" and launch.price.interval is None
    assert launch.url == "/courses/community-launch/"
    ops = manifest.courses["paid-community-ops"]
    assert ops.mode == "subscription" and ops.price.interval == "month"
    assert ops.price.lookup_key == "pro-monthly" and ops.price.amount == 1200
    pro = manifest.tiers["pro"]
    assert pro.title == "Pro membership"
    assert {k: (p.amount, p.lookup_key) for k, p in pro.prices.items()} == {
        "month": (1200, "pro-monthly"),
        "year": (12000, "pro-yearly"),
    }
    assert set(pro.courses) == {"community-launch", "paid-community-ops"}

    paid_urls = {c.url for c in example_build.paid}
    assert set(manifest.gated) == paid_urls
    for url, page in manifest.gated.items():
        assert page.requires == [f"course:{page.course}", "tier:pro"]
        assert (example_build.private / page.private_file).is_file()
        assert (example_build.site / page.private_file).is_file(), "teaser at the same path"
        assert url in manifest.courses[page.course].lessons
    assert manifest.gated["/courses/paid-community-ops/02-onboarding/"].lang == "zh"

    assert set(manifest.shells) == {"en", "zh"}
    for lang, relative in manifest.shells.items():
        shell = (example_build.private / relative).read_text(encoding="utf-8")
        assert relative == f"_shell/{lang}.html"
        assert SHELL_TITLE in shell and SHELL_BODY in shell
        assert f'<html lang="{lang}"' in shell and '<base href="/">' in shell
        assert '"base": "/"' in shell, "material finds search/ from any URL"
        assert "kp-cta" not in shell and "kp-paywall" not in shell
    zh_shell = (example_build.private / "_shell/zh.html").read_text(encoding="utf-8")
    assert "登录" in zh_shell


def _articles(project: Path) -> dict[str, dict]:
    """Front matter of every article by URL path; `x.zh.md` is published at /zh/articles/x/."""
    articles = {}
    for path in sorted((project / "content" / "articles").glob("*.md")):
        meta, _ = split_front_matter(path.read_text(encoding="utf-8"))
        stem, _, suffix = path.stem.partition(".")
        if suffix:
            articles[f"/{suffix}/articles/{meta.get('slug') or stem}/"] = {**meta, "lang": suffix}
        else:
            articles[f"/articles/{meta.get('slug') or stem}/"] = {"lang": "en", **meta}
    return articles


def _body(html: str) -> str:
    return html[html.index("<article") : html.index("</article>")]


def test_cta_ends_every_free_article_unless_none(example_build):
    articles = _articles(example_build.project)
    assert len(articles) >= 8
    assert any(meta.get("cta") == "none" for meta in articles.values())
    community = yaml.safe_load(
        re.sub(r"!!python/\S+", "", (example_build.project / "mkdocs.yml").read_text())
    )["extra"]["community"]
    for url, meta in articles.items():
        body = _body(example_build.page(url))
        choice = meta.get("cta", "default")
        if choice == "none":
            assert "kp-cta" not in body, url
            continue
        assert len(re.findall(r'class="kp-cta kp-cta--', body)) == 1, url
        cta = body[body.index('class="kp-cta ') :]
        # At the foot: nothing of the article follows the CTA.
        assert "<h2" not in cta and "</aside>" in cta
        if choice == "default":
            assert community["join_url"] in cta
            assert 'action="/api/login"' in cta and 'name="email"' in cta
            assert f'name="next" value="{url}"' in cta
            assert f'name="lang" value="{meta["lang"]}"' in cta


def test_named_cta_is_rendered(example_build):
    articles = _articles(example_build.project)
    named = [url for url, meta in articles.items() if meta.get("cta") == "course"]
    assert named, "the example content has an article with `cta: course`"
    for url in named:
        body = _body(example_build.page(url))
        assert 'data-kp-cta="course"' in body
        assert "Ready for a structured path?" in body
        assert 'href="../../pricing/"' in body


def test_course_landing_page_lists_lessons_with_locks(example_build):
    html = _body(example_build.page("/courses/community-launch/"))
    locked = re.findall(r'<li class="kp-lesson kp-locked"', html)
    free = re.findall(r'<li class="kp-lesson kp-free"', html)
    assert (len(locked), len(free)) == (4, 1)
    assert "Free preview" in html and "$49" in html
    assert 'name="course" value="community-launch"' in html
    assert 'data-kp-requires="course:community-launch tier:pro"' in html
    zh = _body(example_build.page("/courses/paid-community-ops/"))
    assert "订阅" in zh and "¥79 / 月" in zh and "免费试看" in zh  # currency_by_lang: zh → cny


def test_pricing_page_has_tier_and_course_cards(example_build):
    html = _body(example_build.page("/pricing/"))
    assert html.count('name="tier" value="pro"') == 2
    assert 'name="interval" value="month"' in html and 'name="interval" value="year"' in html
    assert 'name="course" value="community-launch"' in html
    # The subscription course is sold as Pro: its card leads to Pro's, no second button.
    assert 'name="course" value="paid-community-ops"' not in html
    assert 'href="#membership">See Pro membership<' in html
    assert "$120 / year" in html


def test_header_sign_in_link_and_script(example_build):
    html = example_build.page("/articles/why-free-content-comes-first/")
    assert 'href="/account/?next=/articles/why-free-content-comes-first/&amp;lang=en"' in html
    assert "data-kp-account" in html
    assert re.search(r'<script src="[./]*assets/kp/kp.js"', html)
    script = (example_build.site / "assets/kp/kp.js").read_text(encoding="utf-8")
    assert 'fetch("/api/me"' in script and "catch" in script


def test_page_language_and_description(example_build):
    lesson = example_build.page("/courses/paid-community-ops/02-onboarding/")
    assert '<html lang="zh"' in lesson, "lessons inherit their course's language"
    zh = example_build.page("/articles/community-convention-zh/")
    assert zh.lstrip().startswith("<!doctype html>") and '<html lang="zh"' in zh
    articles = _articles(example_build.project)
    summary = articles["/articles/community-convention-zh/"]["summary"]
    assert f'<meta name="description" content="{summary}">' in zh
    for canary in example_build.paid[:3]:
        teaser = example_build.page(canary.url)
        description = re.search(r'<meta name="description" content="([^"]*)"', teaser)
        assert description is None or canary.text not in description.group(1)


def test_build_summary_counts(example_build):
    result = example_build.result
    assert result.gated == len({c.url for c in example_build.paid})
    assert result.courses == 2 and result.shells == 2
    assert result.pages >= 20 and result.files_checked > 20
    assert "leak check passed" in result.summary()


def test_plain_mkdocs_build_produces_site_and_private(project_copy):
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-f", str(project_copy / "mkdocs.yml")],
        cwd=project_copy,
        capture_output=True,
        text=True,
        timeout=120,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert completed.returncode == 0, completed.stderr
    assert (project_copy / "site" / "index.html").is_file()
    assert (project_copy / "site" / "search" / "search_index.json").is_file()
    manifest = read_manifest(project_copy / "private" / "manifest.json")
    assert len(manifest.gated) >= 4
    for page in manifest.gated.values():
        assert (project_copy / "private" / page.private_file).is_file()


def test_rss_feeds_list_free_articles_with_summaries_only(example_build):
    """One feed per language (feed.xml: English, zh/feed.xml: Chinese), newest first."""
    articles = _articles(example_build.project)
    seen = []
    for lang, path in (("en", "feed.xml"), ("zh", "zh/feed.xml")):
        feed = ET.parse(example_build.site / path).getroot()  # noqa: S314 (our own output)
        assert feed.findtext("./channel/language") == lang
        items = feed.findall("./channel/item")
        expected = {url: m for url, m in articles.items() if m["lang"] == lang}
        assert len(items) == len(expected) > 0
        dates = [meta["date"] for meta in expected.values()]
        assert items[0].findtext("pubDate").endswith(f"{max(dates).year} 00:00:00 +0000")
        for item in items:
            url = item.findtext("link").removeprefix("http://127.0.0.1:8000")
            assert url in expected, url
            assert item.findtext("description") == expected[url]["summary"]
            seen.append(url)
    assert sorted(seen) == sorted(articles)
    page = example_build.page("/articles/why-free-content-comes-first/")
    assert 'type="application/rss+xml" hreflang="en"' in page and 'href="../../feed.xml"' in page
