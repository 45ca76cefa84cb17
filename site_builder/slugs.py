"""URL slugs and heading anchors from titles; Chinese becomes pinyin so both stay ASCII and
stable across rebuilds (the same title always gives the same slug)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from markdown.extensions.toc import slugify as markdown_slugify

from site_builder import pinyin

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


ROMANIZED: dict[str, str] = {}
"""Pinyin already computed, by text. The accelerated `kp build` keeps it in .kp-cache between
builds, so an incremental build does not load pypinyin's dictionaries (a fifth of a second)
to slug headings and tags it has seen before."""
NEWLY_ROMANIZED: list[tuple[str, str]] = []
"""Entries added to ROMANIZED since the caller last emptied this list."""

_lookup: Callable[[str], str | None] | None = None


def use_lookup(lookup: Callable[[str], str | None] | None) -> None:
    """Ask `lookup` for the pinyin of a text before computing it here (the accelerated build
    romanizes in a second process, site_builder.accel.romanizer); None: stop asking."""
    global _lookup
    _lookup = lookup


def _romanize(text: str) -> str:
    """Han characters as space-separated pinyin, everything else unchanged."""
    if not _HAN.search(text):
        return text
    known = ROMANIZED.get(text)
    if known is not None:
        return known
    value = _lookup(text) if _lookup is not None else None
    if value is None:
        value = pinyin.pinyin_of(text)
    ROMANIZED[text] = value
    NEWLY_ROMANIZED.append((text, value))
    return value


def slugify(text: str, max_length: int = 60) -> str:
    """'Build a Community!' → 'build-a-community'; '社群运营' → 'she-qun-yun-ying'."""
    text = _romanize(text)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0] or slug[:max_length]
    return slug


def heading_slug(value: str, separator: str) -> str:
    """Heading anchors (`toc: slugify:` in mkdocs.yml): Python-Markdown's own slugs for
    English headings, pinyin for Chinese ones ('你会学到什么' → 'ni-hui-xue-dao-shen-me'),
    where the default would drop every character and number the anchors `_1`, `_2`…"""
    return markdown_slugify(_romanize(value), separator)
