"""URL slugs and heading anchors from titles; Chinese becomes pinyin so both stay ASCII and
stable across rebuilds (the same title always gives the same slug)."""

from __future__ import annotations

import logging
import re
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from markdown.extensions.toc import slugify as markdown_slugify

from site_builder import pinyin
from site_builder.line_helper import LineHelper

log = logging.getLogger("mkdocs.plugins.kp-content")

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


ROMANIZED: dict[str, str] = {}
"""Pinyin already computed, by text. `kp build` keeps it in .kp-cache between builds, so an
incremental build does not load pypinyin's dictionaries (a fifth of a second) to slug
headings and tags it has seen before."""
NEWLY_ROMANIZED: list[tuple[str, str]] = []
"""Entries added to ROMANIZED since the caller last emptied this list."""
PREFETCHED: dict[str, str] = {}
"""Pinyin the romanizer process worked out ahead of use (`prefetch`); an entry moves to
ROMANIZED when a slug is made of it, so the memo keeps only texts that were used."""


_ROMANIZER_CODE = """
import json, sys
from site_builder.pinyin import pinyin_of
pinyin_of("\u4e2d")  # load the dictionaries now, before the first request
for line in sys.stdin:
    texts = json.loads(line)
    values = [pinyin_of(text) for text in texts]
    sys.stdout.write(json.dumps(values, ensure_ascii=False) + "\\n")
    sys.stdout.flush()
"""

_romanizer: LineHelper | None = None


def start_romanizer() -> None:
    """Start loading pypinyin in a second process (line_helper), for a build that will
    romanize texts it has no memo of (a first or clean build of a Chinese site): its
    dictionaries load there while this process loads the configuration and reads the
    content, and the tags and headings are romanized there (`prefetch`)."""
    global _romanizer
    if _romanizer is None and "pypinyin" not in sys.modules:
        try:
            _romanizer = LineHelper(_ROMANIZER_CODE)
        except OSError as exc:  # no second process: romanize in this one
            log.debug("kp-content: no romanizer process (%s)", exc)


MEMO_NAME = "romanized.json"
"""The file ROMANIZED is kept in, in a build's cache folder (fastbuild)."""


def start_romanizer_unless_remembered(cache_dir: Path, cache: bool) -> None:
    """`start_romanizer` for a build whose pinyin is not remembered: none in this process,
    and (when the build uses its cache) no memo in `cache_dir`."""
    if not ROMANIZED and not (cache and (cache_dir / MEMO_NAME).exists()):
        start_romanizer()


def stop_romanizer() -> None:
    """Stop the romanizer process, if any (before forking workers, at the end of a build)."""
    global _romanizer
    helper, _romanizer = _romanizer, None
    if helper is not None:
        helper.close()


def _ask_romanizer(texts: list[str]) -> list[str] | None:
    answer = _romanizer.ask(texts) if _romanizer is not None else None
    if not (isinstance(answer, list) and len(answer) == len(texts)):
        if _romanizer is not None and answer is None:
            stop_romanizer()  # died: romanize in this process from now on
        return None
    if not all(isinstance(value, str) for value in answer):
        return None
    return answer


def prefetch(texts: Iterable[str]) -> None:
    """Have the romanizer process (when one runs) work out the pinyin of those `texts`
    not known yet, in one request, into PREFETCHED."""
    if _romanizer is None:
        return
    wanted = list(
        dict.fromkeys(
            t for t in texts if _HAN.search(t) and t not in ROMANIZED and t not in PREFETCHED
        )
    )
    if wanted:
        values = _ask_romanizer(wanted)
        if values is not None:
            PREFETCHED.update(zip(wanted, values, strict=True))


_HEADING = re.compile(r"^#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_ATTR_LIST = re.compile(r"[ \t]*\{[^}]*\}$")


def heading_texts(markdown: str) -> list[str]:
    """The Chinese ATX headings of a Markdown source, as `heading_slug` will most likely be
    given them (without `#` marks and a trailing attribute list), to `prefetch`. A guess:
    a heading with inline markup is romanized when it is met instead."""
    if not _HAN.search(markdown):
        return []
    found = []
    for match in _HEADING.finditer(markdown):
        text = _ATTR_LIST.sub("", match.group(1)).strip()
        if text and _HAN.search(text):
            found.append(text)
    return found


def _romanize(text: str) -> str:
    """Han characters as space-separated pinyin, everything else unchanged."""
    if not _HAN.search(text):
        return text
    known = ROMANIZED.get(text)
    if known is not None:
        return known
    value = PREFETCHED.pop(text, None)
    if value is None and _romanizer is not None:
        answer = _ask_romanizer([text])
        value = answer[0] if answer is not None else None
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
