"""Paginated article archives and tag pages, one set per language.

The navigation lists sections, courses with their lessons and pages — not every article:
rendering a sidebar of N articles into each of N pages made the build quadratic (on 1,000
articles mkdocs-material spent most of its time there) and every page heavy. Readers find
articles here instead, newest first:

- `articles/`, `articles/page/2/`, … — every article of the language, `PER_PAGE` per page;
- `tags/` — the language's tags with their article counts;
- `tags/<tag>/`, `tags/<tag>/page/2/`, … — the articles of one tag.

Other languages get the same under their prefix (`zh/articles/`, `zh/tags/…`). The pages are
mkdocs files generated in memory (front matter only: title, excluded from search) rendered
by the theme like any page; `ArchiveView` is what their template lists. When `content/`
already has `articles/index.md` (a hand-written section page), the first archive page moves
to `articles/page/1/`.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from kp_contract.i18n import format_date, t
from site_builder.content import ContentIndex, Entry
from site_builder.page_langs import lang_prefix
from site_builder.slugs import slugify

PER_PAGE = 20
ArchiveKind = Literal["articles", "tags", "tag"]


@dataclass(frozen=True)
class TagLink:
    name: str
    url: str
    count: int = 0


@dataclass(frozen=True)
class ArchiveItem:
    """One article in a listing (URLs are site-relative, for the `url` filter)."""

    title: str
    url: str
    lang: str
    date: str
    date_iso: str
    summary: str
    tags: tuple[TagLink, ...] = ()


@dataclass(frozen=True)
class ArchiveView:
    """The `kp.archive` template variable of one archive page."""

    kind: ArchiveKind
    heading: str
    number: int
    pages: int
    items: tuple[ArchiveItem, ...] = ()
    tags: tuple[TagLink, ...] = ()
    newer: str | None = None
    older: str | None = None
    page_label: str = ""
    newer_label: str = ""
    older_label: str = ""


@dataclass(frozen=True)
class ArchivePage:
    """A generated page: where it goes, its language and what it lists."""

    src_uri: str
    lang: str
    title: str
    group: str
    """Equivalent pages across languages share it ('articles', 'tags', 'tag:<slug>')."""
    view: ArchiveView

    @property
    def url(self) -> str:
        head = posixpath.dirname(self.src_uri)
        return f"{head}/" if head else ""

    def markdown(self) -> str:
        """The page's source: front matter only (title, kept out of the search index)."""
        title = self.title.replace("\\", "\\\\").replace('"', '\\"')
        return f'---\ntitle: "{title}"\nsearch:\n  exclude: true\n---\n'


@dataclass
class Archives:
    """Every generated page of the site, and the tag links of each article."""

    pages: dict[str, ArchivePage] = field(default_factory=dict)
    first: dict[tuple[str, str], ArchivePage] = field(default_factory=dict)
    """(lang, group) → the group's first page, for the navigation and the switcher."""
    tag_links: dict[str, tuple[TagLink, ...]] = field(default_factory=dict)
    """Article src_uri → links to its tag pages."""

    def of_lang(self, lang: str) -> list[ArchivePage]:
        return [page for page in self.pages.values() if page.lang == lang]

    def articles_page(self, lang: str) -> ArchivePage | None:
        return self.first.get((lang, "articles"))

    def tags_page(self, lang: str) -> ArchivePage | None:
        return self.first.get((lang, "tags"))


def _paged_uri(base: str, number: int, taken: set[str]) -> str:
    """`articles/index.md` for page 1 (unless content/ has it), `articles/page/N/index.md`."""
    first = f"{base}index.md"
    if number == 1 and first not in taken:
        return first
    return f"{base}page/{number}/index.md"


def _item(entry: Entry, tags: tuple[TagLink, ...]) -> ArchiveItem:
    return ArchiveItem(
        title=entry.meta.title,
        url=entry.url,
        lang=entry.lang,
        date=format_date(entry.meta.date, entry.lang),
        date_iso=entry.meta.date.isoformat(),
        summary=entry.meta.summary,
        tags=tags,
    )


def _paginate(
    archives: Archives,
    *,
    base: str,
    lang: str,
    group: str,
    kind: ArchiveKind,
    heading: str,
    items: list[ArchiveItem],
    taken: set[str],
) -> None:
    pages = max(1, math.ceil(len(items) / PER_PAGE))
    uris = [_paged_uri(base, number, taken) for number in range(1, pages + 1)]
    url = [posixpath.dirname(uri) + "/" for uri in uris]
    for number in range(1, pages + 1):
        label = t(lang, "archive.page_n", n=number, total=pages) if pages > 1 else ""
        title = heading if number == 1 else t(lang, "archive.title_page", title=heading, n=number)
        view = ArchiveView(
            kind=kind,
            heading=heading,
            number=number,
            pages=pages,
            items=tuple(items[(number - 1) * PER_PAGE : number * PER_PAGE]),
            newer=url[number - 2] if number > 1 else None,
            older=url[number] if number < pages else None,
            page_label=label,
            newer_label=t(lang, "archive.newer"),
            older_label=t(lang, "archive.older"),
        )
        page = ArchivePage(uris[number - 1], lang, title, group, view)
        archives.pages[page.src_uri] = page
        archives.first.setdefault((lang, group), page)


def _tags_of(articles: Iterable[Entry], prefix: str) -> dict[str, tuple[str, list[Entry]]]:
    """Tag slug → (display name, articles newest first); the first spelling names the tag
    (`Growth` and `growth` are one tag, at tags/growth/; Chinese tags get pinyin slugs)."""
    found: dict[str, tuple[str, list[Entry]]] = {}
    for entry in articles:
        for tag in dict.fromkeys(entry.meta.tags):
            slug = slugify(tag)
            if slug:
                found.setdefault(slug, (tag, []))[1].append(entry)
    return dict(sorted(found.items()))


def build_archives(index: ContentIndex, taken: Iterable[str]) -> Archives:
    """Archive and tag pages for every language with published articles. `taken` are the
    src_uris of content/, which generated pages never replace."""
    taken = set(taken)
    archives = Archives()
    newest_first = index.articles_newest_first()
    for lang in index.langs():
        articles = [entry for entry in newest_first if entry.lang == lang]
        if not articles:
            continue
        prefix = lang_prefix(lang, index.default_lang)
        tags = _tags_of(articles, prefix)
        links = {
            slug: TagLink(name, f"{prefix}tags/{slug}/", len(entries))
            for slug, (name, entries) in tags.items()
        }
        for entry in articles:
            archives.tag_links[entry.src_uri] = tuple(
                links[slug]
                for slug in dict.fromkeys(slugify(tag) for tag in entry.meta.tags)
                if slug in links
            )
        items = {e.src_uri: _item(e, archives.tag_links[e.src_uri]) for e in articles}
        _paginate(
            archives,
            base=f"{prefix}articles/",
            lang=lang,
            group="articles",
            kind="articles",
            heading=t(lang, "nav.articles"),
            items=[items[e.src_uri] for e in articles],
            taken=taken,
        )
        if not tags:
            continue
        by_count = sorted(links.values(), key=lambda link: (-link.count, link.name))
        tags_uri = f"{prefix}tags/index.md"
        if tags_uri not in taken:
            view = ArchiveView("tags", t(lang, "nav.tags"), 1, 1, tags=tuple(by_count))
            page = ArchivePage(tags_uri, lang, t(lang, "nav.tags"), "tags", view)
            archives.pages[tags_uri] = page
            archives.first[(lang, "tags")] = page
        for slug, (name, entries) in tags.items():
            _paginate(
                archives,
                base=f"{prefix}tags/{slug}/",
                lang=lang,
                group=f"tag:{slug}",
                kind="tag",
                heading=t(lang, "archive.tagged", tag=name),
                items=[items[e.src_uri] for e in entries],
                taken=taken,
            )
    return archives
