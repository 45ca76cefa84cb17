"""The leak check, begun while the build renders.

Gated pages are rendered first; once their private versions are all in, the parent builds
the leak matcher of their paid text (`start`, site_builder.leaks.matcher_for) and hands it
to the workers forked before it existed (`MatcherHandoff`); a worker then searches every
page it renders after that for it. Workers also work out the leak check's text of their
pages' search entries (`PageResult.search_texts`, cached with the page), so the parent
searches the search index from those once it is written (`search_index`) instead of
parsing 10 MB of JSON again. Whatever was not searched here the leak check searches after
the build, as any other file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.structure.files import Files, InclusionLevel

from site_builder import leaks
from site_builder.accel.memos import replace_file
from site_builder.accel.results import FastBuildStats, PageResult
from site_builder.content import Entry
from site_builder.plugins.content import ContentPlugin

log = logging.getLogger("mkdocs.kp.accel")

SEARCH_INDEX = "search/search_index.json"
"""Where the search plugin writes its index, relative to the site."""


class MatcherHandoff:
    """The leak matcher, handed from the parent to workers forked before it existed: the
    parent renders the gated pages first in the same pool as every other page, builds the
    matcher from their private versions and writes it to a file; a worker looks for that
    file (one `stat`) before it searches a page it rendered. Pages rendered before the
    file appears are left to the leak check."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, "matcher.pickle")

    @classmethod
    def create(cls) -> MatcherHandoff | None:
        """A handoff in a new temporary folder; None when none can be made (the workers
        then leave every page to the leak check)."""
        try:
            return cls(tempfile.mkdtemp(prefix="kp-matcher-"))
        except OSError as exc:
            log.debug("kp build: no temporary folder for the leak matcher (%s)", exc)
            return None

    def publish(self, matcher: leaks.Matcher) -> None:
        try:
            replace_file(Path(self.path), pickle.dumps(matcher, pickle.HIGHEST_PROTOCOL))
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


def search_written(relative: str, path: str, matcher: leaks.Matcher, stats: FastBuildStats) -> None:
    """Search a file this build wrote for paid text now, in the parent while the workers
    render (a page rendered before the matcher existed, a copied static file), instead of
    in the leak check after the build."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:  # a page that rendered to nothing has no file
        return
    stats.prechecked[relative] = matcher.leaks_in(relative, data)


def search_static_files(files: Files, matcher: leaks.Matcher | None, stats: FastBuildStats) -> None:
    """`search_written` for the files `copy_static_files` copied (theme assets, images),
    except any a page is also published at (the leak check reads what ends up there)."""
    if matcher is None:
        return
    pages = {file.dest_uri for file in files.documentation_pages()}
    for file in files:
        if (
            not file.is_documentation_page()
            and InclusionLevel.is_included(file.inclusion)
            and file.dest_uri not in pages
        ):
            search_written(file.dest_uri, file.abs_dest_path, matcher, stats)


class SearchIndexWrite:
    """Records the search index the search plugin writes in `on_post_build` (the JSON text
    `generate_search_index` returns, which it writes as is), and whether that was made
    from exactly the entries this build merged: no earlier index merged in (`prev`, which
    only `mkdocs serve --dirty` passes), the same list object, nothing added or removed."""

    def __init__(self, search: Any, entries: list[dict[str, Any]]) -> None:
        self.index = search.search_index if search is not None else None
        self.entries, self.count = entries, len(entries)
        self.document: str | None = None

    def __enter__(self) -> SearchIndexWrite:
        index = self.index
        if index is not None:
            generate = index.generate_search_index

            def recorded(prev: Any) -> str:
                document = generate(prev)
                unchanged = index.entries is self.entries and len(self.entries) == self.count
                self.document = document if not prev and unchanged else None
                return document

            index.generate_search_index = recorded  # on this instance only
        return self

    def __exit__(self, *exc: object) -> None:
        if self.index is not None:
            vars(self.index).pop("generate_search_index", None)


_CONFIG_START, _DOCS_START = '{"config":', ',"docs":'


def search_index(
    written: SearchIndexWrite,
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


def gated_entries(content: ContentPlugin | None) -> dict[str, Entry]:
    """Published gated pages by source path, in manifest order (leaks.matcher_for)."""
    if content is None:
        return {}
    return {e.src_uri: e for e in sorted(content.index.gated(), key=lambda e: e.src_uri)}


def matcher_of(
    gated: dict[str, Entry], early: dict[str, PageResult], reused: dict[str, PageResult]
) -> leaks.Matcher | None:
    """The leak matcher of every gated page's private version (just rendered: `early`, or
    from the cache: `reused`); None without all of them (pages are left to the leak check)."""
    private: list[tuple[str, str, str]] = []
    for src_uri, entry in gated.items():
        result = early.get(src_uri) or reused.get(src_uri)
        if result is None or result.private_html is None:
            return None
        private.append((entry.url_path, entry.dest_uri, result.private_html))
    return leaks.matcher_for(private)
