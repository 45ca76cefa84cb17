"""mkdocs-material's search-index parser, fed by one regular expression instead of
`html.parser`.

Material's search plugin splits every page into sections with `Parser`, a subclass of
`html.parser.HTMLParser`; the standard library's tokenizer is written in Python and takes
most of the time the plugin spends on a page (about a fifth of a large site's build). The
HTML it reads is Python-Markdown's output, which uses a small, regular part of HTML: text,
comments, start and end tags with quoted attributes. `FastParser` tokenizes that part with
one compiled expression and makes exactly the calls `HTMLParser` would make — the same
`handle_starttag` / `handle_startendtag` / `handle_endtag` / `handle_data` with the same
arguments in the same order — so material's own handlers build the same sections. A page
with anything outside that part (a `<` that opens no tag, `<!DOCTYPE`, CDATA, a `<script>`
or `<style>` body, attributes the expression does not know) is handed to `HTMLParser`
whole, before any handler ran. tests/builder/test_search_parser.py compares the two parsers'
sections on every page of the example site and on awkward cases.
"""

from __future__ import annotations

import logging
import re
from html import escape, unescape
from typing import Any

from site_builder.verified import is_verified, source_fingerprint

log = logging.getLogger("mkdocs.plugins.kp-content")

_ATTRIBUTE = r"""[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?"""
_TOKEN = re.compile(
    rf"""
      (?P<text>[^<]+)
    | <!--(?P<comment>(?:(?!--)[^<>])*?)-->
    | <(?P<start>[a-zA-Z][a-zA-Z0-9]*)(?P<attrs>(?:\s+{_ATTRIBUTE})*)\s*(?P<selfclose>/?)>
    | </(?P<end>[a-zA-Z][a-zA-Z0-9]*)\s*>
    | (?P<other><)
    """,
    re.VERBOSE,
)
_ATTRIBUTES = re.compile(
    r"""\s+([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"""
)
# Elements whose content HTMLParser reads as raw text (3.11: script, style; later versions
# add more): their bodies are not tokenized here.
_RAW_TEXT = frozenset(
    {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript"}
    | {"plaintext"}
)

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr"}
)
"""material's `void`: elements it never treats as open."""
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_KEEP = frozenset({"p", "code", "pre", "li", "ol", "ul", "sub", "sup"})
"""material's `Parser.keep`: tags kept as markup in the index."""

Event = tuple[int, Any, Any]
_DATA, _START, _STARTEND, _END = range(4)


def _attributes(source: str) -> list[tuple[str, str | None]]:
    """HTMLParser's attribute list: names lower-cased, values unquoted and unescaped, None
    for an attribute without a value."""
    found: list[tuple[str, str | None]] = []
    if not source:
        return found
    for match in _ATTRIBUTES.finditer(source):
        name, double, single, bare = match.groups()
        value = double if double is not None else single if single is not None else bare
        found.append((name.lower(), unescape(value) if value else value))
    return found


def tokenize(markup: str) -> list[Event] | None:
    """The handler calls HTMLParser makes for `markup`, or None when `markup` has anything
    this tokenizer does not reproduce exactly."""
    events: list[Event] = []
    for match in _TOKEN.finditer(markup):
        text, _, start, attrs, selfclose, end, other = match.groups()
        if text is not None:
            events.append((_DATA, unescape(text) if "&" in text else text, None))
        elif start is not None:
            tag = start.lower()
            if tag in _RAW_TEXT:
                return None
            events.append((_STARTEND if selfclose else _START, tag, _attributes(attrs)))
        elif end is not None:
            events.append((_END, end.lower(), None))
        elif other is not None:
            return None
    return events


class _Sections:
    """Material's `Parser` handlers (handle_starttag / handle_endtag / handle_data of
    material/plugins/search/plugin.py), run over `tokenize`'s events with plain tag strings.

    Material compares its `Element`s by tag name only, so its `skip` set is in effect a set
    of tag names and `x in self.context` asks whether an open element has that tag; this
    keeps those as strings and remembers whether anything open is skipped, instead of
    intersecting sets of elements for every piece of text."""

    def __init__(self, element: type, section: type) -> None:
        self.element, self.section_class = element, section
        self.skip = {"object", "script", "style"}
        self.tags: list[str] = []  # the open elements' tags (material: self.context)
        self.elements: list[Any] = []
        self.section: Any = None
        self.data: list[Any] = []
        self.skipping = False

    def _update_skipping(self) -> None:
        skip = self.skip
        self.skipping = any(tag in skip for tag in self.tags)

    def _new_section(self, element: Any, depth: int = 0) -> Any:
        section = self.section_class(element, depth)
        self.data.append(section)
        return section

    def start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        values = dict(attrs)
        element = self.element(tag, values)
        self.tags.append(tag)
        self.elements.append(element)
        if tag in _HEADINGS:
            depth = len(self.tags)
            if "id" in values:
                if tag != "h1" and not self.data:
                    self.section = self._new_section(self.element("hx"), depth)
                self.section = self.section_class(element, depth)
                if self.data:
                    self.section.id = values["id"]
                self.data.append(self.section)
        if self.section is None:
            self.section = self._new_section(self.element("hx"))
        if tag in self.skip:
            self.skipping = True
        if "data-search-exclude" in values or values.get("class") == "linenodiv":
            self.skip.add(tag)
            self.skipping = True
            return
        if not self.skipping and tag in _KEEP:
            self._target().append(f"<{tag}>")

    def end(self, tag: str) -> None:
        tags = self.tags
        if not tags or tags[-1] != tag:
            return
        if self.section.depth > len(tags):
            for section in reversed(self.data):
                if section.depth <= len(tags):
                    self.section.depth = float("inf")
                    self.section = section
                    break
        tags.pop()
        self.elements.pop()
        if tag in self.skip:
            if tag not in ("script", "style", "object"):
                self.skip.remove(tag)
            self._update_skipping()
            return
        # (the element just closed was not skipped: whether anything open is, is unchanged)
        if not self.skipping and tag in _KEEP:
            data = self._target()
            index = data.index(f"<{tag}>")
            for position in range(index + 1, len(data)):
                if not data[position].isspace():
                    index = len(data)
                    break
            if len(data) > index:
                del data[index:]
            else:
                data.append(f"</{tag}>")

    def _target(self) -> list[str]:
        """The section's title while inside its heading, else its text."""
        return self.section.title if self.section.el.tag in self.tags else self.section.text

    def text(self, data: str) -> None:
        if self.skipping:
            return
        tags = self.tags
        if "pre" not in tags:
            data = data.replace("\n", " ") if not data.isspace() else " "
        if self.section is None:
            self.section = self._new_section(self.element("hx"))
        section = self.section
        if section.el.tag in tags:
            permalink = any(
                element.tag == "a" and element.attrs.get("class") == "headerlink"
                for element in self.elements
            )
            if not permalink:
                section.title.append(escape(data, quote=False))
        elif data.isspace():
            if not section.text or not section.text[-1].isspace() or "pre" in tags:
                section.text.append(data)
        else:
            section.text.append(escape(data, quote=False))

    def run(self, events: list[Event]) -> None:
        start, end, text = self.start, self.end, self.text
        for kind, first, second in events:
            if kind == _DATA:
                text(first)
            elif kind == _START:
                start(first, second)
            elif kind == _STARTEND:  # HTMLParser.handle_startendtag: start, then end
                start(first, second)
                end(first)
            else:
                end(first)


def fast_parser_class(parser_class: type, element: type, section: type) -> type:
    """A subclass of material's `Parser` whose `feed` tokenizes with `tokenize` and runs
    `_Sections` (its handlers, on strings) on the result."""

    class FastParser(parser_class):  # type: ignore[misc,valid-type]
        """material's search `Parser`, fed by `tokenize` (see the module docstring)."""

        def feed(self, data: str) -> None:
            fresh = not self.rawdata and not self.data and not self.context
            events = tokenize(data) if fresh else None
            if events is None:
                super().feed(data)
                return
            sections = _Sections(element, section)
            sections.run(events)
            self.data, self.section = sections.data, sections.section
            self.context = list(sections.elements)
            self.skip = set(sections.skip)

    FastParser.__name__ = FastParser.__qualname__ = f"Fast{parser_class.__name__}"
    return FastParser


VERIFIED_PLUGINS = frozenset({"cc8a3ac0a8862662d11e87fefcdaa4a42d9ebd70a7943fa921c1c80e2661730b"})
"""sha256 of mkdocs-material's search plugin module (9.8.2) whose `Parser` `_Sections`
reproduces (tests/builder/test_search_parser.py compares the two on every example page and
on generated markup). Any other version keeps its own parser until it is checked and added."""


plugin_fingerprint = source_fingerprint


def verified(search_plugin: Any) -> bool:
    """Whether `search_plugin` (the module) is a version whose internals this package
    reproduces (VERIFIED_PLUGINS)."""
    return is_verified(search_plugin, VERIFIED_PLUGINS)


def use_fast_parser() -> bool:
    """Index pages with `FastParser` in mkdocs-material's search plugin; False without the
    plugin, or when its parser is not one `_Sections` was verified against."""
    try:
        from material.plugins.search import plugin as search_plugin
    except ImportError:
        return False
    current = getattr(search_plugin, "Parser", None)
    if current is None:
        return False
    if getattr(current, "kp_fast", False):
        return True
    if not verified(search_plugin):
        log.debug("kp-content: unknown mkdocs-material search plugin; its parser is kept")
        return False
    fast = fast_parser_class(current, search_plugin.Element, search_plugin.Section)
    fast.kp_fast = True  # type: ignore[attr-defined]
    search_plugin.Parser = fast
    log.debug("kp-content: search index sections tokenized by site_builder.search_parser")
    return True
