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

import re
from collections.abc import Callable
from html import escape, unescape
from html.parser import HTMLParser
from typing import Any

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
            if tag in _RAW_TEXT and not markup.startswith(f"</{tag}>", match.end()):
                return None  # an empty one (`<script src=…></script>`) reads the same either way
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


class _TokenizingFeed(HTMLParser):
    """What `fast_parser_class` adds to material's `Parser`: a `feed` that tokenizes with
    `tokenize` and runs `_Sections` (its handlers, on strings) on the result."""

    kp_fast = True
    kp_element: type
    kp_section: type
    # material's Parser state, set by its __init__
    data: list[Any]
    section: Any
    context: list[Any]
    skip: set[str]

    def feed(self, data: str) -> None:
        fresh = not self.rawdata and not self.data and not self.context
        events = tokenize(data) if fresh else None
        if events is None:
            super().feed(data)  # material's Parser, i.e. HTMLParser
            return
        sections = _Sections(self.kp_element, self.kp_section)
        sections.run(events)
        self.data, self.section = sections.data, sections.section
        self.context = list(sections.elements)
        self.skip = set(sections.skip)


def fast_parser_class(
    parser_class: type[HTMLParser], element: type, section: type
) -> type[HTMLParser]:
    """A subclass of material's `Parser` (`parser_class`, whose sections are made of
    `element` and `section`) fed by `tokenize` (see the module docstring)."""
    name = f"Fast{parser_class.__name__}"
    attributes = {"kp_original": parser_class, "kp_element": element, "kp_section": section}
    return type(name, (_TokenizingFeed, parser_class), attributes)


def install() -> Callable[[], None] | None:
    """Index pages with `FastParser` in mkdocs-material's search plugin (registered in
    replacements.py as `search-parser`); returns how to put material's own back, or None
    without the plugin."""
    try:
        from material.plugins.search import plugin as search_plugin
    except ImportError:
        return None
    current = getattr(search_plugin, "Parser", None)
    if not isinstance(current, type):
        return None
    original = getattr(current, "kp_original", current)
    search_plugin.Parser = _fast_parser(original, search_plugin.Element, search_plugin.Section)

    def undo() -> None:
        search_plugin.Parser = original

    return undo


_FAST_CLASSES: dict[type[HTMLParser], type[HTMLParser]] = {}


def _fast_parser(parser_class: type[HTMLParser], element: type, section: type) -> type[HTMLParser]:
    """`fast_parser_class`, made once per original class."""
    fast = _FAST_CLASSES.get(parser_class)
    if fast is None:
        fast = _FAST_CLASSES[parser_class] = fast_parser_class(parser_class, element, section)
    return fast
