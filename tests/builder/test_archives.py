"""Article archives and tag pages: where readers find articles once the navigation no longer
lists every one of them."""

from __future__ import annotations

import re

from site_builder.archives import PER_PAGE


def _posts(mini, count: int, lang: str = "en", prefix: str = "post") -> None:
    for number in range(1, count + 1):
        mini.write(
            f"articles/{prefix}-{number:02d}.md",
            f"---\ntitle: {prefix.title()} {number}\ndate: 2025-01-{number:02d}\n"
            f"lang: {lang}\ntags: [{'Growth' if number % 2 else '社群'}]\n"
            f"summary: Summary {number}.\n---\n\nBody {number}.\n",
        )


def _links(html: str) -> list[str]:
    listing = html[html.index('class="kp-archive"') :]
    return re.findall(r'class="kp-archive__title"><a href="([^"]+)"', listing)


def test_archive_pages_hold_every_article_newest_first(mini):
    _posts(mini, PER_PAGE + 5)
    mini.build()
    first = (mini.root / "site/articles/index.html").read_text("utf-8")
    second = (mini.root / "site/articles/page/2/index.html").read_text("utf-8")
    assert not (mini.root / "site/articles/page/3").exists()
    links = _links(first) + _links(second)
    assert len(links) == PER_PAGE + 6  # the mini site's own article too
    assert links[0] == "hello/" and links[1] == "post-25/"
    assert "Summary 25." in first and "Page 1 of 2" in first
    assert re.search(r'href="page/2/"[^>]*rel="next"', first)
    assert re.search(r'href="\.\./\.\./"[^>]*rel="prev"', second)
    assert "<title>Articles (page 2)" in second


def test_tag_pages_and_article_tag_links(mini):
    _posts(mini, 4)
    mini.build()
    tags = (mini.root / "site/tags/index.html").read_text("utf-8")
    assert 'href="growth/"' in tags and 'href="she-qun/"' in tags
    growth = (mini.root / "site/tags/growth/index.html").read_text("utf-8")
    assert _links(growth) == ["../../articles/post-03/", "../../articles/post-01/"]
    article = (mini.root / "site/articles/post-01/index.html").read_text("utf-8")
    assert re.search(r'<a class="kp-meta__tag" href="\.\./\.\./tags/growth/">#Growth</a>', article)


def test_each_language_has_its_archive_in_its_language(mini):
    _posts(mini, 3, lang="zh", prefix="zh")
    mini.build()
    zh = (mini.root / "site/zh/articles/index.html").read_text("utf-8")
    en = (mini.root / "site/articles/index.html").read_text("utf-8")
    assert '<html lang="zh"' in zh[:100] and '<html lang="en"' in en[:100]
    assert "<title>文章" in zh and [link.split("/")[-2] for link in _links(zh)] == [
        "zh-03",
        "zh-02",
        "zh-01",
    ]
    assert _links(en) == ["hello/"], "the English archive lists English articles"
    assert (mini.root / "site/zh/tags/index.html").is_file()
    # The English navigation offers the Chinese archive, titled in English (issue 16).
    nav = en[en.index('class="md-nav md-nav--primary"') : en.index('class="md-content"')]
    assert "Articles in Chinese" in nav and 'href="../zh/articles/"' in nav
    assert "中文文章" not in nav


def test_hand_written_articles_index_keeps_its_url(mini):
    mini.write("articles/index.md", "---\ntitle: Our writing\n---\n\nAn introduction.\n")
    mini.build()
    own = (mini.root / "site/articles/index.html").read_text("utf-8")
    assert "An introduction." in own and 'class="kp-archive"' not in own
    archive = (mini.root / "site/articles/page/1/index.html").read_text("utf-8")
    assert _links(archive) == ["../../hello/"]


def test_archives_stay_out_of_the_search_index(mini):
    _posts(mini, 3)
    mini.build()
    index = (mini.root / "site/search/search_index.json").read_text("utf-8")
    assert '"location":"articles/post-01/"' in index.replace(" ", "")
    assert '"location":"articles/"' not in index.replace(" ", "")
    assert '"location":"tags/' not in index.replace(" ", "")
