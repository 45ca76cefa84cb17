"""Two lookups Pygments repeats for every code block, done once per build.

pymdownx.highlight asks Pygments for a new lexer and a new HTML formatter for each code
block. `get_lexer_by_name` scans the table of every lexer Pygments knows for the alias,
and every `HtmlFormatter` works out its style's CSS classes again: on a site with a code
block in each of a thousand articles, that is a few percent of the build. `speed_up()`
memoizes both where pymdownx calls them — the lexer *class* per alias (each block still
gets a lexer of its own, made with its own options) and a copy of the formatter's class
tables per style — so the HTML is exactly what it was.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

log = logging.getLogger("mkdocs.plugins.kp-content")


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


def speed_up() -> bool:
    """Install both memos (False when pymdownx.highlight or Pygments is missing)."""
    try:
        from pygments.formatters.html import HtmlFormatter
        from pymdownx import highlight
    except ImportError:
        return False
    if getattr(highlight, "get_lexer_by_name", None) is not _get_lexer_by_name:
        highlight.get_lexer_by_name = _get_lexer_by_name
    if not getattr(HtmlFormatter._create_stylesheet, "kp_memo", False):
        original = HtmlFormatter._create_stylesheet

        def memoized(self: Any) -> None:
            _create_stylesheet(self, original)

        memoized.kp_memo = True  # type: ignore[attr-defined]
        HtmlFormatter._create_stylesheet = memoized  # type: ignore[method-assign]
        log.debug("kp-content: Pygments lexer and style lookups memoized")
    return True
