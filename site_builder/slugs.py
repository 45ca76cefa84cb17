"""URL slugs and heading anchors from titles; Chinese becomes pinyin so both stay ASCII and
stable across rebuilds (the same title always gives the same slug)."""

from __future__ import annotations

import re
import unicodedata

from markdown.extensions.toc import slugify as markdown_slugify

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _romanize(text: str) -> str:
    """Han characters as space-separated pinyin, everything else unchanged."""
    if not _HAN.search(text):
        return text
    from pypinyin import Style, lazy_pinyin  # loads large dictionaries: only when needed

    return " ".join(lazy_pinyin(text, style=Style.NORMAL, errors="default"))


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
