"""Memos the fast build keeps in .kp-cache: work whose result depends only on its input
text. All are keyed by that exact text, so an entry is never stale:

- front matter parsed by kp-content (frontmatter.PARSED) and by mkdocs (`PAGE_META`,
  used by `read_source`, mkdocs' `Page.read_source`);
- pinyin of tags and headings (slugs.ROMANIZED);
- the paid fragments of private pages (leaks.FRAGMENTS).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.pages import Page
from mkdocs.utils.meta import YAML_RE, get_data

from site_builder import frontmatter, leaks, slugs
from site_builder.accel.romanizer import MEMO_NAME

PAGE_META: dict[str, bytes] = {}
"""mkdocs' own parse of front matter blocks (`mkdocs.utils.meta.get_data`), by block text,
pickled (as frontmatter.PARSED)."""


def read_source(page: Page, config: MkDocsConfig) -> str | None:
    """`page.read_source(config)`, reusing mkdocs' parse of an unchanged front matter block
    (parsing YAML is most of the time it takes to read a large site's pages). Returns the
    block, the memos' key."""
    source = config.plugins.on_page_read_source(page=page, config=config)
    if source is None:
        source = page.file.content_string
    match = YAML_RE.match(source)
    known = PAGE_META.get(match.group(1)) if match else None
    if match and known is not None:
        page.markdown = source[match.end() :].lstrip("\n")
        page.meta = pickle.loads(known)  # noqa: S301 - our own memo
        return match.group(1)
    page.markdown, page.meta = get_data(source)
    if match and page.meta and page.markdown == source[match.end() :].lstrip("\n"):
        with contextlib.suppress(pickle.PicklingError, TypeError, AttributeError):
            PAGE_META[match.group(1)] = pickle.dumps(page.meta, protocol=pickle.HIGHEST_PROTOCOL)
    return match.group(1) if match else None


def load_leak_memo(cache_dir: Path) -> None:
    """The paid fragments of private pages (leaks.FRAGMENTS) the last build worked out."""
    try:
        data = pickle.loads((cache_dir / "leak-memo.pickle").read_bytes())  # noqa: S301
    except Exception:  # noqa: BLE001 - a damaged memo is an empty one
        data = {}
    if isinstance(data, dict) and isinstance(data.get("fragments"), dict):
        leaks.FRAGMENTS.update(data["fragments"])
    _LOADED_MEMO["fragments"] = set(leaks.FRAGMENTS)


_LOADED_MEMO: dict[str, Any] = {}


def save_leak_memo(cache_dir: Path) -> None:
    """Keep the paid fragments of the private pages in use, when this build changed them."""
    fragments = {k: v for k, v in leaks.FRAGMENTS.items() if k in leaks.USED_FRAGMENTS}
    if set(fragments) != _LOADED_MEMO.get("fragments"):
        data = {"fragments": fragments}
        replace_file(cache_dir / "leak-memo.pickle", pickle.dumps(data))
        _LOADED_MEMO["fragments"] = set(fragments)


def romanized_memo_path(cache_dir: Path) -> Path:
    """Where the pinyin memo (slugs.ROMANIZED) of a build's cache is kept."""
    return cache_dir / MEMO_NAME


def load_memos(cache_dir: Path) -> None:
    """Pinyin and parsed front matter of earlier builds (slugs.ROMANIZED,
    frontmatter.PARSED): both are keyed by their exact input text, so always valid."""
    try:
        data = json.loads(romanized_memo_path(cache_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if isinstance(data, dict):
        slugs.ROMANIZED.update({k: v for k, v in data.items() if isinstance(v, str)})
    try:
        parsed = pickle.loads((cache_dir / "frontmatter.pickle").read_bytes())  # noqa: S301
    except Exception:  # noqa: BLE001 - a damaged memo is an empty one
        parsed = {}
    if isinstance(parsed, dict):
        for memo, part in ((frontmatter.PARSED, "content"), (PAGE_META, "mkdocs")):
            entries = parsed.get(part)
            if isinstance(entries, dict):
                memo.update((k, v) for k, v in entries.items() if isinstance(v, bytes))


def replace_file(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def save_memos(cache_dir: Path, sources: set[str]) -> None:
    """Save the memos; front matter only of this build's files (the cache never grows)."""
    text = json.dumps(slugs.ROMANIZED, ensure_ascii=False).encode("utf-8")
    replace_file(romanized_memo_path(cache_dir), text)
    parsed = {
        "content": {b: data for b, data in frontmatter.PARSED.items() if b in sources},
        "mkdocs": {b: data for b, data in PAGE_META.items() if b in sources},
    }
    replace_file(cache_dir / "frontmatter.pickle", pickle.dumps(parsed))
