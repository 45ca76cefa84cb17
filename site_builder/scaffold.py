"""`kp new article|course|lesson|translation`: start a file with valid front matter and a
sensible slug.

Files are created exclusively (never overwritten). The front matter is validated with the
same models as the build before anything is written, so a scaffold always builds. A new
article is a draft (`draft: true`, as Hugo and Ghost start posts), published once the editor
removes that line; without `--lang`, a title in Chinese makes a Chinese page.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from site_builder.content import TRANSLATABLE, classify
from site_builder.frontmatter import FrontMatterError, render_front_matter, split_front_matter
from site_builder.models import ArticleMeta, CourseMeta, LessonMeta, PageMeta
from site_builder.page_langs import split_lang_suffix
from site_builder.slugs import slugify

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_LESSON_NUMBER = re.compile(r"^(\d+)-")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
"""Chinese characters (CJK unified ideographs, extension A, compatibility ideographs)."""


def title_lang(title: str) -> str:
    """The language a title is written in, of those content may have: 'zh' when it holds
    Chinese characters ("AI 入门" too), else 'en'."""
    return "zh" if _HAN.search(title) else "en"


class ScaffoldError(Exception):
    """Why nothing was created (existing file, unknown course, unusable slug)."""


def _slug(title: str, slug: str | None) -> str:
    if slug is not None:
        if not _SLUG.match(slug):
            raise ScaffoldError(f"--slug '{slug}': use lower-case letters, digits and hyphens")
        return slug
    derived = slugify(title)
    if not derived:
        raise ScaffoldError(f"cannot make a URL slug from '{title}'; pass --slug")
    return derived


def _create(path: Path, model: type[BaseModel], meta: dict[str, Any], body: str) -> Path:
    """Validate the front matter, then write the file only if it does not exist yet."""
    model.model_validate(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as fh:
            fh.write(render_front_matter(meta) + "\n" + body)
    except FileExistsError:
        raise ScaffoldError(f"{path} already exists; choose another title or --slug") from None
    return path


def new_article(
    docs_dir: Path,
    title: str,
    *,
    lang: str | None = None,
    slug: str | None = None,
    today: dt.date | None = None,
    draft: bool = True,
) -> Path:
    """`articles/<slug>.md`, dated today, ending with the community CTA by default; a draft
    unless `draft=False`; in `lang`, else in the title's language."""
    meta: dict[str, Any] = {
        "title": title,
        "date": today or dt.date.today(),
        "lang": lang or title_lang(title),
        "summary": "",
        "tags": [],
    }
    if draft:
        meta["draft"] = True
    body = (
        "One or two sentences that tell the reader what they will be able to do after "
        "reading.\n\n## First section\n\nWrite here.\n"
    )
    return _create(docs_dir / "articles" / f"{_slug(title, slug)}.md", ArticleMeta, meta, body)


def new_course(
    docs_dir: Path,
    title: str,
    *,
    lang: str | None = None,
    slug: str | None = None,
    price: float = 49,
    currency: str = "usd",
    mode: str = "payment",
    interval: str | None = None,
    tier: str | None = None,
) -> Path:
    """`courses/<slug>/index.md`: the landing page, priced, with a Stripe lookup key; in
    `lang`, else in the title's language."""
    slug = _slug(title, slug)
    meta: dict[str, Any] = {
        "title": title,
        "summary": "",
        "lang": lang or title_lang(title),
        "price": int(price) if float(price).is_integer() else price,
        "currency": currency,
        "mode": mode,
        "lookup_key": slug,
    }
    if mode == "subscription":
        meta["interval"] = interval or "month"
    if tier:
        meta["tier"] = tier
    body = "## What you will learn\n\n- \n\n## Who it is for\n\nWrite here.\n"
    return _create(docs_dir / "courses" / slug / "index.md", CourseMeta, meta, body)


def next_lesson_number(course_dir: Path) -> int:
    numbers = [
        int(match.group(1))
        for path in course_dir.glob("*.md")
        if (match := _LESSON_NUMBER.match(path.name))
    ]
    return max(numbers, default=0) + 1


def new_lesson(
    docs_dir: Path,
    title: str,
    *,
    course: str,
    lang: str | None = None,
    slug: str | None = None,
    free_preview: bool = False,
) -> Path:
    """`courses/<course>/NN-<slug>.md`, numbered after the last lesson, teaser marker in place."""
    course_dir = docs_dir / "courses" / course
    if not (course_dir / "index.md").is_file():
        known = sorted(p.parent.name for p in (docs_dir / "courses").glob("*/index.md"))
        listing = ", ".join(known) or "none yet; create one with `kp new course`"
        raise ScaffoldError(f"no course '{course}' in {docs_dir / 'courses'} (courses: {listing})")
    number = next_lesson_number(course_dir)
    meta: dict[str, Any] = {"title": title, "summary": ""}
    if free_preview:
        meta["free_preview"] = True
    else:
        meta["date"] = dt.date.today()  # `kp newsletter send --lessons` announces it
    if lang:
        meta["lang"] = lang
    if free_preview:
        body = "A free preview: everyone can read this whole lesson.\n"
    else:
        body = (
            "The public teaser: one or two paragraphs everyone can read.\n\n"
            "<!-- more -->\n\n"
            "## The paid part\n\nOnly members who bought the course can read from here on.\n"
        )
    path = course_dir / f"{number:02d}-{_slug(title, slug)}.md"
    return _create(path, LessonMeta, meta, body)


def new_translation(docs_dir: Path, source: Path, lang: str) -> Path:
    """`x.<lang>.md` next to `x.md`: the original's front matter and body to translate in
    place, marked `draft: true` so it is not published before it is translated."""
    path = source if source.is_absolute() or source.is_file() else docs_dir / source
    try:
        src_uri = path.resolve().relative_to(docs_dir.resolve()).as_posix()
    except ValueError:
        raise ScaffoldError(f"{source} is not a page under {docs_dir}") from None
    if not path.is_file():
        raise ScaffoldError(f"{source}: no such page under {docs_dir}")
    base_uri, suffix = split_lang_suffix(src_uri)
    if suffix:
        raise ScaffoldError(f"{source} is itself a translation; translate {base_uri} instead")
    kind, _ = classify(base_uri)
    if kind not in TRANSLATABLE:
        raise ScaffoldError(
            f"{source}: a {kind} is sold in one language and has no translations; "
            f"write a course in {lang} with `lang: {lang}`"
        )
    try:
        meta, body = split_front_matter(path.read_text(encoding="utf-8"))
    except FrontMatterError as exc:
        raise ScaffoldError(f"{source}: {exc}") from None
    meta = {k: v for k, v in meta.items() if k not in ("lang", "slug", "draft")}
    meta["draft"] = True
    target = path.with_name(f"{path.stem}.{lang}.md")
    model = ArticleMeta if kind == "article" else PageMeta
    return _create(target, model, meta, body.lstrip("\n"))
