"""The automatic navigation, arranged for a publication and per language.

mkdocs derives navigation from folders: `Articles` in file-name order, `Courses › Community
launch`, and a `Pages` folder. Readers expect the newest article first, articles grouped by
language, course sections named after the course, and about/join/pricing at the top level.

The navigation is pruned to what a reader needs on every page: the home page, an `Articles`
section holding the language's paginated archive and tag index (site_builder/archives.py),
a section leading to each other language's archive (titled in the page's language), the
courses in the navigation's language with their lessons, and the pages that exist in it.
Courses and pages written only in another language are reached through that language's
navigation and the language switcher, so no sidebar, breadcrumb or previous/next link shows
the reader text in a language other than the page's. Articles themselves are not listed:
every page rendering the whole site's articles made the build quadratic. An article still
belongs to its language's `Articles` section (breadcrumbs, the section open in the sidebar)
and links to the previous and next article of that language in the footer.

A bilingual site gets one navigation per language, like mkdocs-static-i18n builds: a page
and its translations are one item, shown in the navigation's language, with section titles
in the navigation's language. Every page is rendered with the navigation of its own
language, so its sidebar, breadcrumbs and previous/next links stay in that language. An
explicit `nav:` in mkdocs.yml is left exactly as written (for every language).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mkdocs.structure import StructureItem
from mkdocs.structure.nav import Navigation, Section
from mkdocs.structure.pages import Page

from kp_contract.i18n import t
from site_builder.archives import Archives
from site_builder.content import ContentIndex, Entry


@dataclass
class _Builder:
    """Collects one language's items; `take` hands out each page once."""

    by_src: dict[str, Page]
    placed: set[str] = field(default_factory=set)

    def take(self, src_uri: str) -> Page | None:
        page = self.by_src.get(src_uri)
        if page is not None and src_uri not in self.placed:
            self.placed.add(src_uri)
            return page
        return None


def version_for(index: ContentIndex, entry: Entry, lang: str) -> Entry:
    """The version of `entry` a reader of `lang` sees: theirs, else the default language's,
    else the entry itself (a page that exists in one language only)."""
    versions = index.translations(entry)
    return versions.get(lang) or versions.get(index.default_lang) or entry


def _one_per_group(index: ContentIndex, entries: list[Entry], lang: str) -> list[Entry]:
    """`entries` with each translation group replaced by its version for `lang`, in order."""
    chosen: dict[str, Entry] = {}
    for entry in entries:
        if entry.base_uri not in chosen:
            chosen[entry.base_uri] = version_for(index, entry, lang)
    return list(chosen.values())


def arrange(
    nav: Navigation, index: ContentIndex, lang: str, archives: Archives | None = None
) -> Navigation:
    """Home, article archives per language, courses, then the other pages, for readers of
    `lang`. Pages are not modified; `adopt` links them to the navigation of their language."""
    archives = archives or Archives()
    builder = _Builder({page.file.src_uri: page for page in nav.pages})
    builder.placed.update(archives.pages)  # only first pages are listed, by _article_sections
    builder.placed.update(e.src_uri for e in index.published("article"))
    items: list[StructureItem] = []
    home = index.home(lang)
    home_page = builder.take(home.src_uri) if home else None
    if home_page is not None:
        items.append(home_page)
    items.extend(_article_sections(index, builder.by_src, archives, lang))
    courses = _course_sections(index, builder.take, lang)
    if courses:
        items.append(Section(t(lang, "nav.courses"), courses))
    pages = [e for e in index.published() if e.kind == "page"]
    for entry in _one_per_group(index, pages, lang):
        page = builder.take(entry.src_uri) if _shown_in(index, entry, lang) else None
        if page is not None:
            items.append(page)
    languages = {e.src_uri: e.lang for e in index.published()}
    items.extend(
        page
        for src, page in builder.by_src.items()
        if src not in builder.placed and languages.get(src, index.default_lang) == lang
    )
    result = Navigation(items, _flatten(items))
    result.homepage = home_page
    return result


def _shown_in(index: ContentIndex, entry: Entry, lang: str) -> bool:
    """Whether a navigation in `lang` lists `entry`: its language's version, or any version
    on a single-language site (or when the page's language is not one of the site's)."""
    return entry.lang == lang or len(index.langs()) < 2


def _article_sections(
    index: ContentIndex, by_src: dict[str, Page], archives: Archives, lang: str
) -> list[StructureItem]:
    """`Articles` (the language's archive and tags), then `Articles in <language>` for each
    other language that has articles, titled in the navigation's language."""
    langs = sorted(
        {lang_ for lang_, group in archives.first if group == "articles"},
        key=lambda other: (other != lang, other),
    )
    sections: list[StructureItem] = []
    for section_lang in langs:
        firsts = [archives.articles_page(section_lang)]
        if section_lang == lang:
            firsts.append(archives.tags_page(section_lang))
        pages: list[StructureItem] = [
            by_src[p.src_uri] for p in firsts if p is not None and p.src_uri in by_src
        ]
        if not pages:
            continue
        if section_lang == lang or len(langs) == 1:
            title = t(lang, "nav.articles")
        else:
            title = t(lang, f"nav.articles_in_{section_lang}")
        sections.append(Section(title, pages))
    return sections


def _course_sections(
    index: ContentIndex, take: Callable[[str], Page | None], lang: str
) -> list[StructureItem]:
    sections: list[StructureItem] = []
    for course in index.courses.values():
        if not _shown_in(index, course.entry, lang):
            continue
        landing = take(course.entry.src_uri)
        children: list[StructureItem] = [landing] if landing else []
        children += [p for lesson in course.lessons if (p := take(lesson.src_uri)) is not None]
        if children:
            sections.append(Section(course.meta.title, children))
    return sections


def _flatten(items: list[StructureItem]) -> list[Page]:
    pages: list[Page] = []
    for item in items:
        if isinstance(item, Page):
            pages.append(item)
        elif isinstance(item, Section):
            pages.extend(_flatten(item.children))
    return pages


def adopt(nav: Navigation, owns: Callable[[Page], bool]) -> None:
    """Give the pages `owns` selects their parent section and previous/next links in `nav`.

    A page can appear in several languages' navigations (another language's archive is
    listed in each), but it is rendered with one: its own language's. Previous/next links
    only join pages `owns` selects, so they never lead into another language.
    """
    _set_parents(nav.items, None, owns)
    pages = [page for page in nav.pages if owns(page)]
    for number, page in enumerate(pages):
        if owns(page):
            page.previous_page = pages[number - 1] if number > 0 else None
            page.next_page = pages[number + 1] if number + 1 < len(pages) else None


def _set_parents(
    items: list[StructureItem], parent: Section | None, owns: Callable[[Page], bool]
) -> None:
    for item in items:
        if isinstance(item, Section):
            item.parent = parent
            _set_parents(item.children, item, owns)
        elif isinstance(item, Page) and owns(item):
            item.parent = parent


def arrange_all(
    nav: Navigation, index: ContentIndex, archives: Archives | None = None
) -> dict[str, Navigation]:
    """One arranged navigation per language of the site; pages adopt their language's, and
    articles and archive pages (not listed) their language's `Articles` section."""
    archives = archives or Archives()
    navs = {lang: arrange(nav, index, lang, archives) for lang in index.langs()}
    languages = {e.src_uri: e.lang for e in index.entries.values()}
    languages.update({src: page.lang for src, page in archives.pages.items()})
    by_src = {page.file.src_uri: page for page in nav.pages}
    for lang, lang_nav in navs.items():
        adopt(lang_nav, _in_lang(lang, languages, index))
        _adopt_unlisted(lang_nav, index, archives, by_src, lang)
    return navs


def _articles_section(nav: Navigation, archives: Archives, lang: str) -> Section | None:
    """The section of `nav` that lists `lang`'s first archive page."""
    first = archives.articles_page(lang)
    if first is None:
        return None
    for item in nav.items:
        if isinstance(item, Section) and any(
            isinstance(child, Page) and child.file.src_uri == first.src_uri
            for child in item.children
        ):
            return item
    return None


def _adopt_unlisted(
    nav: Navigation,
    index: ContentIndex,
    archives: Archives,
    by_src: dict[str, Page],
    lang: str,
) -> None:
    """Articles of `lang` and its archive pages: parent = the `Articles` section; articles
    link to the previous (newer) and next (older) article of their language."""
    section = _articles_section(nav, archives, lang)
    listed = {page.file.src_uri for page in nav.pages}
    for archive in archives.of_lang(lang):
        generated = by_src.get(archive.src_uri)
        if generated is not None and archive.src_uri not in listed:
            generated.parent = section
            generated.previous_page = generated.next_page = None
    articles = [
        by_src[e.src_uri]
        for e in index.articles_newest_first()
        if e.lang == lang and e.src_uri in by_src
    ]
    for number, page in enumerate(articles):
        page.parent = section
        page.previous_page = articles[number - 1] if number > 0 else None
        page.next_page = articles[number + 1] if number + 1 < len(articles) else None


def _in_lang(lang: str, languages: dict[str, str], index: ContentIndex) -> Callable[[Page], bool]:
    """Whether a page is in `lang`."""
    return lambda page: _lang_of(page, languages, index) == lang


def _lang_of(page: Page, languages: dict[str, str], index: ContentIndex) -> str:
    return languages.get(page.file.src_uri, index.default_lang)
