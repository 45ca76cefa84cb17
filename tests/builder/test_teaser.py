"""Teaser splitting: marker handling, first-paragraph fallback, table of contents."""

from __future__ import annotations

from mkdocs.structure.toc import get_toc

from site_builder.teaser import (
    PAID_END,
    PAID_START,
    SENTINEL,
    mark_teaser_end,
    paid_part,
    split_html,
    teaser_toc,
)

MARKER = "<!-- more -->"


def test_marker_line_becomes_sentinel_once():
    markdown = f"Intro.\n{MARKER}\nPaid.\n\n{MARKER}\n"
    marked = mark_teaser_end(markdown, MARKER)
    assert marked.count(SENTINEL) == 1
    assert marked.index(SENTINEL) < marked.index("Paid.")
    assert marked.count(MARKER) == 1, "only the first marker ends the teaser"


def test_marker_inside_code_fence_is_ignored():
    markdown = f"Intro.\n\n```html\n{MARKER}\n```\n\n~~~~\n{MARKER}\n~~~~\n\nStill teaser.\n"
    assert mark_teaser_end(markdown, MARKER) == markdown


def test_indented_marker_is_not_a_marker():
    markdown = f"- item\n\n    {MARKER}\n"
    assert SENTINEL not in mark_teaser_end(markdown, MARKER)


def test_split_at_sentinel():
    split = split_html(f"<p>Free</p>\n{SENTINEL}\n<h2 id='x'>Paid</h2><p>Secret</p>")
    assert split.teaser == "<p>Free</p>"
    assert "Secret" in split.paid and "Secret" not in split.teaser
    assert paid_part(split.full).strip() == split.paid
    assert split.full.index(PAID_START) < split.full.index("Secret") < split.full.index(PAID_END)


def test_without_marker_teaser_is_first_top_level_paragraph():
    html = (
        '<div class="admonition"><p>Note</p></div>\n<h2 id="a">A</h2>\n'
        "<p>First <em>para</em>\nwith a break</p>\n<p>Second</p>"
    )
    split = split_html(html)
    assert split.teaser.endswith("with a break</p>")
    assert split.paid == "<p>Second</p>"


def test_without_any_paragraph_nothing_is_public():
    split = split_html("<h2>Only a heading</h2><ul><li>x</li></ul>")
    assert split.teaser == "" and "Only a heading" in split.paid


def test_teaser_toc_keeps_only_headings_in_teaser():
    toc = get_toc(
        [
            {"level": 2, "id": "intro", "name": "Intro", "children": []},
            {
                "level": 2,
                "id": "paid",
                "name": "Paid",
                "children": [{"level": 3, "id": "deep", "name": "Deep", "children": []}],
            },
        ]
    )
    kept = teaser_toc(toc, '<h2 id="intro">Intro</h2><p>x</p>')
    assert [item.id for item in kept] == ["intro"]
    assert [item.id for item in toc] == ["intro", "paid"], "the full toc is not modified"
