"""The fast build: mkdocs' own build steps, with a page cache and every core.

This is `mkdocs.commands.build.build` (mkdocs 1.6) step for step — the same plugin events in
the same order, the same template context, byte-identical output (tests/builder/
test_accel_equivalence.py compares them) — registered in replacements.py as `fast-build`,
with these differences:

1. A page whose inputs are unchanged since the last build is not rendered again
   (page_cache.py): its published file is hard-linked from the live site, by a second
   process while the build goes on (linker.py), and its search-index entries and (for
   gated pages) its private full version come from `.kp-cache/pages.sqlite3`.
2. Pages that must be rendered are rendered by worker processes forked after the navigation
   and theme are set up (one per core; page_render.py), each writing the page's file and
   returning the plugin state the build needs later (search entries, private version); the
   parent merges those in page order, so the output does not depend on which worker
   rendered what. Gated pages are rendered first, so that the workers can search every
   page they render after that for paid text (precheck.py).
3. Work whose result only depends on its input text is remembered in `.kp-cache`
   (memos.py): parsed front matter, pinyin, compiled templates, the installed theme's file
   list (theme_listing.py), the paid fragments of private pages. A first build romanizes
   Chinese tags and headings in a second process that loads pypinyin while this one sets
   up (romanizer.py).

All this only applies to the plugins whose per-page state is known here (mkdocs-material's
search and kp-content); with any other plugin, or Markdown extensions that read other files,
`eligible` says why and `kp build` runs mkdocs' own build.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
from mkdocs.commands.build import _build_theme_template
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import Abort, BuildError
from mkdocs.structure.files import Files, InclusionLevel, get_files, set_exclusions
from mkdocs.structure.nav import Navigation, get_navigation
from mkdocs.structure.pages import Page
from mkdocs.utils import clean_directory

from site_builder import slugs
from site_builder.accel import memos, precheck, romanizer, segmenter
from site_builder.accel.linker import Linker
from site_builder.accel.page_cache import (
    PageCache,
    code_fingerprint,
    page_key,
    reusable,
    structure_fingerprint,
)
from site_builder.accel.page_render import RenderState, render_page, renderer
from site_builder.accel.precheck import MatcherHandoff, SearchIndexWrite
from site_builder.accel.replacements import Installed
from site_builder.accel.results import FastBuildStats, PageResult
from site_builder.accel.theme_listing import list_theme_from_cache
from site_builder.accel.workers import PARALLEL_MIN_PAGES
from site_builder.plugins.content import ContentPlugin

log = logging.getLogger("mkdocs.kp.accel")

SEARCH_PLUGINS = ("material/search", "search")
KNOWN_PLUGINS = (*SEARCH_PLUGINS, "kp-content")
# Markdown extensions that read files other than the page (their inputs are not in the key).
UNCACHEABLE_EXTENSIONS = ("pymdownx.snippets", "markdown_include", "mdx_include")


def eligible(config: MkDocsConfig) -> str | None:
    """Why the fast path cannot build this site (None when it can)."""
    unknown = sorted(set(config.plugins) - set(KNOWN_PLUGINS))
    if unknown:
        return f"plugins without known per-page state: {', '.join(unknown)}"
    readers = [e for e in config.markdown_extensions if e in UNCACHEABLE_EXTENSIONS]
    if readers:
        return f"Markdown extensions that read other files: {', '.join(readers)}"
    return None


def default_jobs() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def _flat_navigation(files: Files, config: MkDocsConfig) -> Navigation:
    """Every page of the automatic navigation, unarranged. mkdocs' `get_navigation` nests
    them by folder first, which kp-content's `on_nav` replaces anyway (navigation.py reads
    only `nav.pages`)."""
    pages = [
        file.page if file.page is not None else Page(None, file, config)
        for file in files.documentation_pages(inclusion=InclusionLevel.is_in_nav)
    ]
    return Navigation(list(pages), pages)


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


def build(
    config: MkDocsConfig,
    *,
    cache_dir: Path | None,
    jobs: int,
    installed: Installed,
    previous_site: Path | None = None,
) -> FastBuildStats:
    """Build `config.site_dir` like `mkdocs build`; see the module docstring.

    `previous_site` is the published site: an unchanged page whose file there is the one the
    cache says was published is hard-linked instead of written (page_cache.mark_live records
    it). `installed` says which registered replacements are in effect.
    """
    try:
        return _build(
            config, cache_dir=cache_dir, jobs=jobs, installed=installed, previous_site=previous_site
        )
    except Exception as exc:  # as mkdocs does: plugins hear of it, BuildErrors become Abort
        config.plugins.on_build_error(error=exc)
        if isinstance(exc, BuildError):
            log.error(str(exc))
            raise Abort("Aborted with a BuildError!") from exc
        raise


def _build(
    config: MkDocsConfig,
    *,
    cache_dir: Path | None,
    jobs: int,
    installed: Installed,
    previous_site: Path | None,
) -> FastBuildStats:
    stats = FastBuildStats(workers=jobs)
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        stats.seconds[name] = round(now - clock, 3)
        clock = now

    if cache_dir is not None:
        memos.load_memos(cache_dir)
        memos.load_leak_memo(cache_dir)
    config = config.plugins.on_config(config)
    config.plugins.on_pre_build(config=config)
    clean_directory(config.site_dir)
    files = get_files(config)
    env = config.theme.get_env()
    if env.cache is not None and "template-cache" in installed:
        # Jinja's template cache as a plain dict for the build (what `cache_size=-1` makes):
        # its default LRU cache reorders a queue of every template on each hit, and every
        # page includes some fifty; a build loads only the theme's, so nothing is evicted.
        env.cache = dict(env.cache.items())
    if cache_dir is not None and "theme-listing" in installed:
        list_theme_from_cache(env, cache_dir)
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
        page = file.page if file.page is not None else Page(None, file, config)
        block = memos.read_source(page, config)
        if block is not None:
            blocks.add(block)
        pages.append(page)
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
                if reusable(previous_site, live, page, digests.get(keys[page.file.src_uri]))
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
    gated = precheck.gated_entries(content)
    state = RenderState(config, files, nav, env, doc_files, search, content)
    linker: Linker | None = None
    # Chinese headings' anchors, romanized by the process loading pypinyin since the build
    # started (a first build), so neither this process nor its workers load it.
    romanizer.prefetch(
        (
            text
            for page in pages
            if page.file.src_uri not in reused
            for text in romanizer.heading_texts(page.markdown or "")
        ),
        slugs.ROMANIZED,
    )
    if stats.workers > 1:
        romanizer.stop()  # the workers must not share its pipes
    try:
        # Gated pages first: with their paid text known, workers search every other page
        # for it as they render it (the leak check then skips those files).
        first = [uri for uri in to_render if uri in gated]
        rest = [uri for uri in to_render if uri not in gated]
        early: dict[str, PageResult] = {}
        if first:  # workers forked before the matcher exists receive it through a file
            state.handoff = MatcherHandoff.create() if stats.workers > 1 else None
        else:
            _start_precheck(state, gated, early, reused, stats)  # (the workers inherit it)
        with renderer(state, first + rest, stats.workers) as rendered:
            linker = Linker(previous_site, [p for p in pages if p.file.src_uri in reused])
            if first:
                early = dict(itertools.islice(rendered, len(first)))
                _start_precheck(state, gated, early, reused, stats)
            if stats.workers > 1:  # the parent's time is free while workers render
                precheck.search_static_files(files, state.matcher, stats)
            page_cache = PageCache(cache_dir) if cache_dir is not None else None  # after forking
            merged: list[dict[str, Any]] = search.search_index.entries if search else []
            if merged:  # entries this build has no texts for
                stats.search_texts = None
            try:
                for page in pages:
                    src_uri = page.file.src_uri
                    source: Iterator[tuple[str, PageResult]] | PageResult
                    if src_uri in early:
                        source = iter([(src_uri, early.pop(src_uri))])
                    else:
                        source = reused.get(src_uri) or rendered
                    _publish(state, page, keys[src_uri], source, page_cache, stats)
                if page_cache is not None:
                    page_cache.keep_only(set(keys.values()))
            finally:
                if page_cache is not None:
                    page_cache.close()
        if cache_dir is not None:
            memos.save_memos(cache_dir, blocks)
        lap("render")

        with SearchIndexWrite(search, merged) as written:
            config.plugins.on_post_build(config=config)
        precheck.search_index(written, state.matcher, stats, config.site_dir)
        stats.linked, unlinked = linker.finish()
        linker = None
        for page in unlinked:  # its file went away since the build looked
            result = render_page(state, page.file.src_uri)
            stats.rendered += 1
            stats.digests[page.file.dest_uri] = result.digest
        lap("post_build")
    finally:
        if linker is not None:  # a failed build: its tree is discarded
            linker.stop()
        if state.handoff is not None:
            state.handoff.close()
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


def _start_precheck(
    state: RenderState,
    gated: dict[str, Any],
    early: dict[str, PageResult],
    reused: dict[str, PageResult],
    stats: FastBuildStats,
) -> None:
    """The leak matcher, once every gated page's private version is known: for this
    process, and handed to the workers forked before it."""
    state.matcher = precheck.matcher_of(gated, early, reused)
    if state.matcher is None:
        return
    stats.matcher_digest = state.matcher.digest
    if state.handoff is not None:
        state.handoff.publish(state.matcher)


def _publish(
    state: RenderState,
    page: Page,
    key: str,
    rendered: Iterator[tuple[str, PageResult]] | PageResult,
    cache: PageCache | None,
    stats: FastBuildStats,
) -> None:
    """Hand every page's search entries and private version to the plugins, in page order
    so the output never depends on timing. `rendered` is the cached result of a page whose
    published file is reused (the `Linker` links it; its entries and private version are
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
    elif state.matcher is not None and not isinstance(rendered, PageResult):
        precheck.search_written(page.file.dest_uri, page.file.abs_dest_path, state.matcher, stats)
    if state.search is not None:
        state.search.search_index.entries.extend(result.search_entries)
    if state.content is not None and result.private_html is not None:
        state.content.put_private_page(page, result.private_html)
    slugs.ROMANIZED.update(result.romanized)
    if stats.search_texts is not None and state.search is not None:
        if result.search_texts is None:
            stats.search_texts = None
        else:
            stats.search_texts.extend(result.search_texts)
