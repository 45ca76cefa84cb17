"""The `kp-content` mkdocs plugin: validates content, turns gated pages into teasers, renders
their full text into `private/` and writes the manifest the paywall reads.

How paid text is kept out of `site/`: in `on_page_content` (run first, priority 100) a gated
page's HTML is split; the full HTML is stashed and mkdocs continues with the teaser only, so
the search index, sitemap, table of contents and every later plugin see nothing else. The
full page is rendered from the same template and context inside `on_page_context`, without
firing plugin events, and written to `private/` in `on_post_build`.

Languages: every page has one (see page_langs.py); it picks the page's interface strings,
`<html lang>`, navigation, language switcher and `hreflang` alternates. The plugin also writes
one RSS feed per language and sitemaps with alternates (feed.py, sitemap.py).

Works the same under plain `mkdocs build` and under `kp build` (which additionally stages
both output directories, runs the leak check and swaps them in atomically). The plugin
needs nothing of the fast paths (site_builder.accel); the accelerated `kp build` hands it
a sidebar cache (`nav_cache`) and moves private pages between processes
(`take_private_page`, `put_private_page`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import jinja2
from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import TableOfContents
from mkdocs.utils.templates import TemplateContext

from kp_contract.i18n import normalize_lang
from kp_contract.manifest import write_manifest
from kp_contract.public_url import (
    VARIABLE,
    PublicUrlError,
    as_site_url,
    configured_base_url,
    same_public_url,
)
from site_builder import atomic, navigation
from site_builder.archives import Archives, build_archives
from site_builder.content import ContentIndex, Entry, build_index
from site_builder.early_check import CheckedContent, check_before_clean
from site_builder.errors import ContentErrors
from site_builder.feed import FeedLink, atom_path, feed_links, render_atom, render_feed
from site_builder.group_files import copy_group_images, group_image_errors
from site_builder.manifest_writer import make_manifest
from site_builder.render import render_shell, render_with_content, set_html_lang
from site_builder.search_langs import write_language_indexes
from site_builder.sitemap import render_sitemap, sitemap_path
from site_builder.teaser import Split, mark_teaser_end, split_html, teaser_toc
from site_builder.theme_text import ThemeText
from site_builder.views import (
    Catalog,
    View,
    archive_view,
    build_catalog,
    page_view,
    shell_view,
)

log = logging.getLogger("mkdocs.plugins.kp-content")

SHELL_DIR = "_shell"


class ContentPluginConfig(base.Config):
    """`plugins: - kp-content: {…}` in mkdocs.yml."""

    private_dir = c.Type(str, default="private")
    """Where full gated pages and the manifest go, relative to mkdocs.yml. Never serve it."""
    manifest = c.Type(str, default="manifest.json")
    """Manifest file name inside `private_dir`."""
    teaser_marker = c.Type(str, default="<!-- more -->")
    """A line holding only this ends the public teaser of a gated page."""
    drafts = c.Type(bool, default=False)
    """Publish `draft: true` pages and articles dated in the future (previews)."""
    shell_langs = c.ListOfItems(c.Choice(("en", "zh")), default=["en", "zh"])
    """Languages to write page shells for (`private/_shell/<lang>.html`)."""
    feed = c.Type(bool, default=True)
    """Write RSS feeds, `feed.xml` and `<lang>/feed.xml` per other language (titles and
    summaries of free articles; needs `site_url`)."""


class SidebarCache(Protocol):
    """`kp_nav_cache(page, nav)` in templates (themes/partials/nav.html): the sidebar's HTML
    for `page`, from `caller()` (which renders it) or a cache."""

    def __call__(self, page: Any, nav: Any, caller: Callable[[], str]) -> str: ...

    def clear(self) -> None: ...


class ContentPlugin(BasePlugin[ContentPluginConfig]):
    """Content model, teasers, private pages, manifest. See the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.index = ContentIndex()
        self._checked: CheckedContent | None = None
        """The index `on_pre_build` validated, for `on_files` (site_builder/early_check.py)."""
        self.catalog = Catalog()
        self.archives = Archives()
        self.nav_cache: SidebarCache | None = None
        """Set by the accelerated build (site_builder.accel.nav_cache); without one, every
        page renders its sidebar."""
        self._catalogs: dict[str, Catalog] = {}
        self.private_path: Path | None = None
        self._env: jinja2.Environment | None = None
        self._nav: Navigation | None = None
        self._navs: dict[str, Navigation] = {}
        self._feeds: tuple[FeedLink, ...] = ()
        self._files: Files | None = None
        self._splits: dict[str, Split] = {}
        self._full_tocs: dict[str, TableOfContents] = {}
        self._private_pages: dict[str, str] = {}
        self.site_url: str | None = None
        """The public URL to build for, set by `kp demo` and `kp serve --watch` (through
        `build_site(site_url=…)`); None: KP_BASE_URL, else mkdocs.yml's `site_url`."""
        self.site_url_note: str | None = None
        """After `on_config`: one line saying the build's site_url is not mkdocs.yml's."""

    # -- configuration ------------------------------------------------------------------

    @event_priority(100)  # before any plugin that reads site_url
    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        self.private_path = resolve_private_dir(config, self.config)
        problem = unsafe_private_dir(self.private_path, config)
        if problem:
            raise PluginError(f"kp-content: {problem}")
        self.site_url_note = apply_public_url(config, self.site_url)
        if self.site_url_note:
            log.info("kp-content: %s", self.site_url_note)
        return config

    # -- content model --------------------------------------------------------------------

    def on_pre_build(self, config: MkDocsConfig) -> None:
        """Validate every page before mkdocs empties site_dir: a content error then keeps
        the last good site under plain `mkdocs build` too, not only under `kp build`."""
        self._checked = None
        self._checked = check_before_clean(
            config,
            label_prefix=label_prefix(config),
            default_lang=site_lang(config),
            drafts=self.config.drafts,
        )

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        """Validate every page (all errors at once), drop unpublished ones, set URLs."""
        docs_dir = Path(config.docs_dir)
        pages = {f.src_uri: f for f in files.documentation_pages()}
        checked, self._checked = self._checked, None
        known = checked.for_pages(pages, self.config.drafts) if checked else None
        self.index = known or build_index(
            docs_dir,
            pages,
            dict(config.extra),
            label_prefix=label_prefix(config),
            drafts=self.config.drafts,
            default_lang=site_lang(config),
        )
        errors = self.index.errors + group_image_errors(self.index, config_dir(config), docs_dir)
        if errors:
            raise ContentErrors(errors)
        self.catalog = build_catalog(self.index)
        self._catalogs = {lang: build_catalog(self.index, lang) for lang in self.index.langs()}
        for src_uri, file in pages.items():
            entry = self.index.entries[src_uri]
            if not entry.published:
                files.remove(file)
            elif file.dest_uri != entry.dest_uri:
                files.remove(file)
                files.append(_moved(file, entry.dest_uri))
        self._add_archives(files, config)
        self._files = files
        self._feeds = self._feed_links(config)
        self._splits.clear()
        if self.nav_cache is not None:
            self.nav_cache.clear()
        self._full_tocs.clear()
        self._private_pages.clear()
        return files

    def _add_archives(self, files: Files, config: MkDocsConfig) -> None:
        """Generated archive and tag pages (archives.py); content/ keeps its own URLs."""
        taken = set()
        for file in files:
            taken.add(file.src_uri)
            if file.dest_uri.endswith("index.html"):
                taken.add(file.dest_uri.removesuffix("index.html") + "index.md")
        self.archives = build_archives(self.index, taken)
        for src_uri, page in list(self.archives.pages.items()):
            if src_uri in taken:
                log.warning("kp-content: %s exists in content/, no archive page there", src_uri)
                del self.archives.pages[src_uri]
                continue
            files.append(File.generated(config, src_uri, content=page.markdown()))

    def on_nav(self, nav: Navigation, config: MkDocsConfig, files: Files) -> Navigation:
        """Arrange one navigation per language; an explicit `nav:` is kept as written."""
        if config.nav is None:
            self._navs = navigation.arrange_all(nav, self.index, self.archives)
            nav = self._navs[self.index.default_lang]
        else:
            self._navs = {lang: nav for lang in self.index.langs()}
        self._nav = nav
        return nav

    def take_private_page(self, page: Page) -> str | None:
        """The full version rendered for a gated `page`, handed over (kp build's page cache
        and worker processes move it between builds and processes)."""
        entry = self._entry(page)
        return self._private_pages.pop(entry.dest_uri, None) if entry is not None else None

    def put_private_page(self, page: Page, html: str) -> None:
        """Give back a full version `take_private_page` handed out (or a cached one)."""
        entry = self._entry(page)
        if entry is None:
            raise PluginError(f"kp-content: {page.file.src_uri} is not a content page")
        self._private_pages[entry.dest_uri] = html

    def _catalog_for(self, lang: str) -> Catalog:
        """What is for sale, with tier titles in `lang`."""
        return self._catalogs.get(lang, self.catalog)

    def _nav_for(self, lang: str) -> Navigation:
        assert self._nav is not None
        return self._navs.get(lang, self._nav)

    def _feed_links(self, config: MkDocsConfig) -> tuple[FeedLink, ...]:
        if not self.config.feed or not config.site_url:
            return ()
        return tuple(feed_links(self.index, config.site_name))

    def _entry(self, page: Page) -> Entry | None:
        return self.index.entries.get(page.file.src_uri)

    def on_page_markdown(
        self, markdown: str, page: Page, config: MkDocsConfig, files: Files
    ) -> str:
        entry = self._entry(page)
        if entry is None:
            return markdown
        # The meta description comes from the editor's `summary`, never from the body.
        page.meta.pop("description", None)
        if entry.meta.summary:
            page.meta["description"] = entry.meta.summary
        if entry.gated:
            return mark_teaser_end(markdown, self.config.teaser_marker)
        return markdown

    @event_priority(100)
    def on_page_content(self, html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
        """Gated pages continue as teaser only; the full HTML waits for the private render."""
        entry = self._entry(page)
        if entry is None or not entry.gated:
            return html
        split = split_html(html)
        self._splits[entry.src_uri] = split
        self._full_tocs[entry.src_uri] = page.toc
        page.toc = teaser_toc(page.toc, split.teaser)
        return split.teaser

    # -- rendering ------------------------------------------------------------------------

    def on_env(self, env: jinja2.Environment, config: MkDocsConfig, files: Files) -> Any:
        self._env = env
        env.globals["kp_theme_text"] = ThemeText(env)
        return env

    def on_page_context(
        self, context: TemplateContext, /, *, page: Page, config: MkDocsConfig, nav: Navigation
    ) -> TemplateContext:
        variables = template_variables(context)
        entry = self._entry(page)
        if entry is None:
            self._archive_context(variables, page)
            return context
        split = self._splits.get(entry.src_uri)
        site_url = config.site_url or ""
        variables["nav"] = self._nav_for(entry.lang)
        if self.nav_cache is not None:
            variables["kp_nav_cache"] = self.nav_cache
        view: View = "teaser" if split else "public"
        catalog = self._catalog_for(entry.lang)
        tags = self.archives.tag_links.get(entry.src_uri, ())
        variables["kp"] = page_view(
            entry, self.index, catalog, view, tags=tags, site_url=site_url, feeds=self._feeds
        )
        if split is not None:
            assert self._env is not None
            html = render_with_content(
                self._env,
                variables,
                page,
                content=split.full,
                toc=self._full_tocs[entry.src_uri],
                kp_view=page_view(
                    entry,
                    self.index,
                    catalog,
                    "full",
                    tags=tags,
                    site_url=site_url,
                    feeds=self._feeds,
                ),
            )
            self._private_pages[entry.dest_uri] = set_html_lang(html, entry.lang)
        return context

    def _archive_context(self, variables: dict[str, Any], page: Page) -> None:
        archive = self.archives.pages.get(page.file.src_uri)
        if archive is not None:
            variables["nav"] = self._nav_for(archive.lang)
            if self.nav_cache is not None:
                variables["kp_nav_cache"] = self.nav_cache
            catalog = self._catalog_for(archive.lang)
            variables["kp"] = archive_view(
                archive, self.index, catalog, self.archives, feeds=self._feeds
            )

    def on_post_page(self, output: str, page: Page, config: MkDocsConfig) -> str:
        entry = self._entry(page)
        if entry is not None:
            return set_html_lang(output, entry.lang)
        archive = self.archives.pages.get(page.file.src_uri)
        return set_html_lang(output, archive.lang) if archive is not None else output

    def on_template_context(
        self, context: TemplateContext, /, *, template_name: str, config: MkDocsConfig
    ) -> TemplateContext:
        """`sitemap.xml` (themes/sitemap.xml) prints our sitemap with hreflang alternates."""
        if template_name == "sitemap.xml":
            sitemap = render_sitemap(self.index, config.site_url or "")
            template_variables(context)["kp_sitemap"] = sitemap
        return context

    # -- feeds, sitemaps, private output ----------------------------------------------------

    def on_post_build(self, config: MkDocsConfig) -> None:
        """Write feeds and per-language sitemaps, then private pages, shells and the
        manifest (staged, swapped in)."""
        self._write_feeds(config)
        self._write_language_sitemaps(config)
        self._write_language_search(config)
        self._write_private(config)

    def _write_feeds(self, config: MkDocsConfig) -> None:
        if self.config.feed and not config.site_url:
            log.info("kp-content: no site_url, so no feed.xml (feed links must be absolute)")
        for feed in self._feeds:
            home = self.index.home(feed.lang)
            summary = home.meta.summary if home is not None and home.lang == feed.lang else ""
            site_url = config.site_url or ""  # (set: there are no feeds without it)
            description = summary or config.site_description or ""
            others = list(self._feeds)
            site = Path(config.site_dir)
            for path, render in (
                (feed.path, render_feed),
                (atom_path(feed.lang, self.index.default_lang), render_atom),
            ):
                text = render(
                    self.index,
                    lang=feed.lang,
                    site_name=config.site_name,
                    site_url=site_url,
                    description=description,
                    others=others,
                )
                _write(site / path, text)

    def _write_language_sitemaps(self, config: MkDocsConfig) -> None:
        langs = self.index.langs()
        if len(langs) < 2:
            return
        for lang in langs:
            xml = render_sitemap(self.index, config.site_url or "", lang)
            _write(Path(config.site_dir) / sitemap_path(lang), xml)

    def _write_language_search(self, config: MkDocsConfig) -> None:
        """`search/search_index.<lang>.json` from the index the search plugin (which runs
        first) has just written."""
        page_langs = {e.url: e.lang for e in self.index.published()}
        page_langs.update({p.url: p.lang for p in self.archives.pages.values()})
        write_language_indexes(Path(config.site_dir), page_langs)

    def _write_private(self, config: MkDocsConfig) -> None:
        assert self.private_path is not None
        missing = sorted(
            e.src_uri for e in self.index.gated() if e.dest_uri not in self._private_pages
        )
        if missing:
            raise PluginError(f"kp-content: no private page rendered for {', '.join(missing)}")
        staged = atomic.staging_dir(self.private_path)
        try:
            for dest_uri, html in self._private_pages.items():
                _write(staged / dest_uri, html)
            shells = self._write_shells(config, staged)
            copy_group_images(self.index, config_dir(config), staged)
            manifest = make_manifest(
                self.index,
                self.catalog,
                site_name=config.site_name,
                site_url=config.site_url or "",
                shells=shells,
                default_lang=self.index.default_lang,
            )
            write_manifest(manifest, staged / self.config.manifest)
            atomic.replace_dir(staged, self.private_path)
        except BaseException:
            atomic.discard(staged)
            raise
        log.info(
            "kp-content: %d gated page(s), %d shell(s) written to %s",
            len(self._private_pages),
            len(shells),
            self.private_path,
        )

    def _write_shells(self, config: MkDocsConfig, staged: Path) -> dict[str, str]:
        assert self._env is not None and self._nav is not None and self._files is not None
        root = urlsplit(config.site_url or "").path or "/"
        shells = {}
        for lang in self.config.shell_langs:
            html = render_shell(
                self._env,
                config,
                self._nav_for(lang),
                list(self._files.documentation_pages()),
                lang=lang,
                kp_view=shell_view(lang, self.index, self._catalog_for(lang), feeds=self._feeds),
                root_path=root if root.endswith("/") else f"{root}/",
            )
            relative = f"{SHELL_DIR}/{lang}.html"
            _write(staged / relative, html)
            shells[lang] = relative
        return shells


def config_dir(config: MkDocsConfig) -> Path:
    """The folder of mkdocs.yml: paths in `extra` that are not under docs_dir start there."""
    return Path(config.config_file_path or ".").resolve().parent


def apply_public_url(config: MkDocsConfig, explicit: str | None = None) -> str | None:
    """Make `config.site_url` the site's one public URL (kp_contract.public_url): `explicit`,
    else KP_BASE_URL when set, else mkdocs.yml's. Everything absolute the build writes
    (mkdocs-material's canonical links, hreflang, sitemaps, feeds, the manifest) reads
    `config.site_url`, so plain `mkdocs build` follows KP_BASE_URL too. Returns a line
    saying so when the URL used differs from mkdocs.yml's, else None."""
    source = "the serving URL" if explicit is not None else VARIABLE
    wanted = explicit if explicit is not None else configured_base_url()
    if wanted is None:
        return None
    try:
        site_url = as_site_url(wanted)
    except PublicUrlError as exc:
        raise PluginError(f"kp-content: {exc}") from None
    configured = config.site_url or ""
    config.site_url = site_url
    if not configured or same_public_url(configured, site_url):
        return None
    return f"building for {site_url} ({source}), not mkdocs.yml's site_url {configured}"


def template_variables(context: TemplateContext) -> dict[str, Any]:
    """A page's template context as what it is: the dict of the template's variables, to
    which plugins add their own. (mkdocs types it with its own keys only.)"""
    return context  # type: ignore[return-value]  # mkdocs' TemplateContext is a closed TypedDict, but plugins are meant to add keys (its page_context event)


def site_lang(config: MkDocsConfig) -> str:
    """The site's default content language, from `theme.language` ('zh-Hans' → 'zh')."""
    return normalize_lang(config.theme.get("language"))


def _project_dir(config: MkDocsConfig) -> Path:
    """The directory holding mkdocs.yml; relative plugin paths start there."""
    return Path(config.config_file_path or "mkdocs.yml").resolve().parent


def resolve_private_dir(config: MkDocsConfig, plugin_config: ContentPluginConfig) -> Path:
    """`private_dir` as an absolute path (relative ones are relative to mkdocs.yml)."""
    private = Path(plugin_config.private_dir)
    return private if private.is_absolute() else _project_dir(config) / private


def unsafe_private_dir(
    private: Path, config: MkDocsConfig, site_dir: Path | None = None
) -> str | None:
    """Why `private` must not be used (it would publish paid pages or replace the project
    when swapped in), or None when it is a safe place."""
    site = site_dir or Path(config.site_dir)
    docs, project = Path(config.docs_dir), _project_dir(config)
    if atomic.same_or_inside(private, site):
        return f"private_dir {private} is inside site_dir {site}: paid pages would be public"
    if atomic.same_or_inside(private, docs):
        return f"private_dir {private} is inside docs_dir {docs}"
    for protected in (project, docs, site):
        if atomic.same_or_inside(protected, private):
            return f"private_dir {private} would contain {protected}"
    return None


def label_prefix(config: MkDocsConfig) -> str:
    """How errors name files: `content/…` relative to mkdocs.yml when possible."""
    docs = Path(config.docs_dir).resolve()
    project = _project_dir(config)
    try:
        return f"{docs.relative_to(project).as_posix()}/"
    except ValueError:
        return f"{docs.as_posix()}/"


def _moved(file: File, dest_uri: str) -> File:
    """The same source file with a new output path (and so a new URL)."""
    return File(
        file.src_uri,
        file.src_dir,
        file.dest_dir,
        file.use_directory_urls,
        dest_uri=dest_uri,
        inclusion=file.inclusion,
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8", errors="xmlcharrefreplace"))
