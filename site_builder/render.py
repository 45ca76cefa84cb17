"""Render pages outside mkdocs' page loop: the full (private) version of a gated page and the
page shells, with the same theme and context as the public pages but WITHOUT plugin events,
so the search index, sitemap and any other plugin only ever see the public teaser.
"""

from __future__ import annotations

import re
from typing import Any

import jinja2
from mkdocs.commands.build import get_context
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import TableOfContents, get_toc

from kp_contract.manifest import SHELL_BODY, SHELL_TITLE

_HTML_LANG = re.compile(r'<html lang="[^"]*"')
_HEAD = re.compile(r"<head>", re.IGNORECASE)


def set_html_lang(html: str, lang: str) -> str:
    """Per-page `<html lang>`: mkdocs-material takes it from `theme.language` only."""
    return _HTML_LANG.sub(f'<html lang="{lang}"', html, count=1)


def template_for(env: jinja2.Environment, page: Page) -> jinja2.Template:
    """The page's template, honouring mkdocs' `template:` front-matter key."""
    return env.get_template(page.meta.get("template", "main.html"))


def render_with_content(
    env: jinja2.Environment,
    context: dict[str, Any],
    page: Page,
    *,
    content: str,
    toc: TableOfContents,
    kp_view: Any,
) -> str:
    """Render `page` as if its HTML were `content`, then put the page back as it was."""
    saved = page.content, page.toc, context.get("kp")
    page.content, page.toc, context["kp"] = content, toc, kp_view
    try:
        return template_for(env, page).render(context)
    finally:
        page.content, page.toc, context["kp"] = saved


def render_shell(
    env: jinja2.Environment,
    config: MkDocsConfig,
    nav: Navigation,
    doc_files: list[File],
    *,
    lang: str,
    kp_view: Any,
    root_path: str,
) -> str:
    """A full themed page titled `SHELL_TITLE` whose article body is `SHELL_BODY`.

    The paywall serves shells at URLs the build does not know (/account/, sign-in results), so
    the page gets `<base href>` at the site root and its relative links work at any depth.
    """
    file = File(
        f"_kp_shell_{lang}.md",
        src_dir=None,
        dest_dir=config.site_dir,
        use_directory_urls=config.use_directory_urls,
        dest_uri="index.html",
    )
    page = Page(SHELL_TITLE, file, config)
    page.canonical_url = None  # not the home page; account pages are not for search engines
    page.content = SHELL_BODY
    page.toc = get_toc([])
    context: dict[str, Any] = {**get_context(nav, doc_files, config, page), "kp": kp_view}
    # mkdocs-material resolves its `__config.base` (search index, worker) against the page's
    # location, not against `<base href>`: make it the site root too.
    context["base_url"] = root_path
    html = template_for(env, page).render(context)
    html = set_html_lang(html, lang)
    return _HEAD.sub(f'<head>\n    <base href="{root_path}">', html, count=1)
