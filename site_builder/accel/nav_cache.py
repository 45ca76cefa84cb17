"""Render the sidebar navigation once for all the pages that would render it identically.

mkdocs-material renders the primary navigation into every page, through recursive macros
that cost several milliseconds a page even once the navigation is pruned. For a page that is
not listed in the navigation (an article, a later archive or tag page) the result depends
only on the navigation itself (one per language), which sections are open (the page's
ancestors) and the page's directory (links are relative to it): every article of a
language renders the same sidebar. `NavCache` keeps that HTML per such key; themes/partials/
nav.html asks it through a `{% call %}` block and renders normally on a miss, or when the
kp-content plugin was given no cache (`install`, registered in replacements.py as
`sidebar-cache`: what it relies on is mkdocs-material's partials/nav-item.html).

Pages listed in the navigation (their own link is highlighted, their table of contents may be
folded into it) are always rendered in full.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page

from site_builder.plugins.content import ContentPlugin

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig


class NavCache:
    """`kp_nav_cache(page, nav)` in templates: cached sidebar HTML, or `caller()`'s."""

    def __init__(self) -> None:
        self._html: dict[Hashable, str] = {}
        self._listed: dict[int, tuple[Navigation, set[int]]] = {}

    def clear(self) -> None:
        self._html.clear()
        self._listed.clear()

    def _is_listed(self, page: Page, nav: Navigation) -> bool:
        known = self._listed.get(id(nav))
        if known is None or known[0] is not nav:
            known = (nav, {id(p) for p in nav.pages})
            self._listed[id(nav)] = known
        return id(page) in known[1]

    def key(self, page: Any, nav: Any) -> Hashable | None:
        """What the sidebar of `page` depends on, or None when it must be rendered."""
        if not isinstance(page, Page) or not isinstance(nav, Navigation):
            return None
        if self._is_listed(page, nav):
            return None
        sections = tuple(id(section) for section in page.ancestors)
        return (id(nav), posixpath.dirname(page.url.rstrip("/")), sections)

    def __call__(self, page: Any, nav: Any, caller: Callable[[], str]) -> str:
        key = self.key(page, nav)
        if key is None:
            return caller()
        html = self._html.get(key)
        if html is None:
            html = self._html[key] = caller()
        return html


def install(config: MkDocsConfig | None) -> Callable[[], None] | None:
    """Give the site's kp-content plugin a `NavCache`; None without the plugin."""
    plugins = config.plugins.values() if config is not None else ()
    plugin = next((p for p in plugins if isinstance(p, ContentPlugin)), None)
    if plugin is None:
        return None
    previous = plugin.nav_cache
    plugin.nav_cache = NavCache()

    def undo() -> None:
        plugin.nav_cache = previous

    return undo
