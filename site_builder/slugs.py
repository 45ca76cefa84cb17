"""URL slugs from titles; Chinese characters become pinyin so slugs stay ASCII and stable."""

from __future__ import annotations

import re
import unicodedata

from pypinyin import Style, lazy_pinyin

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def slugify(text: str, max_length: int = 60) -> str:
    """'Build a Community!' → 'build-a-community'; '社群运营' → 'she-qun-yun-ying'."""
    if _HAN.search(text):
        text = " ".join(lazy_pinyin(text, style=Style.NORMAL, errors="default"))
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0] or slug[:max_length]
    return slug
