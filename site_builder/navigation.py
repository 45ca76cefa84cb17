"""The automatic navigation, arranged for a publication rather than a docs tree.

mkdocs derives navigation from folders: `Articles` in file-name order, `Courses › Community
launch`, and a `Pages` folder. Readers expect the newest article first, articles grouped by
language, course sections named after the course, and about/join/pricing at the top level.
An explicit `nav:` in mkdocs.yml is left exactly as written.
"""

from __future__ import annotations

from collections.abc import Callable

from mkdocs.structure import StructureItem
from mkdocs.structure.nav import Navigation, Section
from mkdocs.structure.pages import Page

from site_builder.content import ContentIndex

SECTION_TITLES = {
    "articles": {"en": "Articles", "zh": "中文文章"},
    "courses": {"en": "Courses", "zh": "课程"},
}


def arrange(nav: Navigation, index: ContentIndex, site_lang: str = "en") -> Navigation:
    """Home, articles per language (newest first), courses, then the other pages."""
    by_src = {page.file.src_uri: page for page in nav.pages}
    placed: set[str] = set()

    def take(src_uri: str) -> Page | None:
        page = by_src.get(src_uri)
        if page is not None:
            placed.add(src_uri)
        return page

    items: list[StructureItem] = []
    home = take("index.md")
    if home is not None:
        items.append(home)
    items.extend(_article_sections(index, take, site_lang))
    courses = _course_sections(index, take)
    if courses:
        items.append(_section(SECTION_TITLES["courses"].get(site_lang, "Courses"), courses))
    for entry in index.published():
        if entry.kind == "page":
            page = take(entry.src_uri)
            if page is not None:
                items.append(page)
    items.extend(page for src, page in by_src.items() if src not in placed)
    for item in items:
        item.parent = None
    pages = _flatten(items)
    _link_previous_next(pages)
    return Navigation(items, pages)


def _article_sections(
    index: ContentIndex, take: Callable[[str], Page | None], site_lang: str
) -> list[StructureItem]:
    articles = index.articles_newest_first()
    langs = sorted({e.lang for e in articles}, key=lambda lang: (lang != site_lang, lang))
    sections = []
    for lang in langs:
        pages = [p for e in articles if e.lang == lang and (p := take(e.src_uri)) is not None]
        if not pages:
            continue
        title = SECTION_TITLES["articles"].get(lang if len(langs) > 1 else site_lang, "Articles")
        sections.append(_section(title, pages))
    return sections


def _course_sections(
    index: ContentIndex, take: Callable[[str], Page | None]
) -> list[StructureItem]:
    sections = []
    for course in index.courses.values():
        landing = take(course.entry.src_uri)
        lessons = [p for lesson in course.lessons if (p := take(lesson.src_uri)) is not None]
        children = ([landing] if landing else []) + lessons
        if children:
            sections.append(_section(course.meta.title, children))
    return sections


def _section(title: str, children: list[StructureItem]) -> Section:
    section = Section(title, children)
    for child in children:
        child.parent = section
    return section


def _flatten(items: list[StructureItem]) -> list[Page]:
    pages: list[Page] = []
    for item in items:
        if isinstance(item, Page):
            pages.append(item)
        elif isinstance(item, Section):
            pages.extend(_flatten(item.children))
    return pages


def _link_previous_next(pages: list[Page]) -> None:
    for number, page in enumerate(pages):
        page.previous_page = pages[number - 1] if number > 0 else None
        page.next_page = pages[number + 1] if number + 1 < len(pages) else None
