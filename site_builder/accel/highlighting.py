"""Two lookups Pygments repeats for every code block, done once per build.

pymdownx.highlight asks Pygments for a new lexer and a new HTML formatter for each code
block. `get_lexer_by_name` scans the table of every lexer Pygments knows for the alias,
and every `HtmlFormatter` works out its style's CSS classes again: on a site with a code
block in each of a thousand articles, that is a few percent of the build. Two replacements
(registered in replacements.py) memoize both where pymdownx calls them — the lexer *class*
per alias (each block still gets a lexer of its own, made with its own options) and a copy
of the formatter's class tables per style — so the HTML is exactly what it was.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


@functools.cache
def _lexer_class(alias: str) -> type:
    from pygments.lexers import get_lexer_by_name

    return type(get_lexer_by_name(alias))


def _get_lexer_by_name(_alias: str, **options: Any) -> Any:
    """`pygments.lexers.get_lexer_by_name`, with the alias looked up once."""
    from pygments.lexers import get_lexer_by_name

    if not _alias:
        return get_lexer_by_name(_alias, **options)  # raises ClassNotFound, as it would
    return _lexer_class(_alias.lower())(**options)


_STYLESHEETS: dict[tuple[Any, ...], tuple[dict[Any, str], dict[str, Any]]] = {}


def _create_stylesheet(self: Any, original: Any) -> None:
    """HtmlFormatter._create_stylesheet, computed once per style and class prefix; each
    formatter gets copies of the tables (they are its own, as before)."""
    key = (self.style, self.classprefix)
    tables = _STYLESHEETS.get(key)
    if tables is None:
        original(self)
        _STYLESHEETS[key] = (dict(self.ttype2class), dict(self.class2style))
        return
    self.ttype2class, self.class2style = dict(tables[0]), dict(tables[1])


def install_lexer_lookup() -> Callable[[], None] | None:
    """pymdownx.highlight looks lexers up through `_get_lexer_by_name` (registered in
    replacements.py as `pygments-lexer-lookup`); None without pymdownx."""
    try:
        from pymdownx import highlight
    except ImportError:
        return None
    original = highlight.get_lexer_by_name
    if original is _get_lexer_by_name:
        return None
    highlight.get_lexer_by_name = _get_lexer_by_name

    def undo() -> None:
        highlight.get_lexer_by_name = original

    return undo


def install_stylesheet_memo() -> Callable[[], None] | None:
    """HtmlFormatter works out each style's classes once (`pygments-stylesheet`)."""
    try:
        from pygments.formatters.html import HtmlFormatter
    except ImportError:
        return None
    original = vars(HtmlFormatter).get("_create_stylesheet")
    if original is None or isinstance(original, _MemoizedStylesheet):
        return None
    HtmlFormatter._create_stylesheet = _MemoizedStylesheet(original)

    def undo() -> None:
        HtmlFormatter._create_stylesheet = original

    return undo


class _MemoizedStylesheet:
    """`HtmlFormatter._create_stylesheet` through `_create_stylesheet` (a descriptor: a
    method of the formatter, as the function it stands in for)."""

    def __init__(self, original: Callable[[Any], None]) -> None:
        self.original = original

    def __get__(self, formatter: Any, owner: type | None = None) -> Callable[[], None]:
        return functools.partial(_create_stylesheet, formatter, self.original)
