"""Rendering one page, in this process or in forked workers.

`render_page` is mkdocs' `_populate_page` + `_build_page` (mkdocs 1.6) for one page, with one
Markdown converter per process reset between pages instead of one built for each. The
worker that renders a page writes its file itself (pages never share one), so only the
small rest of the result (`PageResult`) travels back to the parent. What rendering needs is
set up once by the build and handed to the workers as one object, `RenderState`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jinja2
import markdown
from markdown import treeprocessors
from mkdocs.commands.build import get_context
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import BuildError
from mkdocs.structure.files import File, Files
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import (
    Page,
    _ExtractAnchorsTreeprocessor,
    _ExtractTitleTreeprocessor,
    _RawHTMLPreprocessor,
    _RelativePathTreeprocessor,
)
from mkdocs.structure.toc import get_toc
from mkdocs.utils import write_file

from site_builder import leaks, slugs
from site_builder.accel import segmenter
from site_builder.accel.precheck import MatcherHandoff
from site_builder.accel.results import PageResult
from site_builder.accel.workers import fork_pool, state_of
from site_builder.plugins.content import ContentPlugin

log = logging.getLogger("mkdocs.kp.accel")


@dataclass
class RenderState:
    """What rendering a page needs, set up once by the build (the navigation and theme
    included) and handed to the workers it forks."""

    config: MkDocsConfig
    files: Files
    nav: Navigation
    env: jinja2.Environment
    doc_files: list[File]
    search: Any
    """The search plugin (mkdocs-material's, untyped), or None."""
    content: ContentPlugin | None
    matcher: leaks.Matcher | None = None
    """The leak matcher, once every gated page is rendered: pages rendered after that are
    searched for paid text by the worker that renders them (precheck.py)."""
    handoff: MatcherHandoff | None = None
    """How workers forked before `matcher` was known receive it."""

    def current_matcher(self) -> leaks.Matcher | None:
        """The matcher to search a just rendered page with, if it is known (here, or
        handed over by the parent since this worker was forked)."""
        if self.matcher is None and self.handoff is not None:
            self.matcher = self.handoff.receive()
        return self.matcher


_MARKDOWN: dict[str, markdown.Markdown] = {}
"""This process's Markdown converters, by configuration (`markdown_for`)."""


def markdown_for(config: MkDocsConfig) -> markdown.Markdown:
    """One Markdown converter per process and configuration, `reset()` between pages as
    Python-Markdown intends: building it with every extension costs more than converting
    a typical page. (Keyed by the inline processor class too: the `inline-processor`
    replacement applies to converters built while it is installed.)"""
    key = repr(
        (
            config["markdown_extensions"],
            sorted((config["mdx_configs"] or {}).items()),
            treeprocessors.InlineProcessor.__qualname__,
        )
    )
    md = _MARKDOWN.get(key)
    if md is None:
        if len(_MARKDOWN) > 8:  # a long-lived process building many sites
            _MARKDOWN.clear()
        md = _MARKDOWN[key] = markdown.Markdown(
            extensions=config["markdown_extensions"],
            extension_configs=config["mdx_configs"] or {},
        )
    md.reset()
    return md


def _render_markdown(page: Page, config: MkDocsConfig, files: Files) -> None:
    """`Page.render` (mkdocs 1.6) with a reused converter; mkdocs' per-page processors are
    registered again under their names, replacing the previous page's."""
    if page.markdown is None:
        raise RuntimeError("`markdown` field hasn't been set (via `read_source`)")
    md = markdown_for(config)
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
        if page.markdown is None:
            raise BuildError(f"no Markdown read for '{page.file.src_uri}'")
        page.markdown = config.plugins.on_page_markdown(
            page.markdown, page=page, config=config, files=files
        )
        _render_markdown(page, config, files)
        if page.content is None:
            raise BuildError(f"no HTML rendered for '{page.file.src_uri}'")
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


def render_page(state: RenderState, src_uri: str) -> PageResult:
    """mkdocs' `_populate_page` + `_build_page` for one page: writes its file, returns the
    rest of what the build needs of it."""
    file = state.files.get_file_from_path(src_uri)
    if file is None or file.page is None:
        raise BuildError(f"kp build: no page {src_uri} to render")
    page, config = file.page, state.config
    entries = state.search.search_index.entries if state.search else []
    before = len(entries)
    slugs.NEWLY_ROMANIZED.clear()
    _populate(page, config, state.files)
    config._current_page = page
    try:
        page.active = True
        context = get_context(state.nav, state.doc_files, config, page)
        template = state.env.get_template(page.meta.get("template", "main.html"))
        context = config.plugins.on_page_context(context, page=page, config=config, nav=state.nav)
        output = template.render(context)
        output = config.plugins.on_post_page(output, page=page, config=config)
    except Exception as exc:
        message = f"Error building page '{src_uri}':"
        raise BuildError(message if isinstance(exc, BuildError) else f"{message} {exc}") from exc
    finally:
        page.active = False
        config._current_page = None
    private = state.content.take_private_page(page) if state.content else None
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
        matcher = state.current_matcher()
        if matcher is not None:
            result.leaks = matcher.leaks_in(page.file.dest_uri, data)
            result.matcher = matcher.digest
    return result


def _render_in_worker(src_uri: str) -> tuple[str, PageResult | str]:
    """Worker: `render_page` with the state the pool was handed; an error as its text
    (reported by the parent as a failed build)."""
    try:
        return src_uri, render_page(state_of(RenderState), src_uri)
    except Exception as exc:
        return src_uri, f"{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def renderer(
    state: RenderState, src_uris: list[str], jobs: int
) -> Iterator[Iterator[tuple[str, PageResult]]]:
    """The results of rendering `src_uris`, in that order: by a pool of `jobs` forked
    workers, or in this process when one worker is enough."""
    if jobs <= 1:
        yield ((src_uri, render_page(state, src_uri)) for src_uri in src_uris)
        return
    chunk = max(1, min(16, len(src_uris) // (jobs * 8)))
    segmenter.load_before_fork()
    with fork_pool(jobs, state) as pool:

        def results() -> Iterator[tuple[str, PageResult]]:
            for src_uri, result in pool.imap(_render_in_worker, src_uris, chunksize=chunk):
                if isinstance(result, str):
                    raise BuildError(result)
                yield src_uri, result

        yield results()
