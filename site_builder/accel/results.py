"""What the fast build produces besides its files: each page's result, the build's stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from site_builder import leaks


@dataclass
class PageResult:
    """What rendering one page produced besides its file (which the renderer wrote), as the
    rest of the build needs it."""

    search_entries: list[dict[str, Any]]
    private_html: str | None
    romanized: list[tuple[str, str]] = field(default_factory=list)
    """Pinyin the page's headings needed (slugs.ROMANIZED), for the parent's memo."""
    leaks: list[leaks.Leak] | None = None
    """Paid text found in the page by the worker that rendered it (None: not searched)."""
    matcher: str = ""
    """Digest of the matcher `leaks` were searched with (leaks.Matcher.digest)."""
    digest: str = ""
    """sha256 of the page's output."""
    search_texts: list[str] | None = None
    """The leak check's text of each string of `search_entries` (leaks.json_texts), worked
    out by the worker that rendered the page: the check of the search index reads these
    instead of parsing the written index (precheck.search_index). None: unknown."""


@dataclass
class FastBuildStats:
    """How the fast build went: for `kp build`'s summary, its leak check and the next
    build."""

    prechecked: dict[str, list[leaks.Leak]] = field(default_factory=dict)
    """Leak check results of pages searched as they were rendered (by output path)."""
    matcher_digest: str = ""
    """Which paid text `prechecked` searched for (leaks.matcher_for)."""
    digests: dict[str, str] = field(default_factory=dict)
    """Output path (relative to the site) → sha256 of each page written: the leak check
    need not read them again, and the next build links unchanged ones."""
    search_texts: list[str] | None = field(default_factory=list)
    """`PageResult.search_texts` of every page, in the order their entries were added to
    the search index (None once a page's are unknown)."""
    linked: int = 0
    pages: int = 0
    rendered: int = 0
    cached: int = 0
    workers: int = 1
    seconds: dict[str, float] = field(default_factory=dict)
