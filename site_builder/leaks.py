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
import hashlib
import html
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ahocorasick_rs import BytesAhoCorasick

from kp_contract.manifest import Manifest, read_manifest
from site_builder.teaser import PAID_END, PAID_START, paid_part

MIN_LATIN_CHARS = 24
MIN_CJK_CHARS = 8

# For `html_to_lines`: no pattern spans U+0000, the block break it puts where block tags
# were, so a line never runs past one.
_COMMENT = re.compile(r"<!--[^\x00]*?-->")
_SCRIPT = re.compile(r"<(script|style)\b[^>\x00]*>[^\x00]*?</\1\s*>", re.IGNORECASE)
_BLOCK_NAMES = (
    "p|li|h[1-6]|pre|blockquote|div|td|th|tr|table|ul|ol|dl|dd|dt|figure|figcaption"
    "|details|summary|section|aside|article|header|footer|br|hr"
)
# HTML tag names are ASCII case-insensitive: each letter is spelled [xX] rather than using
# re.IGNORECASE, which is twice as slow on a rendered page (and also folds non-ASCII).
_BLOCK_TAG = re.compile(
    "</?(?:"
    + re.sub("[a-z]", lambda m: f"[{m.group()}{m.group().upper()}]", _BLOCK_NAMES)
    + r")\b[^>\x00]*>"
)
_TAG = re.compile(r"<[^>\x00]+>")
_HEADERLINK = re.compile(r"<a\b[^>\x00]*\bclass=\"headerlink\"[^>\x00]*>[^\x00]*?</a>")
_BLOCK_BREAK = "\x00"
# For `visible_text`: the same, without U+0000 exclusions (`[^>]` is a fast path of `re`).
_ANY_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_ANY_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_ANY_TAG = re.compile(r"<[^>]+>")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Zero-width characters: the search plugin segments Chinese with U+200B between words.
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")
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


_INVISIBLE_CHARS = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")


def _visible(text: str) -> str:
    """`text` without zero-width characters (looked for first: most pages have none)."""
    if any(char in text for char in _INVISIBLE_CHARS):
        return _INVISIBLE.sub("", text)
    return text


def collapse(text: str) -> str:
    """Comparable text: zero-width characters dropped, whitespace runs made one space.
    (`str.split()` and the regular expression `\\s` know the same whitespace characters; the
    split is several times faster on the long runs of indentation in rendered pages.)"""
    return " ".join(_visible(text).split())


def html_to_lines(markup: str) -> list[str]:
    """Visible text of an HTML fragment, one entry per block element."""
    markup = _HEADERLINK.sub("", _SCRIPT.sub(" ", _COMMENT.sub("", markup)))
    text = html.unescape(_TAG.sub("", _BLOCK_TAG.sub(_BLOCK_BREAK, markup)))
    text = _visible(text)
    return [line for line in (" ".join(part.split()) for part in text.split(_BLOCK_BREAK)) if line]


def visible_text(markup: str) -> str:
    """The text a browser shows of `markup`, whitespace collapsed, for finding paid fragments
    in: `html_to_lines` joined, except that every tag goes (block tags too, and the
    headerlink's ¶ stays), so the texts of two blocks may touch. A fragment never spans
    blocks, so it is found in both alike; this takes a third of the time."""
    markup = _ANY_SCRIPT.sub(" ", _ANY_COMMENT.sub("", markup))
    return collapse(html.unescape(_ANY_TAG.sub("", markup)))


def _distinctive(fragment: str) -> bool:
    """Long enough that finding it elsewhere is not a coincidence."""
    cjk = len(_CJK.findall(fragment))
    return cjk >= MIN_CJK_CHARS or len(fragment) >= MIN_LATIN_CHARS


FRAGMENTS: dict[bytes, list[str]] = {}
"""`paid_fragments` of private pages already seen, by digest (kept in .kp-cache by
`kp build`: the same page always gives the same fragments)."""


def paid_fragments(private_html: str) -> list[str]:
    """Distinctive sentences of the paid part of a private page, minus those in its teaser."""
    key = hashlib.blake2b(private_html.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    USED_FRAGMENTS.add(key)
    known = FRAGMENTS.get(key)
    if known is None:
        known = FRAGMENTS[key] = _paid_fragments(private_html)
    return list(known)


USED_FRAGMENTS: set[bytes] = set()


def _paid_fragments(private_html: str) -> list[str]:
    paid = paid_part(private_html)
    teaser_text = " ".join(html_to_lines(private_html.split(PAID_START, 1)[0]))
    fragments: dict[str, None] = {}
    for line in html_to_lines(paid):
        for sentence in _SENTENCE_END.split(line):
            sentence = collapse(sentence)
            if _distinctive(sentence) and sentence not in teaser_text:
                fragments[sentence] = None
    return list(fragments)


def json_view(texts: Iterable[str]) -> str:
    """The text the check reads of a JSON document: the `visible_text` of each of its
    strings (in document order), joined."""
    return " ".join(text for text in texts if text)


class _NotJSON(Exception):
    """A value `json.dumps` would only write through its `default` (as some other text)."""


def _collect_strings(value: object, found: list[str]) -> None:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_strings(item, found)
    elif isinstance(value, list | tuple):  # (a tuple is written as an array)
        for item in value:
            _collect_strings(item, found)
    elif not (value is None or isinstance(value, int | float)):  # (bool is an int)
        raise _NotJSON


def json_strings(value: object) -> list[str] | None:
    """Every string `json.dumps(value)` writes, in the order it writes them (for a parsed
    document: its strings in document order); None when `value` holds something JSON has
    no type for."""
    strings: list[str] = []
    try:
        _collect_strings(value, strings)
    except _NotJSON:
        return None
    return strings


def json_texts(value: object) -> list[str] | None:
    """`visible_text` of every string `json.dumps(value)` writes, in the order it writes
    them — what the check of the written file would read of it, worked out without
    writing and parsing it (`kp build`'s workers do this for their pages' search
    entries). None when `value` holds something JSON has no type for."""
    strings = json_strings(value)
    return None if strings is None else [visible_text(string) for string in strings]


def file_views(name: str, data: bytes) -> tuple[bytes, list[str]]:
    """(raw bytes, decoded text views) of one site file, decompressing `.gz` first: the text
    with whitespace collapsed and the text a browser shows, or for JSON (the search index)
    the text of its strings, whose escapes (\\u…, \\") the raw text keeps."""
    if name.endswith(".gz"):
        with contextlib.suppress(OSError, EOFError):  # not really gzip: search it as is
            data = gzip.decompress(data)
    text = data.decode("utf-8", errors="replace")
    strings: list[str] = []
    if text.lstrip().startswith(("{", "[")):
        try:
            strings = json_strings(json.loads(text)) or []
        except ValueError:
            strings = []
    # JSON (the search index): the text of its decoded strings, whose escapes (\u…, \")
    # the raw text keeps; anything else: its text as a browser shows it.
    if strings:  # every character of a JSON document that is text is inside a string
        return data, [json_view(map(visible_text, strings))]
    flat = collapse(text)  # `visible_text` gives the same for the shorter text
    return data, [flat, visible_text(flat)]


@dataclass(frozen=True)
class _Gated:
    url: str
    private_file: str
    fragments: list[str]


class _Matcher:
    """Every paid fragment of every gated page in one Aho-Corasick automaton: a file is
    searched once, in time linear in its length, however many lessons the site sells."""

    def __init__(self, pages: list[_Gated]) -> None:
        self.pages = pages
        self.owners: list[tuple[int, int]] = []  # pattern -> (page, fragment position)
        patterns: list[str] = []
        for number, page in enumerate(pages):
            for position, fragment in enumerate(page.fragments):
                patterns.append(fragment)
                self.owners.append((number, position))
        # Matched on UTF-8 bytes: the same matches as on text, without mapping offsets
        # back to characters (a third faster on the search index).
        encoded = [pattern.encode("utf-8", "surrogatepass") for pattern in patterns]
        self.automaton = BytesAhoCorasick(encoded) if patterns else None
        digest = hashlib.sha256(b"leaks-v2")  # v2: visible_text
        for page in pages:
            digest.update(f"{page.url}\0{page.private_file}\0".encode())
            digest.update("\0".join(page.fragments).encode() + b"\1")
        self.digest = digest.hexdigest()
        """Identifies the paid text searched for: a cached verdict is valid only for it."""

    def __reduce__(self) -> tuple[type[_Matcher], tuple[list[_Gated]]]:
        """Pickled as its pages: the automaton is built again from them."""
        return (type(self), (self.pages,))

    def leaks_in(self, relative: str, data: bytes) -> list[Leak]:
        raw, views = file_views(relative, data)
        return self._search(relative, any(m in raw for m in _PAID_MARKERS), views)

    def leaks_in_json(self, relative: str, data: bytes, texts: list[str]) -> list[Leak]:
        """`leaks_in` of a JSON file whose bytes are `data`, given the `json_texts` of the
        value it was written from (the search index: `kp build` knows them from its
        pages), so it need not be parsed again."""
        return self._search(relative, any(m in data for m in _PAID_MARKERS), [json_view(texts)])

    def _search(self, relative: str, marked: bool, views: list[str]) -> list[Leak]:
        leaks = []
        if marked:
            leaks.append(Leak(relative, None, None, PAID_START, 1))
        if self.automaton is None:
            return leaks
        found: dict[int, set[int]] = {}
        for view in views:
            haystack = view.encode("utf-8", "surrogatepass")
            for pattern, _, _ in self.automaton.find_matches_as_indexes(haystack, overlapping=True):
                owner, position = self.owners[pattern]
                found.setdefault(owner, set()).add(position)
        for number in sorted(found):
            page, positions = self.pages[number], sorted(found[number])
            fragment = page.fragments[positions[0]]
            leaks.append(Leak(relative, page.url, page.private_file, fragment, len(positions)))
        return leaks


def matcher_for(pages: list[tuple[str, str, str]]) -> Matcher:
    """The matcher `find_leaks` builds, from (url, private file, private html) of every
    gated page in manifest order: `kp build` checks pages as they are rendered with it."""
    return _Matcher([_Gated(url, name, paid_fragments(html)) for url, name, html in pages])


Matcher = _Matcher


class VerdictCache(Protocol):
    """Remembers files known to be clean (by content digest and `_Matcher.digest`)."""

    def clean(self, keys: list[str]) -> set[str]:
        """The keys among `keys` found clean before."""
        ...

    def update(self, clean: list[str], current: set[str]) -> None:
        """Remember `clean`; forget verdicts not in `current` (this build's files)."""
        ...


def _file_key(matcher_digest: str, relative: str, content_digest: str) -> str:
    digest = hashlib.sha256(matcher_digest.encode())
    digest.update(f"{relative}\0{content_digest}".encode())
    return digest.hexdigest()


def read_file(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


FileSearch = Callable[["Matcher", list[tuple[str, str]]], list["Leak"]]
"""Searches (relative name, path) pairs of files with a matcher: `search_files`, or the
accelerated build's search in worker processes (site_builder.accel.leak_search)."""


def search_files(matcher: Matcher, files: list[tuple[str, str]]) -> list[Leak]:
    """Search `files` one after the other, in this process."""
    return [leak for rel, path in files for leak in matcher.leaks_in(rel, read_file(path))]


def site_files(root: Path) -> list[tuple[str, str]]:
    """(path relative to `root`, path) of every file under `root`, in path order (by
    component). `os.scandir` knows which entries are files without a `stat` per file."""
    found: list[tuple[str, str]] = []
    pending = [(str(root), "")]
    while pending:
        directory, prefix = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                relative = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, relative + "/"))
                elif entry.is_file():
                    found.append((relative, entry.path))
    found.sort(key=lambda item: item[0].split("/"))
    return found


def group_patterns(manifest: Manifest) -> list[_Gated]:
    """Members-only groups' join links, searched for like paid text: a group's link in
    `site/` lets anyone in. Reported as the page `group:<name>`."""
    found = []
    for name, group in manifest.groups.items():
        urls = {group.join_url, *group.join_urls.values()}
        found.append(
            _Gated(
                f"group:{name}",
                group.qr_file or "manifest.json",
                sorted({form for url in urls for form in (url, html.escape(url))}),
            )
        )
    return found


def group_image_copies(
    private_dir: Path, manifest: Manifest, files: list[tuple[str, str]]
) -> list[Leak]:
    """Files of `site/` that are a members-only group's QR image (same bytes)."""
    images: dict[int, dict[str, str]] = {}
    for name, group in manifest.groups.items():
        image = private_dir / group.qr_file if group.qr_file else None
        if image is not None and image.is_file():
            data = image.read_bytes()
            images.setdefault(len(data), {})[hashlib.sha256(data).hexdigest()] = name
    if not images:
        return []
    found = []
    for relative, path in files:
        same_size = images.get(os.stat(path).st_size)
        if same_size:
            owner = same_size.get(hashlib.sha256(read_file(path)).hexdigest())
            if owner is not None:
                qr_file = manifest.groups[owner].qr_file
                found.append(Leak(relative, f"group:{owner}", qr_file, "(its QR image)", 1))
    return found


def find_leaks(
    site_dir: Path,
    private_dir: Path,
    manifest: Manifest | None = None,
    *,
    search: FileSearch = search_files,
    cache: VerdictCache | None = None,
    digests: dict[str, str] | None = None,
    prechecked: tuple[str, dict[str, list[Leak]]] | None = None,
    files: list[tuple[str, str]] | None = None,
) -> list[Leak]:
    """Every (site file, gated page) pair where paid text shows up in `site_dir`.

    `search` searches the files (`search_files`: one after the other); `cache` skips files
    whose exact bytes
    were found clean before, searched for the same paid text (incremental builds);
    `digests` are the sha256 of files the caller just wrote (relative path → hex), so they
    are not read again to be identified; `prechecked` is (matcher digest, leaks by file) of
    files the caller already searched with `matcher_for` — used only if that matcher looked
    for exactly the paid text this check does; `files` is `site_files(site_dir)` when the
    caller listed them already.
    """
    manifest = manifest or read_manifest(private_dir / "manifest.json")
    pages = []
    for page in manifest.gated.values():
        private_file = private_dir / page.private_file
        full = private_file.read_text(encoding="utf-8") if private_file.is_file() else ""
        pages.append(_Gated(page.url, page.private_file, paid_fragments(full)))
    pages += group_patterns(manifest)
    matcher = _Matcher(pages)
    files = site_files(site_dir) if files is None else files
    done: dict[str, list[Leak]] = {}
    if prechecked is not None and prechecked[0] == matcher.digest:
        present = {rel for rel, _ in files}
        done = {rel: found for rel, found in prechecked[1].items() if rel in present}
    leaks = [leak for found in done.values() for leak in found]
    if cache is None:
        leaks += search(matcher, [(r, p) for r, p in files if r not in done])
    else:
        written = digests or {}
        keys = {
            rel: _file_key(
                matcher.digest,
                rel,
                written.get(rel) or hashlib.sha256(read_file(path)).hexdigest(),
            )
            for rel, path in files
        }
        known = cache.clean(list(keys.values()))
        todo = [(rel, path) for rel, path in files if keys[rel] not in known and rel not in done]
        leaks += search(matcher, todo)
        leaky = {leak.site_file for leak in leaks}
        searched = [rel for rel, _ in todo] + list(done)
        cache.update([keys[rel] for rel in searched if rel not in leaky], set(keys.values()))
    leaks += group_image_copies(private_dir, manifest, files)
    order = {rel: number for number, (rel, _) in enumerate(files)}
    page_order = {page.url: number for number, page in enumerate(pages)}
    return sorted(
        leaks, key=lambda leak: (order[leak.site_file], page_order.get(leak.page_url or "", -1))
    )
