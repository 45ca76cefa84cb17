"""`kp build`'s fast path: mkdocs' own build steps, with a page cache and both cores.

This is `mkdocs.commands.build.build` (mkdocs 1.6) step for step — the same plugin events in
the same order, the same template context, byte-identical output (tests/builder/
test_fastbuild.py compares them) — with these differences:

1. A page whose inputs are unchanged since the last build is not rendered again: its
   published file is hard-linked from the live site (when it is still the file that build
   wrote: same inode, size and mtime; by a second process while the build goes on,
   `_Linker`), and its search-index entries and (for gated pages)
   its private full version come from `.kp-cache/pages.sqlite3`. A page's key hashes its
   own source together with everything any page's output can depend on: the code and
   theme, the configuration files, and the site's structure (every file's URL and every
   page's front matter — titles, dates, tags and prices appear in navigation, archives,
   lesson lists and previous/next links). Editing an article's body re-renders that
   article only; editing a title or adding an article re-renders everything (rare, and
   still correct). Outputs themselves are not cached: a second copy of every page costs a
   clean build more than it ever saves, and a page whose published file was removed or
   edited by hand is simply rendered again.
2. Pages that must be rendered are rendered by worker processes forked after the navigation
   and theme are set up (one per core), each writing the page's file and returning the
   plugin state the build needs later (search entries, private version); the parent merges
   those in page order, so the output does not depend on which worker rendered what.
   Gated pages are rendered first; once they are all in, the parent hands the workers the
   matcher of their paid text (`_MatcherHandoff`), and the workers search every page they
   render after that for it (`leaks.matcher_for`). Workers also work out the leak check's
   text of their pages' search entries (`PageResult.search_texts`, cached with the page),
   so the parent searches the search index from those once it is written
   (`_precheck_search_index`) instead of parsing 10 MB of JSON again.
3. Work whose result only depends on its input text is remembered in `.kp-cache`: parsed
   front matter, pinyin, compiled templates, the installed theme's file list, the paid
   fragments of private pages. One Markdown converter per worker is reset between pages
   instead of being built for each, and skips inline patterns that cannot match
   (site_builder/inline_patterns.py). A first build romanizes Chinese tags and headings
   in a second process that loads pypinyin while this one sets up (`slugs.prefetch`).

All this only applies to the plugins whose per-page state is known here (mkdocs-material's
search and kp-content); with any other plugin, or Markdown extensions that read other files,
`eligible` says why and `kp build` runs the plain mkdocs build.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import itertools
import json
import logging
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import markdown
from mkdocs.commands.build import _build_theme_template, get_context
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import Abort, BuildError
from mkdocs.structure.files import Files, InclusionLevel, get_files, set_exclusions
from mkdocs.structure.nav import Navigation, get_navigation
from mkdocs.structure.pages import (
    Page,
    _ExtractAnchorsTreeprocessor,
    _ExtractTitleTreeprocessor,
    _RawHTMLPreprocessor,
    _RelativePathTreeprocessor,
)
from mkdocs.structure.toc import get_toc
from mkdocs.utils import clean_directory, write_file
from mkdocs.utils.meta import YAML_RE, get_data

from site_builder import frontmatter, inline_patterns, leaks, segmenter, slugs
from site_builder.plugins.content import ContentPlugin
from site_builder.workers import fork_pool

log = logging.getLogger("mkdocs.kp.fastbuild")

CACHE_FORMAT = 3
SEARCH_PLUGINS = ("material/search", "search")
SEARCH_INDEX = "search/search_index.json"
"""Where the search plugin writes its index, relative to the site."""
KNOWN_PLUGINS = (*SEARCH_PLUGINS, "kp-content")
# Markdown extensions that read files other than the page (their inputs are not in the key).
UNCACHEABLE_EXTENSIONS = ("pymdownx.snippets", "markdown_include", "mdx_include")
PARALLEL_MIN_PAGES = 24
"""Below this many pages to render, forking costs more than it saves."""
_VERSIONED = ("mkdocs", "mkdocs-material", "markdown", "pymdown-extensions", "pygments", "jinja2")


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
    instead of parsing the written index (`_precheck_search_index`). None: unknown."""


@dataclass
class FastBuildStats:
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


def eligible(config: MkDocsConfig) -> str | None:
    """Why the fast path cannot build this site (None when it can)."""
    unknown = sorted(set(config.plugins) - set(KNOWN_PLUGINS))
    if unknown:
        return f"plugins without known per-page state: {', '.join(unknown)}"
    readers = [e for e in config.markdown_extensions if e in UNCACHEABLE_EXTENSIONS]
    if readers:
        return f"Markdown extensions that read other files: {', '.join(readers)}"
    return None


# -- fingerprints -----------------------------------------------------------------------------


def _hash_tree(digest: Any, root: Path) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())


def config_files(config: MkDocsConfig) -> list[Path]:
    """mkdocs.yml and every file it INHERITs from."""
    found: list[Path] = []
    path = Path(config.config_file_path) if config.config_file_path else None
    while path is not None and path.is_file() and path not in found:
        found.append(path)
        parent = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("INHERIT:"):
                parent = (path.parent / line.split(":", 1)[1].strip().strip("'\"")).resolve()
        path = parent
    return found


def code_fingerprint(config: MkDocsConfig) -> str:
    """The code, theme and configuration every page is rendered with."""
    digest = hashlib.sha256(f"kp-fastbuild {CACHE_FORMAT}".encode())
    for dist in _VERSIONED:
        try:
            digest.update(f"{dist}={importlib.metadata.version(dist)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{dist}=-".encode())
    package_root = Path(__file__).resolve().parents[1]
    for package in ("site_builder", "kp_contract"):  # kp_contract/: strings, manifest, money
        _hash_tree(digest, package_root / package)
    for theme_dir in config.theme.dirs:
        if "site-packages" not in Path(theme_dir).parts:  # installed themes: by version
            _hash_tree(digest, Path(theme_dir))
    for path in config_files(config):
        digest.update(path.read_bytes())
    digest.update(json.dumps(_resolved_settings(config), sort_keys=True).encode())
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """JSON-able view of a setting; objects (functions, plugins) by type name only."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return type(value).__qualname__


_PATHS_OF_THIS_RUN = ("config_file_path", "site_dir", "docs_dir", "private_dir")


def _resolved_settings(config: MkDocsConfig) -> dict[str, Any]:
    """The configuration as mkdocs resolved it, `!ENV` values and plugin options included
    (the files alone do not show those); paths of this run (the staging dirs) left out."""
    data = {
        key: _plain(value)
        for key, value in config.items()
        if key not in ("plugins", "theme", *_PATHS_OF_THIS_RUN)
    }
    data["theme"] = {key: _plain(config.theme[key]) for key in config.theme}
    data["plugins"] = {
        name: {k: _plain(v) for k, v in plugin.config.items() if k not in _PATHS_OF_THIS_RUN}
        for name, plugin in config.plugins.items()
    }
    return data


def structure_fingerprint(files: Files, pages: Iterable[Page], extra: Iterable[str]) -> str:
    """Every file's URL and every page's front matter: what one page may show of the others."""
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.src_uri):
        digest.update(f"{file.src_uri}\0{file.dest_uri}\0{file.inclusion.name}\n".encode())
    for page in pages:
        meta = json.dumps(page.meta, sort_keys=True, default=str, ensure_ascii=False)
        digest.update(f"{page.file.src_uri}\0{page.title}\0{meta}\n".encode())
    for item in extra:
        digest.update(item.encode())
    return digest.hexdigest()


def page_key(structure: str, page: Page) -> str:
    digest = hashlib.sha256(structure.encode())
    digest.update(page.file.src_uri.encode() + b"\0")
    digest.update((page.markdown or "").encode())
    return digest.hexdigest()


# -- cache --------------------------------------------------------------------------------------


class PageCache:
    """What rendering each page gave besides its output (digest, search entries, private
    version), by key, in one SQLite file (atomic writes, safe if two builds overlap), and
    which page files the live site holds (`set_live`)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "pages.sqlite3"
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as exc:  # not a cache any more: start a new one
            log.warning("kp build: %s is unreadable (%s); starting a new cache", self.path, exc)
            for leftover in (self.path, *self.path.parent.glob(f"{self.path.name}-*")):
                leftover.unlink(missing_ok=True)
            self.db = self._open()
        self._pending: list[tuple[str, str, bytes]] = []

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            self._create(db)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("DROP TABLE IF EXISTS results")  # CACHE_FORMAT 1 kept outputs too
        db.execute(
            "CREATE TABLE IF NOT EXISTS pages (key TEXT PRIMARY KEY, digest TEXT, meta BLOB)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS clean_files (key TEXT PRIMARY KEY)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS live (dest TEXT PRIMARY KEY, digest TEXT, stamp TEXT)"
        )

    def _rows(self, columns: str, keys: list[str]) -> Iterator[tuple[Any, ...]]:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, {columns} FROM pages WHERE key IN ({marks})"  # noqa: S608
            yield from self.db.execute(query, chunk)

    def digests(self, keys: list[str]) -> dict[str, str]:
        """Output digest of each key the cache holds."""
        return dict(self._rows("digest", keys))  # type: ignore[arg-type]

    def results(self, keys: list[str]) -> dict[str, PageResult]:
        """The cached results of `keys` (output left empty); damaged entries are left out."""
        found: dict[str, PageResult] = {}
        for key, digest, meta in self._rows("digest, meta", keys):
            try:
                entries, private, romanized, texts = pickle.loads(meta)  # noqa: S301 - ours
            except Exception:  # noqa: BLE001, S112 - a damaged entry is a miss: rendered again
                continue
            found[key] = PageResult(entries, private, romanized, digest=digest, search_texts=texts)
        return found

    def put(self, key: str, result: PageResult) -> None:
        meta = pickle.dumps(
            (result.search_entries, result.private_html, result.romanized, result.search_texts),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        self._pending.append((key, result.digest, meta))
        if len(self._pending) >= 200:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR REPLACE INTO pages (key, digest, meta) VALUES (?, ?, ?)",
            self._pending,
        )
        self.db.execute("COMMIT")
        self._pending.clear()

    def keep_only(self, keys: set[str]) -> None:
        """Drop entries this build did not use, so the cache does not grow without bound."""
        self.flush()
        stale = [(k,) for (k,) in self.db.execute("SELECT key FROM pages") if k not in keys]
        if stale:
            self.db.execute("BEGIN")
            self.db.executemany("DELETE FROM pages WHERE key = ?", stale)
            self.db.execute("COMMIT")

    # -- what the published site holds (set once a build was swapped in) --

    def live_files(self) -> dict[str, tuple[str, str]]:
        """Published page file → (sha256, stat stamp) as `set_live` recorded them."""
        rows = self.db.execute("SELECT dest, digest, stamp FROM live")
        return {dest: (digest, stamp) for dest, digest, stamp in rows}

    def set_live(self, files: dict[str, tuple[str, str]]) -> None:
        """Record `files` as what the live site holds, writing only the rows that changed
        (after an edit, the linked pages keep their digest and stamp)."""
        current = self.live_files()
        changed = [
            (d, digest, stamp)
            for d, (digest, stamp) in files.items()
            if current.get(d) != (digest, stamp)
        ]
        gone = [(dest,) for dest in current.keys() - files.keys()]
        if not changed and not gone:
            return
        self.db.execute("BEGIN")
        self.db.executemany("DELETE FROM live WHERE dest = ?", gone)
        self.db.executemany(
            "INSERT OR REPLACE INTO live (dest, digest, stamp) VALUES (?, ?, ?)", changed
        )
        self.db.execute("COMMIT")

    # -- leak check verdicts (site_builder.leaks.VerdictCache) --

    def clean(self, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key FROM clean_files WHERE key IN ({marks})"  # noqa: S608
            found.update(key for (key,) in self.db.execute(query, chunk))
        return found

    def update(self, clean: list[str], current: set[str]) -> None:
        """Remember files found clean; forget verdicts about files no longer built."""
        stale = [
            (k,) for (k,) in self.db.execute("SELECT key FROM clean_files") if k not in current
        ]
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR IGNORE INTO clean_files (key) VALUES (?)", [(k,) for k in clean]
        )
        self.db.executemany("DELETE FROM clean_files WHERE key = ?", stale)
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


PAGE_META: dict[str, bytes] = {}
"""mkdocs' own parse of front matter blocks (`mkdocs.utils.meta.get_data`), by block text,
pickled (as frontmatter.PARSED)."""


def _read_source(page: Page, config: MkDocsConfig) -> str | None:
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
        _replace_file(cache_dir / "leak-memo.pickle", pickle.dumps(data))
        _LOADED_MEMO["fragments"] = set(fragments)


def romanized_memo_path(cache_dir: Path) -> Path:
    """Where the pinyin memo (slugs.ROMANIZED) of a build's cache is kept."""
    return cache_dir / slugs.MEMO_NAME


def _load_memo(cache_dir: Path) -> None:
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


def _replace_file(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _save_memo(cache_dir: Path, sources: set[str]) -> None:
    """Save the memos; front matter only of this build's files (the cache never grows)."""
    text = json.dumps(slugs.ROMANIZED, ensure_ascii=False).encode("utf-8")
    _replace_file(romanized_memo_path(cache_dir), text)
    parsed = {
        "content": {b: data for b, data in frontmatter.PARSED.items() if b in sources},
        "mkdocs": {b: data for b, data in PAGE_META.items() if b in sources},
    }
    _replace_file(cache_dir / "frontmatter.pickle", pickle.dumps(parsed))


def _flat_navigation(files: Files, config: MkDocsConfig) -> Navigation:
    """Every page of the automatic navigation, unarranged. mkdocs' `get_navigation` nests
    them by folder first, which kp-content's `on_nav` replaces anyway (navigation.py reads
    only `nav.pages`)."""
    pages = [
        file.page if file.page is not None else Page(None, file, config)
        for file in files.documentation_pages(inclusion=InclusionLevel.is_in_nav)
    ]
    return Navigation(list(pages), pages)


def _theme_listing_stamp(directory: str) -> str | None:
    """A stamp for a theme folder that is part of an installed package (mkdocs-material's
    templates, thousands of icons): its listing changes only with the package version."""
    import material

    package = Path(material.__file__).resolve().parent
    if not Path(directory).resolve().is_relative_to(package):
        return None
    return f"{directory}|mkdocs-material={importlib.metadata.version('mkdocs-material')}"


def _walk_templates(searchpath: str, followlinks: bool) -> list[str]:
    """jinja2.FileSystemLoader.list_templates for one search path."""
    found = []
    for dirpath, _, filenames in os.walk(searchpath, followlinks=followlinks):
        for filename in filenames:
            name = os.path.join(dirpath, filename)[len(searchpath) :].strip(os.sep)
            name = name.replace(os.sep, "/")
            found.append(name[2:] if name[:2] == "./" else name)
    return found


def _list_theme_from_cache(env: jinja2.Environment, cache_dir: Path) -> None:
    """Give the theme's loader a listing that reuses the installed theme's file list from
    .kp-cache (walking it is a tenth of a second of every build); other folders (the
    project's custom_dir) are walked every time."""
    loader = env.loader
    if type(loader) is not jinja2.FileSystemLoader:
        return
    path = cache_dir / "theme-files.json"
    try:
        memo = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    names: set[str] = set()
    changed = False
    for searchpath in loader.searchpath:
        stamp = _theme_listing_stamp(searchpath)
        known = memo.get(stamp) if stamp else None
        if known is None:
            known = _walk_templates(searchpath, loader.followlinks)
            if stamp:
                memo[stamp], changed = known, True
        names.update(known)
    # Hidden files (mkdocs-material's thousands of .icons) are left out of the listing: its
    # only reader, mkdocs' `add_files_from_theme`, drops every name matching '.*' or '*/.*'
    # after testing each against a dozen patterns.
    listing = sorted(name for name in names if not (name.startswith(".") or "/." in name))
    loader.list_templates = lambda: list(listing)  # type: ignore[method-assign]
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace_file(path, json.dumps(memo).encode("utf-8"))


# -- rendering one page ---------------------------------------------------------------------


@dataclass
class _Build:
    """What page rendering needs, set up once; forked workers inherit it."""

    config: MkDocsConfig
    files: Files
    nav: Navigation
    env: jinja2.Environment
    doc_files: list[Any]
    search: Any
    content: ContentPlugin | None


_BUILD: _Build | None = None


_MARKDOWN: dict[str, markdown.Markdown] = {}


def _markdown_for(config: MkDocsConfig) -> markdown.Markdown:
    """One Markdown converter per process and configuration, `reset()` between pages as
    Python-Markdown intends: building it with every extension costs more than converting
    a typical page."""
    key = repr((config["markdown_extensions"], sorted((config["mdx_configs"] or {}).items())))
    md = _MARKDOWN.get(key)
    if md is None:
        if len(_MARKDOWN) > 8:  # a long-lived process building many sites
            _MARKDOWN.clear()
        md = _MARKDOWN[key] = markdown.Markdown(
            extensions=config["markdown_extensions"],
            extension_configs=config["mdx_configs"] or {},
        )
        inline_patterns.skip_impossible_patterns(md)
    md.reset()
    return md


def _render_markdown(page: Page, config: MkDocsConfig, files: Files) -> None:
    """`Page.render` (mkdocs 1.6) with a reused converter; mkdocs' per-page processors are
    registered again under their names, replacing the previous page's."""
    if page.markdown is None:
        raise RuntimeError("`markdown` field hasn't been set (via `read_source`)")
    md = _markdown_for(config)
    raw_html = _RawHTMLPreprocessor()
    raw_html._register(md)
    anchors = _ExtractAnchorsTreeprocessor(page.file, files, config)
    anchors._register(md)
    relative_paths = _RelativePathTreeprocessor(page.file, files, config)
    relative_paths._register(md)
    title = _ExtractTitleTreeprocessor()
    title._register(md)
    page.content = md.convert(page.markdown)
    page.toc = get_toc(getattr(md, "toc_tokens", []))
    page._title_from_render = title.title
    page.present_anchor_ids = anchors.present_anchor_ids | raw_html.present_anchor_ids
    if logging.getLogger("mkdocs.structure.pages").getEffectiveLevel() > logging.DEBUG:
        page.links_to_anchors = relative_paths.links_to_anchors


def _populate(page: Page, config: MkDocsConfig, files: Files) -> None:
    """mkdocs' `_populate_page` (1.6): read, plugin events, Markdown to HTML."""
    config._current_page = page
    try:
        page = config.plugins.on_pre_page(page, config=config, files=files)
        page.read_source(config)
        assert page.markdown is not None
        page.markdown = config.plugins.on_page_markdown(
            page.markdown, page=page, config=config, files=files
        )
        _render_markdown(page, config, files)
        assert page.content is not None
        page.content = config.plugins.on_page_content(
            page.content, page=page, config=config, files=files
        )
    except Exception as exc:
        message = f"Error reading page '{page.file.src_uri}':"
        if not isinstance(exc, BuildError):
            message += f" {exc}"
        log.error(message)
        raise
    finally:
        config._current_page = None


def _render_page(src_uri: str) -> PageResult:
    """mkdocs' `_populate_page` + `_build_page` for one page. The worker writes the page's
    file itself (pages never share one), so only the small rest of the result travels back
    to the parent."""
    build = _BUILD
    assert build is not None
    file = build.files.get_file_from_path(src_uri)
    assert file is not None and file.page is not None
    page, config = file.page, build.config
    entries = build.search.search_index.entries if build.search else []
    before = len(entries)
    slugs.NEWLY_ROMANIZED.clear()
    _populate(page, config, build.files)
    config._current_page = page
    try:
        page.active = True
        context = get_context(build.nav, build.doc_files, config, page)
        template = build.env.get_template(page.meta.get("template", "main.html"))
        context = config.plugins.on_page_context(context, page=page, config=config, nav=build.nav)
        output = template.render(context)
        output = config.plugins.on_post_page(output, page=page, config=config)
    except Exception as exc:
        message = f"Error building page '{src_uri}':"
        raise BuildError(message if isinstance(exc, BuildError) else f"{message} {exc}") from exc
    finally:
        page.active = False
        config._current_page = None
    private = build.content.take_private_page(page) if build.content else None
    data = output.encode("utf-8", errors="xmlcharrefreplace") if output.strip() else b""
    result = PageResult(
        search_entries=entries[before:],
        private_html=private,
        romanized=list(slugs.NEWLY_ROMANIZED),
        digest=hashlib.sha256(data).hexdigest(),
        search_texts=leaks.json_texts(entries[before:]),
    )
    del entries[before:]
    page.content = None  # rendered and indexed: free the memory (title/meta stay)
    if data:  # as mkdocs: a page that renders to nothing gets no file
        write_file(data, page.file.abs_dest_path)
        precheck = _precheck()
        if precheck is not None:
            result.leaks = precheck.leaks_in(page.file.dest_uri, data)
            result.matcher = precheck.digest
    return result


_PRECHECK: leaks.Matcher | None = None
"""Set once every gated page is rendered: later pages are searched for paid text by the
worker that renders them, on both cores, instead of afterwards in the leak check."""
_HANDOFF: _MatcherHandoff | None = None
"""How workers forked before `_PRECHECK` was known receive it."""


class _MatcherHandoff:
    """The leak matcher, handed from the parent to workers forked before it existed: the
    parent renders the gated pages first in the same pool as every other page, builds the
    matcher from their private versions and writes it to a file; a worker looks for that
    file (one `stat`) before it searches a page it rendered. Pages rendered before the
    file appears are left to the leak check."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, "matcher.pickle")

    @classmethod
    def create(cls) -> _MatcherHandoff | None:
        """A handoff in a new temporary folder; None when none can be made (the workers
        then leave every page to the leak check)."""
        try:
            return cls(tempfile.mkdtemp(prefix="kp-matcher-"))
        except OSError as exc:
            log.debug("kp build: no temporary folder for the leak matcher (%s)", exc)
            return None

    def publish(self, matcher: leaks.Matcher) -> None:
        try:
            _replace_file(Path(self.path), pickle.dumps(matcher, pickle.HIGHEST_PROTOCOL))
        except OSError as exc:  # e.g. a full disk: the leak check searches those pages
            log.debug("kp build: the leak matcher could not be handed over (%s)", exc)

    def receive(self) -> leaks.Matcher | None:
        try:
            with open(self.path, "rb") as file:
                return pickle.load(file)  # noqa: S301 - written by this build's parent
        except FileNotFoundError:
            return None

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _precheck() -> leaks.Matcher | None:
    """The matcher to search a just rendered page with, if it is known (here or handed
    over by the parent)."""
    global _PRECHECK
    if _PRECHECK is None and _HANDOFF is not None:
        _PRECHECK = _HANDOFF.receive()
    return _PRECHECK


def _render_in_worker(src_uri: str) -> tuple[str, PageResult | str]:
    try:
        return src_uri, _render_page(src_uri)
    except Exception as exc:  # reported by the parent as a failed build
        return src_uri, f"{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def _renderer(src_uris: list[str], jobs: int) -> Iterator[Iterator[tuple[str, PageResult]]]:
    """The results of rendering `src_uris`, in that order: by a pool of forked workers, or
    in this process when one worker is enough."""
    if jobs <= 1:
        yield ((src_uri, _render_page(src_uri)) for src_uri in src_uris)
        return
    chunk = max(1, min(16, len(src_uris) // (jobs * 8)))
    segmenter.load_before_fork()
    with fork_pool(jobs) as pool:

        def results() -> Iterator[tuple[str, PageResult]]:
            for src_uri, result in pool.imap(_render_in_worker, src_uris, chunksize=chunk):
                if isinstance(result, str):
                    raise BuildError(result)
                yield src_uri, result

        yield results()


_LINK_CODE = """
import json, os, sys
made, failed = set(), []
with open(sys.argv[1], encoding="utf-8") as listing:
    pairs = json.load(listing)
for number, (source, target) in enumerate(pairs):
    folder = os.path.dirname(target)
    try:
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        os.link(source, target)
    except OSError:
        failed.append(number)
sys.stdout.write(json.dumps(failed))
"""


class _Linker:
    """Hard-links the published files of unchanged pages from the live site into the new
    one while the build goes on: a new folder and a link per page is the filesystem's part
    of an incremental build (a third of its time on 1,000 articles, more when the disk is
    busy), and a second process does it on the otherwise idle core while this one renders
    the changed pages, merges them and writes the search index, sitemaps and feeds. (A
    thread would not: it needs the GIL back after every call.) Started after the static
    files are copied and the workers forked, so nothing else writes those paths meanwhile;
    `finish` waits for it and names the pages whose file could not be linked (it went away
    since the build looked), which the build then renders. Few pages, or no second
    process, are linked here."""

    def __init__(self, previous_site: Path | None, pages: list[Page]) -> None:
        self.previous_site, self.pages = previous_site, pages
        self.process: subprocess.Popen[str] | None = None
        self.listing: str | None = None
        if previous_site is not None and len(pages) >= PARALLEL_MIN_PAGES:
            self._start(previous_site)

    def _start(self, previous_site: Path) -> None:
        pairs = [
            [os.path.join(previous_site, page.file.dest_uri), page.file.abs_dest_path]
            for page in self.pages
        ]
        try:
            fd, self.listing = tempfile.mkstemp(prefix="kp-link-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as listing:
                json.dump(pairs, listing)
            self.process = subprocess.Popen(
                [sys.executable, "-c", _LINK_CODE, self.listing],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        except OSError as exc:  # link them here instead
            log.debug("kp build: no linking process (%s)", exc)
            self.process = None
            self._remove_listing()

    def finish(self) -> tuple[int, list[Page]]:
        """(pages linked, pages left to render). Call once."""
        failed = self._helper_failures()
        if failed is None:  # no helper, or it did not finish: whatever it did not link
            failed = [page for page in self.pages if not self._linked_here(page)]
        return len(self.pages) - len(failed), failed

    def _helper_failures(self) -> list[Page] | None:
        process, self.process = self.process, None
        if process is None:
            return None
        try:
            output, _ = process.communicate(timeout=300)
            numbers = json.loads(output) if process.returncode == 0 else None
        except (subprocess.TimeoutExpired, ValueError, OSError):
            process.kill()
            process.wait()
            numbers = None
        finally:
            self._remove_listing()
        if not isinstance(numbers, list):
            return None
        return [self.pages[number] for number in numbers]

    def stop(self) -> None:
        """A failed build: end the helper (the tree it links into is discarded)."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait()
        self._remove_listing()

    def _remove_listing(self) -> None:
        if self.listing is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.listing)

    def _linked_here(self, page: Page) -> bool:
        """Link `page` in this process, or find it linked already (by a helper that
        stopped half-way)."""
        if _link(self.previous_site, page):
            return True
        try:
            return self.previous_site is not None and os.path.samefile(
                os.path.join(self.previous_site, page.file.dest_uri), page.file.abs_dest_path
            )
        except OSError:
            return False


def _publish(
    page: Page,
    key: str,
    rendered: Iterator[tuple[str, PageResult]] | PageResult,
    cache: PageCache | None,
    stats: FastBuildStats,
) -> None:
    """Hand every page's search entries and private version to the plugins, in page order
    so the output never depends on timing. `rendered` is the cached result of a page whose
    published file is reused (`_Linker` links it; its entries and private version are
    those of any rendering of the same key), else the renderer its result comes from
    (which wrote the page's file)."""
    src_uri = page.file.src_uri
    if isinstance(rendered, PageResult):
        result = rendered
    else:
        rendered_uri, result = next(rendered)
        if rendered_uri != src_uri:
            raise BuildError(f"kp build: expected {src_uri}, got {rendered_uri}")
    if cache is not None and not isinstance(rendered, PageResult):
        cache.put(key, result)
    stats.digests[page.file.dest_uri] = result.digest
    if result.leaks is not None and result.matcher == stats.matcher_digest:
        stats.prechecked[page.file.dest_uri] = result.leaks
    elif _PRECHECK is not None and not isinstance(rendered, PageResult):
        _search_written(page.file.dest_uri, page.file.abs_dest_path, _PRECHECK, stats)
    build = _BUILD
    assert build is not None
    if build.search is not None:
        build.search.search_index.entries.extend(result.search_entries)
    if build.content is not None and result.private_html is not None:
        build.content.put_private_page(page, result.private_html)
    slugs.ROMANIZED.update(result.romanized)
    if stats.search_texts is not None and build.search is not None:
        if result.search_texts is None:
            stats.search_texts = None
        else:
            stats.search_texts.extend(result.search_texts)


def _search_written(
    relative: str, path: str, matcher: leaks.Matcher, stats: FastBuildStats
) -> None:
    """Search a file this build wrote for paid text now, in the parent while the workers
    render (a page rendered before the matcher existed, a copied static file), instead of
    in the leak check after the build."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:  # a page that rendered to nothing has no file
        return
    stats.prechecked[relative] = matcher.leaks_in(relative, data)


def _search_static_files(files: Files, stats: FastBuildStats) -> None:
    """`_search_written` for the files `copy_static_files` copied (theme assets, images),
    except any a page is also published at (the leak check reads what ends up there)."""
    if _PRECHECK is None:
        return
    pages = {file.dest_uri for file in files.documentation_pages()}
    for file in files:
        if (
            not file.is_documentation_page()
            and InclusionLevel.is_included(file.inclusion)
            and file.dest_uri not in pages
        ):
            _search_written(file.dest_uri, file.abs_dest_path, _PRECHECK, stats)


class _SearchIndexWrite:
    """Records the search index the search plugin writes in `on_post_build` (the JSON text
    `generate_search_index` returns, which it writes as is), and whether that was made
    from exactly the entries this build merged: no earlier index merged in (`prev`, which
    only `mkdocs serve --dirty` passes), the same list object, nothing added or removed."""

    def __init__(self, search: Any, entries: list[dict[str, Any]]) -> None:
        self.index = search.search_index if search is not None else None
        self.entries, self.count = entries, len(entries)
        self.document: str | None = None

    def __enter__(self) -> _SearchIndexWrite:
        if self.index is not None:
            generate = self.index.generate_search_index

            def recorded(prev: Any) -> str:
                document = generate(prev)
                unchanged = self.index.entries is self.entries and len(self.entries) == self.count
                self.document = document if not prev and unchanged else None
                return document

            self.index.generate_search_index = recorded  # on this instance only
        return self

    def __exit__(self, *exc: object) -> None:
        if self.index is not None:
            vars(self.index).pop("generate_search_index", None)


_CONFIG_START, _DOCS_START = '{"config":', ',"docs":'


def _precheck_search_index(
    written: _SearchIndexWrite,
    matcher: leaks.Matcher | None,
    stats: FastBuildStats,
    site_dir: str,
) -> None:
    """Search the written search index for paid text from the texts of its strings that
    the workers worked out with each page's entries (`PageResult.search_texts`), instead
    of parsing it again in the leak check: the same text, without reading 10 MB of JSON
    on a 1,000-article site. Only when every page's texts are known and the index was
    written from exactly the entries merged, and the file holds what was written (no later
    plugin replaced it); its small `config` part is parsed from the written text itself.
    Otherwise the leak check reads the file as any other."""
    document, texts = written.document, stats.search_texts
    if matcher is None or document is None or texts is None:
        return
    if not document.startswith(_CONFIG_START):
        return
    try:
        config, end = json.JSONDecoder().raw_decode(document, len(_CONFIG_START))
    except ValueError:
        return
    config_texts = leaks.json_texts(config)
    if config_texts is None or not document.startswith(_DOCS_START, end):
        return
    data = document.encode("utf-8")
    try:
        with open(os.path.join(site_dir, SEARCH_INDEX), "rb") as file:
            if file.read() != data:
                return
    except OSError:
        return
    stats.digests[SEARCH_INDEX] = hashlib.sha256(data).hexdigest()
    stats.prechecked[SEARCH_INDEX] = matcher.leaks_in_json(SEARCH_INDEX, data, config_texts + texts)


def _gated_entries(content: ContentPlugin | None) -> dict[str, Any]:
    """Published gated pages by source path, in manifest order (leaks.matcher_for)."""
    if content is None:
        return {}
    return {e.src_uri: e for e in sorted(content.index.gated(), key=lambda e: e.src_uri)}


def _start_precheck(
    gated: dict[str, Any],
    early: dict[str, PageResult],
    reused: dict[str, PageResult],
    stats: FastBuildStats,
) -> None:
    """Build the leak matcher from every gated page's private version (just rendered, or
    from the cache); without all of them, pages are left to the leak check."""
    global _PRECHECK
    private: list[tuple[str, str, str]] = []
    for src_uri, entry in gated.items():
        result = early.get(src_uri) or reused.get(src_uri)
        if result is None or result.private_html is None:
            return
        private.append((entry.url_path, entry.dest_uri, result.private_html))
    _PRECHECK = leaks.matcher_for(private)
    stats.matcher_digest = _PRECHECK.digest
    if _HANDOFF is not None:
        _HANDOFF.publish(_PRECHECK)


def _stop_precheck() -> None:
    global _PRECHECK, _HANDOFF
    _PRECHECK = None
    if _HANDOFF is not None:
        _HANDOFF.close()
        _HANDOFF = None


def _stamp(path: Path | str) -> str:
    """What changes when a file is replaced or edited in place: inode, size, mtime."""
    info = os.stat(path)
    return f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


def _reusable(
    previous_site: Path | None,
    live: dict[str, tuple[str, str]],
    page: Page,
    digest: str | None,
) -> bool:
    """Whether the published file of `page` is the output its cached result describes and
    untouched since the build that wrote it (the cache recorded its digest and stamp then).
    Files are never written in place afterwards: every build writes a new tree."""
    published = live.get(page.file.dest_uri)
    if previous_site is None or digest is None or published is None or published[0] != digest:
        return False
    try:
        return _stamp(os.path.join(previous_site, page.file.dest_uri)) == published[1]
    except OSError:
        return False


_MADE_DIRS: set[str] = set()
"""Folders `_link` created in this build's output (emptied when a build starts)."""


def _link(previous_site: Path | None, page: Page) -> bool:
    """Hard-link the published file of `page` (`_reusable` said it may) into the new site."""
    if previous_site is None:
        return False
    target = page.file.abs_dest_path
    folder = os.path.dirname(target)
    try:
        if folder not in _MADE_DIRS:
            os.makedirs(folder, exist_ok=True)
            _MADE_DIRS.add(folder)
        os.link(os.path.join(previous_site, page.file.dest_uri), target)
    except OSError:
        return False
    return True


def mark_live(cache_dir: Path, stats: FastBuildStats, site: Path) -> None:
    """After the build was swapped in: its page outputs are what `site` now holds."""
    files = {}
    for dest, digest in stats.digests.items():
        with contextlib.suppress(OSError):
            files[dest] = (digest, _stamp(site / dest))
    cache = PageCache(cache_dir)
    try:
        cache.set_live(files)
    finally:
        cache.close()


# -- the build ----------------------------------------------------------------------------------


def _search_plugin(config: MkDocsConfig) -> Any:
    return next((config.plugins[name] for name in SEARCH_PLUGINS if name in config.plugins), None)


def _content_plugin(config: MkDocsConfig) -> ContentPlugin | None:
    return next((p for p in config.plugins.values() if isinstance(p, ContentPlugin)), None)


def _prepare_segmenter(content: ContentPlugin, docs_dir: Path, cache_dir: Path) -> None:
    """Chinese pages edited since the last build (its page cache's time): start loading
    the Chinese segmenter now, in a second process (segmenter.prepare_for)."""
    stamps = []
    for name in ("pages.sqlite3", "pages.sqlite3-wal"):  # (WAL mode: writes land in -wal)
        with contextlib.suppress(OSError):
            stamps.append((cache_dir / name).stat().st_mtime)
    last_build = max(stamps) if stamps else None
    sources = [docs_dir / e.src_uri for e in content.index.published() if e.lang == "zh"]
    segmenter.prepare_for(sources, last_build)


def default_jobs() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def build(
    config: MkDocsConfig,
    *,
    cache_dir: Path | None,
    jobs: int,
    previous_site: Path | None = None,
) -> FastBuildStats:
    """Build `config.site_dir` like `mkdocs build`; see the module docstring.

    `previous_site` is the published site: an unchanged page whose file there is the one the
    cache says was published is hard-linked instead of written (`mark_live` records it).
    """
    try:
        return _build(config, cache_dir=cache_dir, jobs=jobs, previous_site=previous_site)
    except Exception as exc:  # as mkdocs does: plugins hear of it, BuildErrors become Abort
        config.plugins.on_build_error(error=exc)
        if isinstance(exc, BuildError):
            log.error(str(exc))
            raise Abort("Aborted with a BuildError!") from exc
        raise


def _build(
    config: MkDocsConfig, *, cache_dir: Path | None, jobs: int, previous_site: Path | None
) -> FastBuildStats:
    global _BUILD, _HANDOFF
    stats = FastBuildStats(workers=jobs)
    _MADE_DIRS.clear()
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        stats.seconds[name] = round(now - clock, 3)
        clock = now

    if cache_dir is not None:
        _load_memo(cache_dir)
        load_leak_memo(cache_dir)
    config = config.plugins.on_config(config)
    config.plugins.on_pre_build(config=config)
    clean_directory(config.site_dir)
    files = get_files(config)
    env = config.theme.get_env()
    if env.cache is not None:
        # Jinja's template cache as a plain dict for the build (what `cache_size=-1` makes):
        # its default LRU cache reorders a queue of every template on each hit, and every
        # page includes some fifty; a build loads only the theme's, so nothing is evicted.
        env.cache = dict(env.cache.items())
    if cache_dir is not None:
        _list_theme_from_cache(env, cache_dir)
    files.add_files_from_theme(env, config)
    files = config.plugins.on_files(files, config=config)
    set_exclusions(files, config)
    content = _content_plugin(config)
    if content is not None and config.nav is None:
        nav = _flat_navigation(files, config)  # kp-content arranges its own from scratch
    else:
        nav = get_navigation(files, config)
    nav = config.plugins.on_nav(nav, config=config, files=files)
    if content is not None and cache_dir is not None:
        _prepare_segmenter(content, Path(config.docs_dir), cache_dir)
    lap("setup")

    doc_files = list(files.documentation_pages(inclusion=InclusionLevel.is_included))
    pages: list[Page] = []
    blocks: set[str] = set()
    for file in doc_files:
        if file.page is None:
            Page(None, file, config)
        assert file.page is not None
        block = _read_source(file.page, config)
        if block is not None:
            blocks.add(block)
        pages.append(file.page)
    drafts = f"drafts={content.config.drafts}" if content else ""
    structure = structure_fingerprint(files, pages, [code_fingerprint(config), drafts])
    keys = {page.file.src_uri: page_key(structure, page) for page in pages}
    reused: dict[str, PageResult] = {}  # by source path: pages whose published file is kept
    if cache_dir is not None and previous_site is not None:
        cache = PageCache(cache_dir)
        try:
            digests = cache.digests(list(keys.values()))
            live = cache.live_files()
            keep = [
                page
                for page in pages
                if _reusable(previous_site, live, page, digests.get(keys[page.file.src_uri]))
            ]
            found = cache.results([keys[page.file.src_uri] for page in keep])
            reused = {
                page.file.src_uri: found[keys[page.file.src_uri]]
                for page in keep
                if keys[page.file.src_uri] in found
            }
        finally:
            cache.close()  # never carried into forked workers
    lap("read")

    env = config.plugins.on_env(env, config=config, files=files)
    if cache_dir is not None and env.bytecode_cache is None:
        # Compiled theme templates (keyed by template source): compiling mkdocs-material's
        # templates takes longer than an incremental build's own work.
        (cache_dir / "jinja").mkdir(parents=True, exist_ok=True)
        env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(cache_dir / "jinja"))
    files.copy_static_files(inclusion=InclusionLevel.is_included)
    for template in config.theme.static_templates:
        _build_theme_template(template, env, files, config, nav)
    lap("static")

    search = _search_plugin(config)
    to_render = [p.file.src_uri for p in pages if p.file.src_uri not in reused]
    stats.workers = jobs if len(to_render) >= PARALLEL_MIN_PAGES else 1
    gated = _gated_entries(content)
    _BUILD = _Build(config, files, nav, env, doc_files, search, content)
    linker: _Linker | None = None
    # Chinese headings' anchors, romanized by the process loading pypinyin since the build
    # started (a first build), so neither this process nor its workers load it.
    slugs.prefetch(
        text
        for page in pages
        if page.file.src_uri not in reused
        for text in slugs.heading_texts(page.markdown or "")
    )
    if stats.workers > 1:
        slugs.stop_romanizer()  # the workers must not share its pipes
    try:
        # Gated pages first: with their paid text known, workers search every other page
        # for it as they render it (the leak check then skips those files).
        first = [uri for uri in to_render if uri in gated]
        rest = [uri for uri in to_render if uri not in gated]
        early: dict[str, PageResult] = {}
        if first:  # workers forked before the matcher exists receive it through a file
            _HANDOFF = _MatcherHandoff.create() if stats.workers > 1 else None
        else:
            _start_precheck(gated, early, reused, stats)  # (forked workers inherit it)
        with _renderer(first + rest, stats.workers) as rendered:
            linker = _Linker(previous_site, [p for p in pages if p.file.src_uri in reused])
            if first:
                early = dict(itertools.islice(rendered, len(first)))
                _start_precheck(gated, early, reused, stats)
            if stats.workers > 1:  # the parent's time is free while workers render
                _search_static_files(files, stats)
            cache = PageCache(cache_dir) if cache_dir is not None else None  # after the fork
            merged: list[dict[str, Any]] = search.search_index.entries if search else []
            if merged:  # entries this build has no texts for
                stats.search_texts = None
            try:
                for page in pages:
                    src_uri = page.file.src_uri
                    key = keys[src_uri]
                    source: Iterator[tuple[str, PageResult]] | PageResult
                    if src_uri in early:
                        source = iter([(src_uri, early.pop(src_uri))])
                    else:
                        source = reused.get(src_uri) or rendered
                    _publish(page, key, source, cache, stats)
                if cache is not None:
                    cache.keep_only(set(keys.values()))
            finally:
                if cache is not None:
                    cache.close()
            matcher = _PRECHECK
        if cache_dir is not None:
            _save_memo(cache_dir, blocks)
        lap("render")

        with _SearchIndexWrite(search, merged) as written:
            config.plugins.on_post_build(config=config)
        _precheck_search_index(written, matcher, stats, config.site_dir)
        stats.linked, unlinked = linker.finish()
        linker = None
        for page in unlinked:  # its file went away since the build looked
            result = _render_page(page.file.src_uri)
            stats.rendered += 1
            stats.digests[page.file.dest_uri] = result.digest
        lap("post_build")
    finally:
        if linker is not None:  # a failed build: its tree is discarded
            linker.stop()
        _BUILD = None
        _stop_precheck()
    stats.pages = len(pages)
    stats.rendered += len(to_render)
    stats.cached = stats.pages - stats.rendered
    log.info(
        "kp build: %d pages, %d rendered by %d worker(s), %d cached (%d linked); seconds %s",
        stats.pages,
        stats.rendered,
        stats.workers,
        stats.cached,
        stats.linked,
        stats.seconds,
    )
    return stats
