"""`kp check` finds paid text planted anywhere in a built site (HTML, JSON index, gzip)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from site_builder.leaks import collapse, find_leaks, html_to_lines, paid_fragments, visible_text


@pytest.fixture
def built_copy(example_build, tmp_path: Path) -> Path:
    """A copy of the built example project whose site/ a test may tamper with."""
    dest = tmp_path / "built"
    dest.mkdir()
    for name in ("site", "private"):
        shutil.copytree(example_build.project / name, dest / name)
    shutil.copy2(example_build.project / "mkdocs.yml", dest / "mkdocs.yml")
    for name in ("content", "themes"):
        shutil.copytree(example_build.project / name, dest / name)
    return dest


def _paid_sentence(project: Path, url: str) -> str:
    full = (project / "private" / url.strip("/") / "index.html").read_text(encoding="utf-8")
    return paid_fragments(full)[1]


def test_clean_build_passes(built_copy, kp_cli):
    result = kp_cli("check", "--config", str(built_copy / "mkdocs.yml"))
    assert result.exit_code == 0, result.output
    assert "Content OK" in result.output and "Leak check passed" in result.output


def test_leak_in_html_is_reported_with_file_and_page(built_copy, kp_cli):
    url = "/courses/community-launch/03-open-the-doors/"
    sentence = _paid_sentence(built_copy, url)
    article = built_copy / "site/articles/why-free-content-comes-first/index.html"
    html = article.read_text(encoding="utf-8")
    # Split by markup and a line break: still the same visible text.
    words = sentence.split(" ")
    planted = " ".join(words[:3]) + " <em>" + "\n".join(words[3:]) + "</em>"
    article.write_text(html.replace("</article>", f"<p>{planted}</p></article>"), "utf-8")

    result = kp_cli("check", "--config", str(built_copy / "mkdocs.yml"))

    assert result.exit_code == 1
    assert "articles/why-free-content-comes-first/index.html" in result.output
    assert f"paid text of {url}" in result.output
    assert "private/courses/community-launch/03-open-the-doors/index.html" in result.output


def test_chinese_leak_in_search_index_is_found_through_escapes(built_copy):
    url = "/courses/paid-community-ops/03-content-rhythm/"
    sentence = _paid_sentence(built_copy, url)
    index_file = built_copy / "site/search/search_index.json"
    index = json.loads(index_file.read_text(encoding="utf-8"))
    segmented = "\u200b".join(sentence)  # as the search plugin segments Chinese
    index["docs"].append({"location": "x/", "title": "x", "text": f"<p>{segmented}</p>"})
    index_file.write_text(json.dumps(index, ensure_ascii=True), encoding="utf-8")

    leaks = find_leaks(built_copy / "site", built_copy / "private")

    assert [(leak.site_file, leak.page_url) for leak in leaks] == [
        ("search/search_index.json", url)
    ]


def test_leak_inside_gzip_file_is_found(built_copy):
    url = "/courses/community-launch/04-first-ninety-days/"
    sentence = _paid_sentence(built_copy, url)
    sitemap = built_copy / "site/sitemap.xml.gz"
    xml = gzip.decompress(sitemap.read_bytes()).decode()
    sitemap.write_bytes(
        gzip.compress(xml.replace("</urlset>", f"<!-- {sentence} --></urlset>").encode())
    )

    leaks = find_leaks(built_copy / "site", built_copy / "private")

    assert {(leak.site_file, leak.page_url) for leak in leaks} == {("sitemap.xml.gz", url)}


def test_private_page_copied_into_site_is_found(built_copy):
    url = "/courses/community-launch/05-first-paying-students/"
    private_page = built_copy / "private" / url.strip("/") / "index.html"
    shutil.copy2(private_page, built_copy / "site" / "oops.html")

    leaks = find_leaks(built_copy / "site", built_copy / "private")

    files = {leak.site_file for leak in leaks}
    assert files == {"oops.html"}
    assert any(leak.page_url is None for leak in leaks), "the paid-part marker is reported"
    assert any(leak.page_url == url for leak in leaks)


def test_sentences_shared_with_the_teaser_are_not_leaks():
    full = (
        "<p>Everyone may read this opening sentence here.</p>\n<!--kp:paid-->\n"
        "<p>Everyone may read this opening sentence here. Only buyers read this long line.</p>"
        "\n<!--/kp:paid-->"
    )
    assert paid_fragments(full) == ["Only buyers read this long line."]


AWKWARD = [
    '<h2 id=x>Why it <em>matters</em> so much<a class="headerlink" href="#x">\u00b6</a></h2>',
    "<ul><li>first item text</li><li>second <code>x &lt; y</code> item</li></ul>",
    "<p>Line one<br>line two &amp; more\n  wrapped\u00a0here</p><!-- a\ncomment -->",
    "<table><tr><td>\u7b2c\u4e00\u683c</td><td>\u7b2c\u4e8c\u200b\u683c</td></tr></table>",
    "<SCRIPT type=x>var hidden = 'not text';</SCRIPT><p>after the script</p><style>p{}</style>",
    '<div\nclass="a">split <strong\n>tag</strong> across lines</div>',
]


def test_visible_text_contains_every_line_the_fragments_come_from(example_build):
    """Paid fragments are sentences of `html_to_lines`; the check searches `visible_text`
    (of the collapsed page, as `file_views` does): every line must be found there."""
    pages = sorted(example_build.site.rglob("*.html")) + sorted(
        example_build.private.rglob("*.html")
    )
    assert pages
    for markup in [path.read_text("utf-8") for path in pages] + AWKWARD:
        seen = visible_text(collapse(markup))
        assert seen == visible_text(markup)
        for line in html_to_lines(markup):
            assert line in seen, (line, markup[:200])
