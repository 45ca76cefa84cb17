"""A full lesson page from private/ as mail: the lesson's own text (the page's `<article>`,
else `<main>`, else `<body>`), without the site around it (header, navigation, scripts, the
"Mark as done" form, heading anchors), as e-mail HTML with absolute links and as plain text
that reads well in any mail app.

The HTML comes from our own build (Markdown rendered by mkdocs), so a small parser of the
standard library is enough: it keeps the tags mail apps show and drops everything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from urllib.parse import urljoin

# Tags whose whole content is dropped: not part of the lesson's text.
SKIPPED = {"script", "style", "form", "button", "nav", "template", "noscript", "svg", "iframe"}
# Elements dropped by class: heading anchors (¶), the lesson-end box, the site's own meta line.
SKIPPED_CLASSES = {"headerlink", "kp-lesson-end", "kp-groups", "kp-meta", "md-source-file"}
KEPT = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "a", "strong", "b", "em", "i",
    "code", "pre", "blockquote", "br", "hr", "table", "thead", "tbody", "tr", "th", "td",
    "img", "div", "span", "dl", "dt", "dd", "sup", "sub", "del", "mark", "kbd", "figure",
    "figcaption", "details", "summary",
}  # fmt: skip
VOID = {"br", "hr", "img"}
BLOCKS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "pre", "blockquote", "hr",
    "table", "tr", "div", "dl", "dt", "dd", "figure", "figcaption", "details", "summary",
}  # fmt: skip
CONTAINERS = ("article", "main", "body")
INDENT = "\x01"  # a nested list item's indent, kept through the stripping of lines
PRE_SPACE = "\x02"  # a space in <pre>, likewise


@dataclass(frozen=True)
class LessonText:
    html: str
    text: str


def lesson_mail_text(page_html: str, page_url: str) -> LessonText:
    """The lesson of a full page (`page_url`: its absolute URL, for relative links)."""
    for container in CONTAINERS:
        parser = _Extractor(container, page_url)
        parser.feed(page_html)
        parser.close()
        if parser.found:
            return LessonText(html="".join(parser.html).strip(), text=parser.plain_text())
    raise ValueError(f"{page_url}: the page has no <article>, <main> or <body>")


@dataclass
class _Link:
    href: str
    text: list[str] = field(default_factory=list)


class _Extractor(HTMLParser):
    """Collects the first `container` element's content as mail HTML and plain text."""

    def __init__(self, container: str, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.container, self.base = container, base
        self.found = False
        self.depth = 0  # open elements inside the container (0: outside or done)
        self.done = False
        self.skip_depth = 0  # > 0 while inside a dropped element
        self.stack: list[tuple[str, bool]] = []  # (tag, kept in the HTML)
        self.html: list[str] = []
        self.text: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [next number] (0: bullets)
        self.pre = 0
        self.link: _Link | None = None

    # -- parsing ---------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if not self.found:
            if tag == self.container:
                self.found, self.depth = True, 1
            return
        if tag in VOID:
            if not self.skip_depth and not self._skipped(tag, attrs):
                self._open(tag, attrs)
            return
        self.depth += 1
        if self.skip_depth or self._skipped(tag, attrs):
            self.skip_depth += 1
            self.stack.append((tag, False))
            return
        kept = tag in KEPT
        self.stack.append((tag, kept))
        if kept:
            self._open(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.done or not self.found or tag in VOID:
            return
        if not self.stack:  # the container's own end
            if tag == self.container:
                self.done = True
            return
        # Close up to the matching element (HTML allows unclosed <p>, <li>).
        while self.stack:
            open_tag, kept = self.stack.pop()
            self.depth -= 1
            if self.skip_depth:
                self.skip_depth -= 1
            elif kept:
                self._close(open_tag)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.done or not self.found or self.skip_depth:
            return
        self.html.append(escape(data, quote=False))
        # Code keeps its spaces (marked, so the stripping of lines leaves them alone).
        words = data.replace(" ", PRE_SPACE) if self.pre else re.sub(r"\s+", " ", data)
        self.text.append(words)
        if self.link is not None:
            self.link.text.append(data)

    def _skipped(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        classes = set((dict(attrs).get("class") or "").split())
        return tag in SKIPPED or bool(classes & SKIPPED_CLASSES)

    # -- output ----------------------------------------------------------------------------

    def _open(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        kept_attrs = ""
        if tag == "a" and values.get("href"):
            href = urljoin(self.base, values["href"] or "")
            kept_attrs = f' href="{escape(href)}"'
            self.link = _Link(href)
        elif tag == "img" and values.get("src"):
            src = urljoin(self.base, values["src"] or "")
            kept_attrs = f' src="{escape(src)}" alt="{escape(values.get("alt") or "")}"'
            kept_attrs += ' style="max-width:100%;height:auto"'
            if values.get("alt"):
                self.text.append(f"[{values['alt']}]")
        elif tag in ("td", "th") and values.get("colspan"):
            kept_attrs = f' colspan="{escape(values["colspan"] or "")}"'
        self.html.append(f"<{tag}{kept_attrs}>")
        if tag in BLOCKS or tag == "br":
            self.text.append("\n")
        if tag in ("ul", "ol"):
            self.lists.append([1 if tag == "ol" else 0])
        elif tag == "li":
            indent = INDENT * max(0, len(self.lists) - 1)
            counter = self.lists[-1] if self.lists else [0]
            bullet = f"{counter[0]}." if counter[0] else "-"
            if counter[0]:
                counter[0] += 1
            self.text.append(f"{indent}{bullet} ")
        elif tag == "pre":
            self.pre += 1
        elif tag in ("td", "th"):
            self.text.append("| ")
        elif tag == "hr":
            self.text.append("----\n")

    def _close(self, tag: str) -> None:
        self.html.append(f"</{tag}>")
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "pre":
            self.pre -= 1
        elif tag == "a" and self.link is not None:
            label = "".join(self.link.text).strip()
            if self.link.href and self.link.href != label and not self.link.href.startswith("#"):
                self.text.append(f" <{self.link.href}>")
            self.link = None
        if tag in BLOCKS:
            self.text.append("\n")
            if tag in ("h1", "h2"):
                self.text.append("=" * 8 + "\n" if tag == "h1" else "-" * 8 + "\n")

    def plain_text(self) -> str:
        """Lines without the HTML's indentation, at most one empty line between blocks and
        none between the items of a list."""
        out: list[str] = []
        for raw in "".join(self.text).split("\n"):
            line = raw.strip().replace(INDENT, "  ").replace(PRE_SPACE, " ")
            if not line:
                if out and out[-1] != "":
                    out.append("")
                continue
            if _is_item(line) and len(out) > 1 and out[-1] == "" and _is_item(out[-2]):
                out.pop()
            out.append(line)
        return "\n".join(out).strip() + "\n"


def _is_item(line: str) -> bool:
    return bool(re.match(r"\s*(-|\d+\.|\|) ", line))
