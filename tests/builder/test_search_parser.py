"""site_builder.accel.search_parser gives mkdocs-material's search plugin exactly the sections its
own HTMLParser-based `Parser` gives: on every page of the example site and on generated
awkward markup."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from material.plugins.search.plugin import Element, Parser, Section

from site_builder.accel import search_parser
from site_builder.accel.search_parser import fast_parser_class, tokenize

FastParser = fast_parser_class(Parser, Element, Section)


def sections(parser_class: type, markup: str) -> list[tuple[Any, ...]]:
    parser = parser_class()
    parser.feed(markup)
    parser.close()
    return [
        (repr(s), s.el.tag, s.title, s.text, s.id, s.depth, s.is_excluded()) for s in parser.data
    ]


def test_every_page_of_the_example_site(example_build: Any) -> None:
    pages = sorted(example_build.site.rglob("*.html")) + sorted(
        example_build.private.rglob("*.html")
    )
    compared = 0
    for path in pages:
        match = re.search(r"<article[^>]*>(.*)</article>", path.read_text("utf-8"), re.DOTALL)
        if match is None:
            continue
        markup = match.group(1)
        assert tokenize(markup) is not None, f"{path}: fell back to HTMLParser"
        assert sections(FastParser, markup) == sections(Parser, markup), path
        compared += 1
    assert compared > 20


CASES = [
    "",
    "plain text only",
    "<p>a &amp; b &lt;c&gt; &#x41; &copy</p>",
    '<h1 id="top">Title<a class="headerlink" href="#top">¶</a></h1><p>x</p>',
    '<h2 id="s">Second first</h2><p>text</p><h3 id="t">Third</h3>',
    '<h2>no id</h2><p>text</p><h2 id="x">with id</h2>',
    "<div data-search-exclude><p>hidden</p><div><p>still</p></div></div><p>shown</p>",
    '<div class="linenodiv"><pre>1\n2</pre></div><pre><code>a\n  b</code></pre>',
    "<p>  </p><p>\n\n</p><ul><li> </li><li>x</li></ul>",
    "<p><sub>1</sub><sup> </sup><code>c</code></p>",
    "<details><summary>s</summary><p>d</p></details>",
    '<img src="a.png" alt="x"><br/><hr /><input type="checkbox" disabled>',
    "<p/>text<span/>more",
    "<P CLASS='Q'>Upper</P><H2 ID=up>Up</H2>",
    '<a href="?a=1&amp;b=2" title="">link</a>',
    "<p>unclosed <em>em</p></em></div>",
    "<!-- a comment --><p>after</p><!---->",
    "<p>a < b and c > d</p>",
    "<!DOCTYPE html><p>x</p>",
    "<script>var a = '<p>';</script><p>after script</p>",
    "<style>p { color: red }</style><p>after style</p>",
    "<p>&unknown; &amp</p>",
    '<section><h2 id="n">Nested</h2><p>in</p></section><p>out</p>',
    "<table><tr><th>h</th></tr><tr><td>d</td></tr></table>",
    "<object><p>obj</p></object><p>after</p>",
    '<p data-x="a>b">attr with gt</p>',
    "<p>x<!-- -- -->y</p>",
    "<my-element>custom</my-element>",
]


@pytest.mark.parametrize("markup", CASES)
def test_awkward_markup(markup: str) -> None:
    assert sections(FastParser, markup) == sections(Parser, markup)


_TAGS = ["p", "div", "span", "pre", "code", "li", "ul", "ol", "a", "em", "h1", "h2", "h3"]
_TAGS += ["sub", "sup", "br", "img", "table", "td", "object", "section"]
_ATTRS = [
    "",
    ' id="x1"',
    ' id="x2"',
    ' class="headerlink"',
    ' class="linenodiv"',
    " data-search-exclude",
    ' title="a &amp; b"',
    " hidden",
    " data-k='v'",
    " v=bare",
]
_TEXTS = [" ", "\n", "word", "two words", "a\nb", " &lt;x&gt; ", "中文", "\n  \n", "&amp;"]


def _random_markup(rng: random.Random) -> str:
    parts: list[str] = []
    open_tags: list[str] = []
    for _ in range(rng.randint(1, 40)):
        roll = rng.random()
        if roll < 0.35:
            tag = rng.choice(_TAGS)
            close = "/" if rng.random() < 0.05 else ""
            parts.append(f"<{tag}{rng.choice(_ATTRS)}{close}>")
            if not close:
                open_tags.append(tag)
        elif roll < 0.6:
            if open_tags:
                tag = open_tags.pop() if rng.random() < 0.85 else rng.choice(_TAGS)
                parts.append(f"</{tag}>")
        elif roll < 0.61:
            parts.append(rng.choice(["<!-- c -->", "<", "<!x>", "</ >", "<a b=c=d>"]))
        else:
            parts.append(rng.choice(_TEXTS))
    return "".join(parts)


@pytest.mark.parametrize(
    "markup",
    [
        '<p>Note</p><textarea name="m" rows="3"></textarea><p>after</p>',
        '<p>x</p><script src="a.js" defer></script><h2 id="h">Head</h2><p>y</p>',
        "<p>a</p><textarea>typed</textarea>",  # content: raw text in some Pythons
        "<p>a</p><script>var x = '<p>';</script>",
        "<p>a</p><TEXTAREA></textarea>",
    ],
)
def test_raw_text_elements_are_fast_only_when_empty(markup: str) -> None:
    """An empty raw-text element is the same events whichever way a Python's HTMLParser
    reads raw text, so it stays on the fast path; one with content falls back."""
    assert sections(FastParser, markup) == sections(Parser, markup)
    empty = re.search(r"<(script|textarea)[^>]*></\1>", markup, re.IGNORECASE) is not None
    assert (tokenize(markup) is not None) == empty


def test_generated_markup() -> None:
    rng = random.Random(20261125)
    fast = fallback = 0
    for _ in range(3000):
        markup = _random_markup(rng)
        try:
            expected: Any = sections(Parser, markup)
        except ValueError as exc:  # material's own handler fails on some mismatched tags
            expected = ("ValueError", str(exc))
        try:
            got: Any = sections(FastParser, markup)
        except ValueError as exc:
            got = ("ValueError", str(exc))
        assert got == expected, markup
        if tokenize(markup) is None:
            fallback += 1
        else:
            fast += 1
    assert fast > 1500 and fallback > 50  # both paths were exercised


def test_the_accelerated_build_uses_it_and_takes_it_out_again(example_build: Any) -> None:
    from material.plugins.search import plugin as search_plugin

    assert "search-parser" in example_build.result.replacements, (
        "the installed mkdocs-material is not one FastParser was verified against: run "
        "these tests against it and add its fingerprint in site_builder/accel/replacements.py"
    )
    assert search_plugin.Parser is Parser
    undo = search_parser.install()
    assert undo is not None
    try:
        assert search_plugin.Parser is not Parser and search_plugin.Parser.kp_fast
        assert search_plugin.Parser.kp_original is Parser
        assert search_parser.install() is not None, "installing twice keeps one original"
    finally:
        undo()
    assert search_plugin.Parser is Parser


def test_tokenize_keeps_attribute_values(tmp_path: Path) -> None:
    events = tokenize('<a href="/x?a=1&amp;b=2" title="" hidden data-v=\'q\'>t</a>')
    assert events is not None
    expected = [("href", "/x?a=1&b=2"), ("title", ""), ("hidden", None), ("data-v", "q")]
    assert events[0][2] == expected
