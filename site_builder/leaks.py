"""Leak check: is any paid text of any gated page anywhere under `site/`?

For every gated page in the manifest, the paid part of its private page (between the
`PAID_START`/`PAID_END` comments) is cut into sentences and lines long enough to be
distinctive. Every file under `site/` is then searched: its raw bytes, its decoded text with
tags stripped and entities unescaped, the strings inside JSON (the search index escapes
some characters, the Chinese search index separates words with zero-width spaces), and the
decompressed content of `.gz` files (sitemap.xml.gz). Sentences that also
appear in the page's public teaser are not counted.

`kp build` runs this on the staged output before swapping it in; `kp check` runs it on the
published output.
"""

from __future__ import annotations

import contextlib
import gzip
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from kp.manifest import Manifest, read_manifest
from site_builder.teaser import PAID_END, PAID_START, paid_part

MIN_LATIN_CHARS = 24
MIN_CJK_CHARS = 8

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_BLOCK_TAG = re.compile(
    r"</?(?:p|li|h[1-6]|pre|blockquote|div|td|th|tr|table|ul|ol|dl|dd|dt|figure|figcaption"
    r"|details|summary|section|aside|article|header|footer|br|hr)\b[^>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]+>")
_HEADERLINK = re.compile(r"<a\b[^>]*\bclass=\"headerlink\"[^>]*>.*?</a>", re.DOTALL)
_BLOCK_BREAK = "\x00"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WHITESPACE = re.compile(r"\s+")
# Zero-width characters: the search plugin segments Chinese with U+200B between words.
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")
_WHITESPACE_BYTES = re.compile(rb"\s+")
_PAID_MARKERS = (PAID_START.encode(), PAID_END.encode())


@dataclass(frozen=True)
class Leak:
    """Paid text of `page_url` found in `site_file` (path relative to the site dir)."""

    site_file: str
    page_url: str | None
    private_file: str | None
    fragment: str
    matches: int

    def __str__(self) -> str:
        if self.page_url is None:
            return f"{self.site_file}: contains a private page's paid-part marker {PAID_START}"
        sample = self.fragment if len(self.fragment) <= 80 else self.fragment[:77] + "..."
        more = f" (+{self.matches - 1} more)" if self.matches > 1 else ""
        return (
            f"{self.site_file}: paid text of {self.page_url} "
            f"(private/{self.private_file}): \u201c{sample}\u201d{more}"
        )


def collapse(text: str) -> str:
    """Comparable text: zero-width characters dropped, whitespace runs made one space."""
    return _WHITESPACE.sub(" ", _INVISIBLE.sub("", text)).strip()


def html_to_lines(markup: str) -> list[str]:
    """Visible text of an HTML fragment, one entry per block element."""
    markup = _HEADERLINK.sub("", _SCRIPT.sub(" ", _COMMENT.sub("", markup)))
    text = html.unescape(_TAG.sub("", _BLOCK_TAG.sub(_BLOCK_BREAK, markup)))
    return [line for line in (collapse(part) for part in text.split(_BLOCK_BREAK)) if line]


def _distinctive(fragment: str) -> bool:
    """Long enough that finding it elsewhere is not a coincidence."""
    cjk = len(_CJK.findall(fragment))
    return cjk >= MIN_CJK_CHARS or len(fragment) >= MIN_LATIN_CHARS


def paid_fragments(private_html: str) -> list[str]:
    """Distinctive sentences of the paid part of a private page, minus those in its teaser."""
    paid = paid_part(private_html)
    teaser_text = " ".join(html_to_lines(private_html.split(PAID_START, 1)[0]))
    fragments: dict[str, None] = {}
    for line in html_to_lines(paid):
        for sentence in _SENTENCE_END.split(line):
            sentence = collapse(sentence)
            if _distinctive(sentence) and sentence not in teaser_text:
                fragments[sentence] = None
    return list(fragments)


def _json_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _json_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _json_strings(item)]
    return []


def file_views(name: str, data: bytes) -> tuple[bytes, list[str]]:
    """(raw bytes, decoded text views) of one site file, decompressing `.gz` first."""
    if name.endswith(".gz"):
        with contextlib.suppress(OSError, EOFError):  # not really gzip: search it as is
            data = gzip.decompress(data)
    text = data.decode("utf-8", errors="replace")
    views = [collapse(text), " ".join(html_to_lines(text))]
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            strings = _json_strings(json.loads(text))
        except ValueError:
            strings = []
        if strings:
            views.append(" ".join(line for s in strings for line in html_to_lines(s)))
    return _WHITESPACE_BYTES.sub(b" ", data), views


def find_leaks(site_dir: Path, private_dir: Path, manifest: Manifest | None = None) -> list[Leak]:
    """Every (site file, gated page) pair where paid text shows up in `site_dir`."""
    manifest = manifest or read_manifest(private_dir / "manifest.json")
    pages = []
    for page in manifest.gated.values():
        private_file = private_dir / page.private_file
        full = private_file.read_text(encoding="utf-8") if private_file.is_file() else ""
        pages.append((page.url, page.private_file, paid_fragments(full)))
    leaks = []
    for path in sorted(p for p in site_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(site_dir).as_posix()
        raw, views = file_views(path.name, path.read_bytes())
        if any(marker in raw for marker in _PAID_MARKERS):
            leaks.append(Leak(relative, None, None, PAID_START, 1))
        for url, private_file, fragments in pages:
            found = [
                f for f in fragments if f.encode("utf-8") in raw or any(f in view for view in views)
            ]
            if found:
                leaks.append(Leak(relative, url, private_file, found[0], len(found)))
    return leaks
