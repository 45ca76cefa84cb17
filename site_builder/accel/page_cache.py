"""The page cache: what rendering each page gave, by a key of everything it depends on.

A page's key hashes its own source together with everything any page's output can depend
on: the code and theme, the configuration files, and the site's structure (every file's
URL and every page's front matter — titles, dates, tags and prices appear in navigation,
archives, lesson lists and previous/next links). Editing an article's body re-renders
that article only; editing a title or adding an article re-renders everything (rare, and
still correct). Outputs themselves are not cached: a second copy of every page costs a
clean build more than it ever saves. A page whose published file is still the one the
build wrote (same digest, and same inode, size and mtime: `reusable`) is hard-linked from
the live site instead (linker.py); one removed or edited by hand is rendered again.

`.kp-cache/pages.sqlite3` holds the results (digest, search entries, private version),
which files the live site holds (`set_live`, after a build was swapped in), and the leak
check's verdicts (site_builder.leaks.VerdictCache).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import pickle
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from site_builder.accel.results import PageResult
from site_builder.build import config_files

log = logging.getLogger("mkdocs.kp.accel")

CACHE_FORMAT = 3
_VERSIONED = ("mkdocs", "mkdocs-material", "markdown", "pymdown-extensions", "pygments", "jinja2")


# -- keys -------------------------------------------------------------------------------------


def _hash_tree(digest: Any, root: Path) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())


def code_fingerprint(config: MkDocsConfig) -> str:
    """The code, theme and configuration every page is rendered with."""
    digest = hashlib.sha256(f"kp-fastbuild {CACHE_FORMAT}".encode())
    for dist in _VERSIONED:
        try:
            digest.update(f"{dist}={importlib.metadata.version(dist)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{dist}=-".encode())
    package_root = Path(__file__).resolve().parents[2]
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


# -- the cache --------------------------------------------------------------------------------


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
        return {key: digest for key, digest in self._rows("digest", keys)}

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


def stamp(path: Path | str) -> str:
    """What changes when a file is replaced or edited in place: inode, size, mtime."""
    info = os.stat(path)
    return f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


def reusable(
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
        return stamp(os.path.join(previous_site, page.file.dest_uri)) == published[1]
    except OSError:
        return False


def mark_live(cache_dir: Path, digests: dict[str, str], site: Path) -> None:
    """After the build was swapped in: its page outputs (`digests`: path in the site →
    sha256, FastBuildStats.digests) are what `site` now holds."""
    files = {}
    for dest, digest in digests.items():
        with contextlib.suppress(OSError):
            files[dest] = (digest, stamp(site / dest))
    cache = PageCache(cache_dir)
    try:
        cache.set_live(files)
    finally:
        cache.close()
