"""Pinyin worked out in a second process while the build sets up.

Loading pypinyin's dictionaries takes a fifth of a second. A build that will romanize texts
it has no memo of (a first or clean build of a Chinese site) starts pypinyin in a second
process (site_builder/accel/processes/romanize.py, through line_helper) as early as it can:
`kp build` does it before it even imports the build. The dictionaries load there while this
process loads the configuration and reads the content; the tags and headings are then
romanized there in one request (`prefetch`), and `site_builder.slugs` asks `lookup` before
romanizing in this process (`slugs.use_lookup`).

This module imports nothing heavy: `kp build` imports it first thing.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Container, Iterable
from pathlib import Path

from site_builder.accel.line_helper import LineHelper

log = logging.getLogger("mkdocs.kp.accel")

MEMO_NAME = "romanized.json"
"""The file the pinyin memo (slugs.ROMANIZED) is kept in, in a build's cache folder."""

PREFETCHED: dict[str, str] = {}
"""Pinyin the process worked out ahead of use (`prefetch`); an entry moves to
slugs.ROMANIZED when a slug is made of it (`lookup`), so the memo keeps only texts that
were used."""

_process: LineHelper | None = None


def start() -> None:
    """Start loading pypinyin in a second process (once; not when this one has it)."""
    global _process
    if _process is None and "pypinyin" not in sys.modules:
        try:
            _process = LineHelper("site_builder.accel.processes.romanize")
        except OSError as exc:  # no second process: romanize in this one
            log.debug("kp build: no romanizer process (%s)", exc)


def start_unless_remembered(cache_dir: Path | None, *, known: bool = False) -> None:
    """`start` for a build whose pinyin is not remembered: not `known` in this process
    already, and no memo in `cache_dir` (None: a build without its cache)."""
    if not known and not (cache_dir is not None and (cache_dir / MEMO_NAME).exists()):
        start()


def running() -> bool:
    return _process is not None


def stop() -> None:
    """Stop the process, if any (before forking workers, at the end of a build)."""
    global _process
    helper, _process = _process, None
    if helper is not None:
        helper.close()


def _ask(texts: list[str]) -> list[str] | None:
    answer = _process.ask(texts) if _process is not None else None
    if not (isinstance(answer, list) and len(answer) == len(texts)):
        if _process is not None and answer is None:
            stop()  # died: romanize in this process from now on
        return None
    if not all(isinstance(value, str) for value in answer):
        return None
    return answer


def prefetch(texts: Iterable[str], known: Container[str]) -> None:
    """Have the process (when one runs) work out the pinyin of those Chinese `texts` not
    `known` yet, in one request, into PREFETCHED."""
    if _process is None:
        return
    wanted = list(
        dict.fromkeys(t for t in texts if t not in known and t not in PREFETCHED and _has_han(t))
    )
    if wanted:
        values = _ask(wanted)
        if values is not None:
            PREFETCHED.update(zip(wanted, values, strict=True))


def lookup(text: str) -> str | None:
    """The pinyin of `text` from the process (prefetched, or asked now); None when it
    has none (slugs then romanizes in this process)."""
    value = PREFETCHED.pop(text, None)
    if value is None and _process is not None:
        answer = _ask([text])
        value = answer[0] if answer is not None else None
    return value


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
"""Han characters (as site_builder.slugs romanizes them)."""


def _has_han(text: str) -> bool:
    return _HAN.search(text) is not None


_HEADING = re.compile(r"^#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_ATTR_LIST = re.compile(r"[ \t]*\{[^}]*\}$")


def heading_texts(markdown: str) -> list[str]:
    """The Chinese ATX headings of a Markdown source, as `slugs.heading_slug` will most
    likely be given them (without `#` marks and a trailing attribute list), to `prefetch`.
    A guess: a heading with inline markup is romanized when it is met instead."""
    if not _has_han(markdown):
        return []
    found = []
    for match in _HEADING.finditer(markdown):
        text = _ATTR_LIST.sub("", match.group(1)).strip()
        if text and _has_han(text):
            found.append(text)
    return found
