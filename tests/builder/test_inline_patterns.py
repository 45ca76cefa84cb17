"""site_builder.accel.inline_patterns: skipping inline patterns that cannot match changes nothing
in the HTML, on every page of the example site and on generated awkward markup."""

from __future__ import annotations

import random
import re
from pathlib import Path

import markdown
import pytest
from mkdocs.config import load_config

from site_builder.accel import inline_patterns
from site_builder.accel.inline_patterns import SkippingInlineProcessor, required_text

ROOT = Path(__file__).resolve().parents[2]


def _converters() -> tuple[markdown.Markdown, markdown.Markdown]:
    config = load_config(str(ROOT / "mkdocs.yml"))
    plain, skipping = (
        markdown.Markdown(
            extensions=config["markdown_extensions"],
            extension_configs=config["mdx_configs"] or {},
        )
        for _ in range(2)
    )
    assert inline_patterns.skip_impossible_patterns(skipping)
    return plain, skipping


def _same_html(plain: markdown.Markdown, skipping: markdown.Markdown, source: str) -> None:
    plain.reset()
    skipping.reset()
    assert skipping.convert(source) == plain.convert(source), source


def test_every_page_of_the_example_site() -> None:
    plain, skipping = _converters()
    sources = sorted((ROOT / "content").rglob("*.md"))
    assert len(sources) > 10
    for path in sources:
        _same_html(plain, skipping, path.read_text("utf-8"))
    assert type(skipping.treeprocessors["inline"]) is SkippingInlineProcessor


PIECES = [
    "word", "more words", "中文", "社群运营", " ", " ", "\n", "  \n", "*", "**", "_", "__",
    "`", "``", "[", "]", "(", ")", "(http://example.com)", "![", "<", ">", "&", "&amp;",
    "&#123;", "&#x4e2d;", ":", ":smile:", ":material-rocket-launch:", "\\", "\\*", "\\`",
    "[^1]", "[ref]", "[ref][]", "<https://example.com/x>", "<someone@example.com>",
    "<span>", "</span>", "<b>bold</b>", "://", "~", "^", "=", "{", "}", ".", "!", "'", '"',
    "{: .class }", "[link](#anchor)", "`code`", "*em*", "**strong**", "_u_", "HTML",
]  # fmt: skip
DEFINITIONS = "\n\n[^1]: A footnote.\n[ref]: https://example.com/ref\n*[HTML]: HyperText\n"


def test_generated_inline_markup() -> None:
    plain, skipping = _converters()
    rng = random.Random(20261125)
    for number in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 24)))
        prefix = rng.choice(["", "# ", "- ", "> ", "1. ", "| a | b |\n|---|---|\n| "])
        source = prefix + text + (DEFINITIONS if number % 3 == 0 else "")
        _same_html(plain, skipping, source)


def test_what_the_site_patterns_require() -> None:
    _, skipping = _converters()
    processor = skipping.treeprocessors["inline"]
    found = {
        type(pattern).__name__: required_text(pattern.getCompiledRegExp())
        for pattern in processor.inlinePatterns
    }
    assert found["EscapeInlineProcessor"] == {"\\"}
    assert found["LinkInlineProcessor"] == {"["}
    assert found["ImageInlineProcessor"] == {"!["}
    assert found["FootnoteInlineProcessor"] == {"[^"}
    assert found["AutolinkInlineProcessor"] == {"://"}
    assert found["SubstituteTagInlineProcessor"] == {"  \n"}
    assert found["EmojiPattern"] == {":"}
    assert found["DelimiterProcessor"] == {"*", "_"}
    assert found["InlineHilitePattern"] == {"`", "\\"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (r"ab+cd", {"cd"}),  # the longest run of literals
        (r"(?:yz|w)x?", {"yz", "w"}),
        (r"(?:yz|\w)", None),  # a branch without a requirement
        (r"(?:abc)?d", {"d"}),  # the optional group requires nothing
        (r"[^a]", None),
        (r"[a-z]", None),
        (r"[*_]", {"*", "_"}),
        (r"(?=`)x", {"x"}),  # lookarounds are not relied on
        (r"(?<!\\)\[", {"["}),
        (r"(?:\\\\){2,}", {"\\\\"}),
        (r"\d+", None),
    ],
)
def test_required_text(expression: str, expected: set[str] | None) -> None:
    assert required_text(re.compile(expression)) == expected


def test_case_insensitive_letters_are_not_required() -> None:
    assert required_text(re.compile(r"<br>", re.IGNORECASE)) == {"<"}
    assert required_text(re.compile(r"abc", re.IGNORECASE)) is None
    assert required_text(re.compile(r"(?i:abc)-")) == {"-"}


def test_installed_converters_skip_and_uninstalled_ones_do_not() -> None:
    undo = inline_patterns.install()
    try:
        assert type(markdown.Markdown().treeprocessors["inline"]) is SkippingInlineProcessor
    finally:
        undo()
    assert type(markdown.Markdown().treeprocessors["inline"]).__name__ == "InlineProcessor"
