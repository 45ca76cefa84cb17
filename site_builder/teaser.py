"""Split a gated page into its public teaser and its paid remainder.

The editor ends the teaser with a line holding only the marker (`<!-- more -->` by default).
Before Markdown runs, that line becomes a sentinel comment we can find again in the HTML,
whatever extensions did in between; a marker inside a code block is left alone. Without a
marker the teaser is the first top-level paragraph.

The private (full) page wraps the paid part in `PAID_START`/`PAID_END` comments so the leak
check can tell paid text from the teaser without re-rendering anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from mkdocs.structure.toc import AnchorLink, TableOfContents

SENTINEL = "<!--kp:teaser-end-->"
PAID_START = "<!--kp:paid-->"
PAID_END = "<!--/kp:paid-->"

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})")
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)


@dataclass(frozen=True)
class Split:
    """A gated page's HTML: what everyone sees and what only members see."""

    teaser: str
    paid: str

    @property
    def full(self) -> str:
        """The whole page for `private/`, paid part fenced by comments for the leak check."""
        return f"{self.teaser}\n{PAID_START}\n{self.paid}\n{PAID_END}\n"


def mark_teaser_end(markdown: str, marker: str) -> str:
    """Replace the first top-level marker line outside code fences by the sentinel block."""
    lines = markdown.splitlines(keepends=True)
    fence: str | None = None
    for number, line in enumerate(lines):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group("fence")
            continue
        if fence is not None:
            if line.strip() and set(line.strip()) == {fence[0]} and len(line.strip()) >= len(fence):
                fence = None
            continue
        if line.rstrip() == marker:
            lines[number] = f"\n{SENTINEL}\n\n"
            return "".join(lines)
    return markdown


def split_html(html: str) -> Split:
    """Teaser = everything before the sentinel, or the first top-level paragraph."""
    if SENTINEL in html:
        teaser, paid = html.split(SENTINEL, 1)
        return Split(teaser.rstrip(), paid.strip())
    end = _first_paragraph_end(html)
    return Split(html[:end].rstrip(), html[end:].strip())


def paid_part(full_html: str) -> str:
    """The paid HTML inside a private page ('' if the page has no paid part)."""
    start = full_html.find(PAID_START)
    end = full_html.find(PAID_END, start)
    if start < 0 or end < 0:
        return ""
    return full_html[start + len(PAID_START) : end]


def teaser_toc(toc: TableOfContents, teaser_html: str) -> TableOfContents:
    """The table of contents restricted to headings present in the teaser.

    Headings of the paid part must not reach the public page, its sidebar or the search index.
    """

    def keep(items: list[AnchorLink]) -> list[AnchorLink]:
        kept = []
        for item in items:
            if f'id="{item.id}"' not in teaser_html:
                continue
            copy = AnchorLink(item.title, item.id, item.level)
            copy.children = keep(item.children)
            kept.append(copy)
        return kept

    return TableOfContents(keep(list(toc)))


class _FirstParagraph(HTMLParser):
    """Finds where the first paragraph at nesting depth 0 closes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.depth = 0
        self.in_paragraph = False
        self.end: tuple[int, int] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.end is not None or tag in _VOID:
            return
        if self.depth == 0 and tag == "p":
            self.in_paragraph = True
        self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.end is not None or tag in _VOID:
            return
        self.depth = max(self.depth - 1, 0)
        if self.depth == 0 and self.in_paragraph:
            self.end = self.getpos()


def _first_paragraph_end(html: str) -> int:
    """Offset just after the first top-level `</p>`; 0 when there is none."""
    parser = _FirstParagraph()
    parser.feed(html)
    parser.close()
    if parser.end is None:
        return 0
    line, column = parser.end
    offset = sum(len(text) + 1 for text in html.split("\n")[: line - 1]) + column
    close = html.find(">", offset)
    return close + 1 if close >= 0 else len(html)
