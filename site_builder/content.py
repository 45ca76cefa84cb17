"""Scan and validate `content/`: what each file is (article, course, lesson, page), its
language and translations, its URL, whether it is published, and every front-matter error
at once.

Plain functions over paths and dicts so `kp check` can lint without mkdocs and the mkdocs
plugin can reuse the very same rules.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from kp_contract.growth import unknown_rewards
from kp_contract.i18n import DEFAULT_LANG
from site_builder.errors import ContentError
from site_builder.field_errors import field_errors, invalid_keys, valid_part
from site_builder.frontmatter import FrontMatterError, split_front_matter
from site_builder.models import (
    ArticleMeta,
    CourseMeta,
    LessonMeta,
    PageMeta,
    SiteExtra,
    is_lang,
    price_form_error,
)
from site_builder.page_langs import (
    lang_prefix,
    resolve_lang,
    split_lang_suffix,
    url_path,
    url_segment,
)
from site_builder.role_prices import role_errors

Kind = Literal["home", "article", "course", "lesson", "page"]
_LESSON_NAME = re.compile(r"^\d+-[^/]+\.md$")
# Section index pages (`articles/index.md`, `courses/index.md`) are ordinary pages.
_SECTION_INDEXES = ("articles/index.md", "courses/index.md")
# What may have a `.zh.md` translation. A course is one product with one language (its
# lessons, prices and entitlements are shared), so courses and lessons are not translated.
TRANSLATABLE: tuple[Kind, ...] = ("home", "article", "page")
# The template that lists every tier (themes/kp-pricing.html).
PRICING_TEMPLATE = "kp-pricing.html"


@dataclass
class Entry:
    """One Markdown source file and what the build makes of it."""

    src_uri: str
    kind: Kind
    meta: Any
    dest_uri: str
    published: bool = True
    course: str | None = None
    lang: str = DEFAULT_LANG
    base_uri: str = ""
    """The path without language suffix: files sharing it translate each other."""
    suffix_lang: str | None = None
    """The language named by the file name (`x.zh.md`), if any."""

    def __post_init__(self) -> None:
        self.base_uri = self.base_uri or self.src_uri

    @property
    def url(self) -> str:
        """Directory URL relative to the site root, e.g. `articles/x/` ('' for the home page)."""
        head = posixpath.dirname(self.dest_uri)
        return f"{head}/" if head else ""

    @property
    def url_path(self) -> str:
        """Absolute URL path as the paywall sees it, e.g. `/articles/x/`."""
        return f"/{self.url}"

    @property
    def gated(self) -> bool:
        """Whether `site/` gets only a teaser of this page."""
        if self.kind == "lesson":
            return not self.meta.free_preview
        return self.kind == "article" and self.meta.access == "members"


@dataclass
class Course:
    slug: str
    entry: Entry
    lessons: list[Entry] = field(default_factory=list)

    @property
    def meta(self) -> CourseMeta:
        return self.entry.meta


@dataclass
class ContentIndex:
    """The validated site: entries by source path, courses, and all errors found."""

    entries: dict[str, Entry] = field(default_factory=dict)
    courses: dict[str, Course] = field(default_factory=dict)
    extra: SiteExtra = field(default_factory=SiteExtra)
    errors: list[ContentError] = field(default_factory=list)
    default_lang: str = DEFAULT_LANG

    def translations(self, entry: Entry) -> dict[str, Entry]:
        """Published versions of `entry` by language, itself included (when published)."""
        return dict(self._groups.get(entry.base_uri, {}))

    def home(self, lang: str) -> Entry | None:
        """The home page in `lang`, else the default language's home page."""
        homes = self._groups.get("index.md", {})
        return homes.get(lang) or homes.get(self.default_lang) or next(iter(homes.values()), None)

    def langs(self) -> list[str]:
        """Languages with published pages, the default language first."""
        return list(self._langs)

    @cached_property
    def _groups(self) -> dict[str, dict[str, Entry]]:
        """Published entries by translation group and language. Computed on first use, once
        the index is complete: every page asks for its translations, so a scan per call
        would make a large site quadratic."""
        groups: dict[str, dict[str, Entry]] = {}
        for entry in self.published():
            groups.setdefault(entry.base_uri, {}).setdefault(entry.lang, entry)
        return groups

    @cached_property
    def _langs(self) -> tuple[str, ...]:
        found = {e.lang for e in self.published()} | {self.default_lang}
        return tuple(sorted(found, key=lambda lang: (lang != self.default_lang, lang)))

    def published(self, kind: Kind | None = None) -> list[Entry]:
        return [
            e for e in self.entries.values() if e.published and (kind is None or e.kind == kind)
        ]

    def articles_newest_first(self) -> list[Entry]:
        return sorted(
            self.published("article"), key=lambda e: (e.meta.date, e.src_uri), reverse=True
        )

    def gated(self) -> list[Entry]:
        """Published pages whose full text must stay out of `site/`."""
        return [e for e in self.published() if e.gated]


def classify(src_uri: str) -> tuple[Kind | None, str | None]:
    """(kind, course slug) from the path under content/; (None, reason) when misplaced."""
    parts = src_uri.split("/")
    if src_uri == "index.md":
        return "home", None
    if src_uri in _SECTION_INDEXES:
        return "page", None
    if parts[0] == "articles" and len(parts) == 2:
        return "article", None
    if parts[0] == "courses":
        if len(parts) == 3 and parts[2] == "index.md":
            return "course", parts[1]
        if len(parts) == 3:
            return "lesson", parts[1]
        return None, "lessons live in courses/<course>/NN-<slug>.md, next to the course index.md"
    return "page", None


def dest_uri_for(src_uri: str, kind: Kind, meta: Any, *, prefix: str = "", slug: str = "") -> str:
    """Output path (directory URLs): pages/about.md → about/index.html; an article's `slug`
    replaces its file name; non-ASCII names become pinyin slugs; `prefix` is `zh/` for a
    translation into a non-default language. `src_uri` is without language suffix."""
    stem = posixpath.splitext(posixpath.basename(src_uri))[0]
    parent = posixpath.dirname(src_uri)
    if kind == "article" and (slug or meta.slug):
        stem = slug or meta.slug
    if kind == "page" and parent == "pages":
        parent = ""
    if stem == "index":
        return prefix + url_path(posixpath.join(parent, "index.html"))
    return prefix + url_path(posixpath.join(parent, stem, "index.html"))


def _unusable_name(src_uri: str) -> str | None:
    """A path segment that yields no URL at all (e.g. only punctuation or emoji)."""
    parts = posixpath.splitext(src_uri)[0].split("/")
    return next((part for part in parts if not url_segment(part)), None)


Meta = ArticleMeta | CourseMeta | LessonMeta | PageMeta
"""The front matter of a page, by kind (`_MODELS`)."""

_MODELS: dict[Kind, type[Meta]] = {
    "home": PageMeta,
    "article": ArticleMeta,
    "course": CourseMeta,
    "lesson": LessonMeta,
    "page": PageMeta,
}


_WHAT: dict[Kind, str] = {
    "home": "a page",
    "article": "an article",
    "course": "a course",
    "lesson": "a lesson",
    "page": "a page",
}
_SOLD_KEYS = frozenset({"price", "prices", "lookup_key", "stripe_price"})
"""Keys that make a page a course (something sold), wherever it is."""
_LESSON_KEYS = (
    frozenset(LessonMeta.model_fields)
    - frozenset(PageMeta.model_fields)
    - frozenset(ArticleMeta.model_fields)
)
"""Keys only a lesson has (`free_preview`; `date` is an article's too)."""


_OWNED_SECTIONS = ("community", "paywall", "translations", "growth")


def validate_extra(
    extra: dict[str, Any], label: str = "mkdocs.yml"
) -> tuple[SiteExtra, list[ContentError]]:
    """Validate the sections of `extra` we own; keys are reported as `extra.…`.

    A bad section is reported and left out, but the valid ones are kept, so one typo in
    `extra.paywall` does not also make every CTA name in the content look unknown.
    """
    extra = extra or {}
    try:
        return SiteExtra.model_validate(extra), []
    except ValidationError as exc:
        errors = field_errors(label, exc, prefix="extra.")
    invalid = set()
    for section in _OWNED_SECTIONS:
        if section in extra:
            try:
                SiteExtra.model_validate({section: extra[section]})
            except ValidationError:
                invalid.add(section)
    kept = {key: value for key, value in extra.items() if key not in invalid}
    try:
        site_extra = SiteExtra.model_validate(kept)
    except ValidationError:  # an error outside the owned sections: keep nothing of ours
        site_extra, invalid = SiteExtra(), set(_OWNED_SECTIONS)
    return site_extra.model_copy(update={"invalid": frozenset(invalid)}), errors


def _check_cta(
    label: str, cta: str | None, extra: SiteExtra, bad: frozenset[str] = frozenset()
) -> list[ContentError]:
    """`cta: <name>` must name a CTA from `extra.community.ctas`."""
    if "cta" in bad or cta is None or cta in ("default", "none") or "community" in extra.invalid:
        return []
    names = sorted(extra.community.ctas) if extra.community else []
    if cta not in names:
        known = ", ".join(["default", "none", *names])
        return [ContentError(label, "cta", f"unknown CTA '{cta}' (known: {known})")]
    return []


def _check_cta_language(
    label: str, choice: str | None, lang: str, default_lang: str, extra: SiteExtra
) -> list[ContentError]:
    """A page in another language than the site's must not end with site-language copy:
    the CTA text configured in mkdocs.yml needs a version in the page's language."""
    community = extra.community
    if lang == default_lang or community is None or choice in (None, "none"):
        return []
    if choice == "default":
        text = community.translations.get(lang) if is_lang(lang) else None
        missing = [
            key
            for key in ("cta_title", "cta_text", "cta_button")
            if getattr(community, key) and (text is None or getattr(text, key) is None)
        ]
        if not missing:
            return []
        where = f"extra.community.translations.{lang}"
        message = f"this '{lang}' page ends with the community CTA, whose {', '.join(missing)}"
        return [ContentError(label, "cta", f"{message} has no '{lang}' version: add {where}")]
    named = community.ctas.get(choice)
    if named is None or lang in named.translations:
        return []  # an unknown name is reported by _check_cta
    where = f"extra.community.ctas.{choice}.translations.{lang}"
    message = f"CTA '{choice}' has no '{lang}' text for this '{lang}' page"
    return [
        ContentError(label, "cta", f"{message}: add {where} (title, text, button) in mkdocs.yml")
    ]


def _check_course(
    label: str, meta: CourseMeta, extra: SiteExtra, bad: frozenset[str]
) -> list[ContentError]:
    """A course's rules across keys; a key that is itself wrong (`bad`) is not judged again."""
    errors = []
    if not {"stripe_price", "lookup_key"} & bad and not meta.stripe_price and not meta.lookup_key:
        errors.append(
            ContentError(label, "lookup_key", "a course needs `lookup_key` or `stripe_price`")
        )
    if not {"price", "currency", "prices"} & bad:
        form = price_form_error(meta.price, meta.currency, meta.prices)
        if form is not None:
            errors.append(ContentError(label, *form))
        elif (
            meta.prices and len(meta.prices) > 1 and not meta.lookup_key and "lookup_key" not in bad
        ):
            message = (
                "prices in several currencies need `lookup_key` (one Stripe price per "
                "currency, `<lookup_key>-<currency>`), not a single `stripe_price`"
            )
            errors.append(ContentError(label, "lookup_key", message))
    if not {"mode", "interval"} & bad:
        if meta.mode == "subscription" and meta.interval is None:
            errors.append(
                ContentError(label, "interval", "`mode: subscription` needs `interval: month|year`")
            )
        if meta.interval and meta.mode != "subscription":
            message = (
                f"`interval: {meta.interval}` is only for `mode: subscription` "
                f"(this course has `mode: {meta.mode}`)"
            )
            errors.append(ContentError(label, "interval", message))
    tiers = [] if "tier" in bad or "paywall" in extra.invalid else meta.tier_names()
    for tier in tiers:
        if tier not in extra.paywall.tiers:
            known = ", ".join(sorted(extra.paywall.tiers)) or "none defined"
            errors.append(
                ContentError(label, "tier", f"unknown tier '{tier}' (extra.paywall.tiers: {known})")
            )
    return errors


def _check(
    label: str, meta: Meta, extra: SiteExtra, bad: frozenset[str] = frozenset()
) -> list[ContentError]:
    """The checks of a page's front matter beyond its model's own; keys in `bad` failed the
    model (their errors are reported) and are left alone."""
    if isinstance(meta, ArticleMeta | PageMeta):  # (articles, the home page, other pages)
        return _check_cta(label, meta.cta, extra, bad)
    if isinstance(meta, CourseMeta):
        return _check_course(label, meta, extra, bad)
    return []


def _is_published(kind: Kind, meta: Any, today: dt.date, drafts: bool) -> bool:
    if drafts:
        return True
    if meta.draft:
        return False
    return not (kind == "article" and meta.date > today)


def _read_front_matter(path: Path, label: str) -> tuple[dict[str, Any] | None, list[ContentError]]:
    """The file's front matter, or None and why it cannot be read."""
    try:
        data, _ = split_front_matter(path.read_text(encoding="utf-8"))
    except FrontMatterError as exc:
        error = ContentError(label, None, exc.message, exc.line, exc.column, exc.source_line)
        return None, [error]
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start : exc.start + 1].hex()
        message = f"not UTF-8 text (byte 0x{byte} at offset {exc.start}): save it as UTF-8"
        return None, [ContentError(label, None, message)]
    return data, []


def _misplaced(
    kind: Kind | None, detail: str | None, base_uri: str, data: dict[str, Any]
) -> str | None:
    """Why a file is in the wrong place for what its front matter says it is: a lesson or a
    course outside `courses/<course>/` (reported as that, not as its keys being unknown)."""
    sold = sorted(_SOLD_KEYS & set(data))
    stem = posixpath.splitext(posixpath.basename(base_uri))[0]
    course_folder = f"courses/{url_segment(stem) or stem}/index.md"
    if kind is None and sold:
        return (
            f"course outside its folder: a course is courses/<course>/index.md (move this "
            f"file to {course_folder})"
        )
    if kind is None:
        return f"lesson outside a course: {detail}"
    if kind in ("lesson", "course"):
        return None
    lesson_keys = sorted(_LESSON_KEYS & set(data))
    if lesson_keys:
        key = lesson_keys[0]
        return (
            f"lesson outside a course: `{key}` is a lesson's key, and lessons live in "
            f"courses/<course>/NN-<slug>.md next to the course's index.md (move this file "
            f"there, or remove `{key}`)"
        )
    if sold:
        return (
            f"course outside courses/: a page with `{sold[0]}` is a course, and a course is "
            f"courses/<course>/index.md (move this file to {course_folder})"
        )
    return None


def _placement_errors(
    src_uri: str, base_uri: str, kind: Kind, suffix: str | None, label: str
) -> list[ContentError]:
    """What a file's name and folder do not allow, whatever its front matter says."""
    errors = []
    if suffix and kind not in TRANSLATABLE:
        message = (
            f"a {kind} cannot have a .{suffix}.md translation: a course is sold in one "
            f"language; write it in that language with `lang: {suffix}` in the course index.md"
        )
        errors.append(ContentError(label, None, message))
    if kind == "lesson" and not _LESSON_NAME.match(posixpath.basename(src_uri)):
        message = (
            f"lesson file names start with their number, e.g. 02-first-members.md, "
            f"got '{posixpath.basename(src_uri)}'"
        )
        errors.append(ContentError(label, None, message))
    unusable = _unusable_name(base_uri)
    if unusable is not None:
        message = f"cannot make a URL from the name '{unusable}': rename it (or set `slug:`)"
        errors.append(ContentError(label, None, message))
    return errors


def _read_entry(
    docs_dir: Path, src_uri: str, label: str, site_extra: SiteExtra, default_lang: str
) -> tuple[Entry | None, list[ContentError]]:
    """Parse and validate one file; (None, errors) when it cannot become a page. Every
    problem of the file is reported, not only the first one found."""
    base_uri, suffix = split_lang_suffix(src_uri)
    kind, detail = classify(base_uri)
    data, errors = _read_front_matter(docs_dir / src_uri, label)
    misplaced = _misplaced(kind, detail, base_uri, data or {})
    if misplaced is not None or kind is None:
        return None, [
            ContentError(label, None, misplaced or f"lesson outside a course: {detail}"),
            *errors,
        ]
    errors = _placement_errors(src_uri, base_uri, kind, suffix, label) + errors
    if data is None:
        return None, errors
    model = _MODELS[kind]
    bad: frozenset[str] = frozenset()
    try:
        meta: Meta = model.model_validate(data)
    except ValidationError as exc:
        errors += field_errors(label, exc, keys=list(model.model_fields), what=_WHAT[kind])
        bad = invalid_keys(exc)
        meta = valid_part(model, data, bad)
    errors += _check(label, meta, site_extra, bad)
    lang, problem = resolve_lang(None if "lang" in bad else meta.lang, suffix, default_lang)
    if problem:
        errors.append(ContentError(label, "lang", problem))
    if isinstance(meta, ArticleMeta | PageMeta) and not {"lang", "cta"} & bad:
        errors += _check_cta_language(label, meta.cta, lang, default_lang, site_extra)
    if bad or any(e.key is None for e in errors):  # (the front matter or the file's place)
        return None, errors
    prefix = lang_prefix(lang, default_lang) if suffix else ""
    course = url_segment(detail) if kind in ("course", "lesson") and detail else None
    entry = Entry(
        src_uri,
        kind,
        meta,
        dest_uri_for(base_uri, kind, meta, prefix=prefix),
        course=course,
        lang=lang,
        base_uri=base_uri,
        suffix_lang=suffix,
    )
    return entry, errors


def build_index(
    docs_dir: Path,
    src_uris: Iterable[str],
    extra: dict[str, Any],
    *,
    label_prefix: str = "content/",
    today: dt.date | None = None,
    drafts: bool = False,
    default_lang: str = DEFAULT_LANG,
) -> ContentIndex:
    """Read and validate every Markdown file; collect all errors instead of stopping at one.

    `default_lang` is the site's language: pages without `lang:` or suffix are in it, and
    its translations live at the root while the others live under `/<lang>/`.
    """
    today = today or dt.date.today()
    site_extra, errors = validate_extra(extra)
    index = ContentIndex(extra=site_extra, errors=errors, default_lang=default_lang)
    invalid: set[str] = set()
    for src_uri in sorted(src_uris):
        label = f"{label_prefix}{src_uri}"
        entry, entry_errors = _read_entry(docs_dir, src_uri, label, site_extra, default_lang)
        index.errors.extend(entry_errors)
        if entry is None:
            invalid.add(src_uri)
        else:
            entry.published = _is_published(entry.kind, entry.meta, today, drafts)
            index.entries[src_uri] = entry
    _link_courses(index, label_prefix, invalid)
    _inherit_translation_slugs(index)
    _check_translation_groups(index, label_prefix)
    _check_unique_urls(index, label_prefix)
    _check_tier_languages(index)
    _check_referral_rewards(index)
    _check_groups(index)
    _check_bundles(index)
    _check_gift_months(index)
    index.errors.extend(role_errors(index))
    return index


def _check_gift_months(index: ContentIndex, label: str = "mkdocs.yml") -> None:
    """`gift_months` of a tier need a monthly price to be priced from."""
    if "paywall" in index.extra.invalid:
        return
    for name, tier in sorted(index.extra.paywall.tiers.items()):
        problem = tier.gift_months_error()
        if problem:
            key = f"extra.paywall.tiers.{name}.gift_months"
            index.errors.append(ContentError(label, key, problem))


def _check_bundles(index: ContentIndex, label: str = "mkdocs.yml") -> None:
    """A bundle sells published courses that are sold once (a subscription course comes
    with its tier), and pricing pages in another language need its title in theirs."""
    if "paywall" in index.extra.invalid:
        return
    pricing_langs = {
        entry.lang
        for entry in index.published()
        if entry.kind in ("page", "home")
        and entry.meta.template == PRICING_TEMPLATE
        and entry.lang != index.default_lang
    }
    for name, bundle in sorted(index.extra.paywall.bundles.items()):
        where = f"extra.paywall.bundles.{name}"
        for slug in bundle.courses:
            course = index.courses.get(slug)
            if course is None:
                known = ", ".join(sorted(index.courses)) or "none published"
                index.errors.append(
                    ContentError(label, f"{where}.courses", f"unknown course '{slug}' ({known})")
                )
            elif course.meta.mode != "payment":
                index.errors.append(
                    ContentError(
                        label,
                        f"{where}.courses",
                        f"course '{slug}' is a subscription (`mode: subscription`): a bundle "
                        "sells courses bought once",
                    )
                )
        for lang in sorted(pricing_langs - set(bundle.translations)):
            index.errors.append(
                ContentError(
                    label,
                    f"{where}.translations.{lang}",
                    f"'{lang}' pages show this bundle: give its title (and summary) in '{lang}'",
                )
            )


def _check_groups(index: ContentIndex, label: str = "mkdocs.yml") -> None:
    """A tier-only or buyers-only group must name a tier or a course that is for sale."""
    community = index.extra.community
    if community is None or index.extra.invalid & {"community", "paywall"}:
        return
    for name, group in sorted(community.groups.items()):
        where = f"extra.community.groups.{name}"
        if group.tier and group.tier not in index.extra.paywall.tiers:
            known = ", ".join(sorted(index.extra.paywall.tiers)) or "none defined"
            index.errors.append(
                ContentError(label, f"{where}.tier", f"unknown tier '{group.tier}' ({known})")
            )
        if group.course and group.course not in index.courses:
            known = ", ".join(sorted(index.courses)) or "none published"
            index.errors.append(
                ContentError(label, f"{where}.course", f"unknown course '{group.course}' ({known})")
            )


def _check_referral_rewards(index: ContentIndex, label: str = "mkdocs.yml") -> None:
    """Invite rewards (`extra.growth.referral_rewards`) must name a course or tier for sale."""
    if index.extra.invalid & {"growth", "paywall"}:
        return
    courses, tiers = set(index.courses), set(index.extra.paywall.tiers)
    for key, message in unknown_rewards(index.extra.growth, courses, tiers):
        index.errors.append(ContentError(label, key, message))


def _check_tier_languages(index: ContentIndex, label: str = "mkdocs.yml") -> None:
    """A tier's title shows on the course pages of its courses and on pricing pages: pages
    in another language than the site's need it in theirs, so a Chinese page never offers
    an English-named membership."""
    needs: dict[str, set[str]] = {}
    for entry in index.published():
        if entry.lang == index.default_lang:
            continue
        if entry.kind in ("course", "lesson"):
            course = index.courses.get(entry.course or "")
            for tier_name in course.meta.tier_names() if course is not None else []:
                needs.setdefault(tier_name, set()).add(entry.lang)
        elif entry.kind in ("page", "home") and entry.meta.template == PRICING_TEMPLATE:
            for name in index.extra.paywall.tiers:
                needs.setdefault(name, set()).add(entry.lang)
    for name, langs in sorted(needs.items()):
        tier = index.extra.paywall.tiers.get(name)
        for lang in sorted(langs - set(tier.translations) if tier else ()):
            index.errors.append(
                ContentError(
                    label,
                    f"extra.paywall.tiers.{name}.translations.{lang}",
                    f"'{lang}' pages show this tier: give its title (and summary) in '{lang}'",
                )
            )


def _inherit_translation_slugs(index: ContentIndex) -> None:
    """A translated article without its own `slug` keeps the original's URL under `/<lang>/`
    (`slug: pricing` in x.md puts x.zh.md at /zh/articles/pricing/)."""
    originals = {e.src_uri: e for e in index.entries.values() if e.suffix_lang is None}
    for entry in index.entries.values():
        original = originals.get(entry.base_uri)
        if entry.kind != "article" or entry.suffix_lang is None or entry.meta.slug:
            continue
        if original is not None and original.kind == "article" and original.meta.slug:
            prefix = lang_prefix(entry.lang, index.default_lang)
            entry.dest_uri = dest_uri_for(
                entry.base_uri, entry.kind, entry.meta, prefix=prefix, slug=original.meta.slug
            )


def _check_translation_groups(index: ContentIndex, label_prefix: str) -> None:
    """One version per language: `x.md` with `lang: zh` next to `x.zh.md` is ambiguous."""
    seen: dict[tuple[str, str], Entry] = {}
    originals_first = sorted(
        index.entries.values(), key=lambda e: (e.suffix_lang is not None, e.src_uri)
    )
    for entry in originals_first:
        other = seen.setdefault((entry.base_uri, entry.lang), entry)
        if other is not entry:
            index.errors.append(
                ContentError(
                    f"{label_prefix}{entry.src_uri}",
                    "lang",
                    f"{label_prefix}{other.src_uri} is already the '{entry.lang}' version of "
                    f"this page; a translation needs another language",
                )
            )


def _link_courses(index: ContentIndex, label_prefix: str, invalid: set[str]) -> None:
    """Attach lessons to their course (ordered by file name); orphans are errors, but a
    lesson whose course index.md exists with errors of its own is not reported again."""
    for entry in index.entries.values():
        if entry.kind == "course" and entry.course is not None:
            index.courses[entry.course] = Course(entry.course, entry)
    for entry in sorted(index.entries.values(), key=lambda e: e.src_uri):
        if entry.kind != "lesson":
            continue
        course = index.courses.get(entry.course) if entry.course is not None else None
        if course is None and f"{posixpath.dirname(entry.src_uri)}/index.md" in invalid:
            entry.published = False
            continue
        if course is None:
            folder = posixpath.dirname(entry.src_uri)
            index.errors.append(
                ContentError(
                    f"{label_prefix}{entry.src_uri}",
                    None,
                    f"lesson outside a course: {folder}/index.md is missing",
                )
            )
            entry.published = False
            continue
        if entry.meta.lang is None:
            entry.lang = course.entry.lang
        if not course.entry.published:
            entry.published = False
        course.lessons.append(entry)
    for slug in [s for s, c in index.courses.items() if not c.entry.published]:
        del index.courses[slug]
    for course in index.courses.values():
        course.lessons = [e for e in course.lessons if e.published]


def _check_unique_urls(index: ContentIndex, label_prefix: str) -> None:
    seen: dict[str, str] = {}
    for entry in index.entries.values():
        other = seen.setdefault(entry.dest_uri, entry.src_uri)
        if other != entry.src_uri:
            key = "slug" if entry.kind == "article" else None
            index.errors.append(
                ContentError(
                    f"{label_prefix}{entry.src_uri}",
                    key,
                    f"URL /{entry.url} is already used by {label_prefix}{other}",
                )
            )


def markdown_sources(docs_dir: Path) -> list[str]:
    """Every `*.md` under the docs dir as a posix path relative to it (for `kp check`)."""
    return sorted(
        p.relative_to(docs_dir).as_posix()
        for p in docs_dir.rglob("*.md")
        if not any(part.startswith(".") for part in p.relative_to(docs_dir).parts)
    )
