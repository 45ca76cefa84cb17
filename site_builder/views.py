"""What the templates see as `kp`: plain, read-only objects built from the validated content.

Templates stay free of business rules (which lessons are locked, what a course costs, which
CTA an article gets); they only lay out what these objects say. URLs here are site-relative
(`courses/x/`, for the `url` filter) except `url_path` (`/courses/x/`, what forms post back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kp_contract.i18n import format_date, language_name, strings
from kp_contract.manifest import Interval, Price, course_key, tier_key
from site_builder.alternates import Alternate, HrefLang, hreflang, switcher
from site_builder.archives import ArchivePage, Archives, ArchiveView, TagLink
from site_builder.catalog import bundle_price, course_price, tier_gifts, tier_lifetime, tier_prices
from site_builder.content import ContentIndex, Course, Entry
from site_builder.feed import FeedLink
from site_builder.models import CommunityConfig, SiteExtra, TierConfig, is_lang

View = Literal["public", "teaser", "full", "shell"]


@dataclass(frozen=True)
class Link:
    title: str
    url: str
    lang: str = ""
    """The language of the page linked to (templates mark one not in the page's language)."""


@dataclass(frozen=True)
class LessonLink:
    """A lesson in a course's lesson list; `locked` ones get the lock icon."""

    number: int
    title: str
    url: str
    summary: str
    free_preview: bool
    available_after_days: int | None = None
    """Drip: opens this many days after the start of the member's access."""

    @property
    def locked(self) -> bool:
        return not self.free_preview


@dataclass(frozen=True)
class TierOffer:
    name: str
    title: str
    summary: str
    currency: str
    prices: dict[Interval, Price]
    courses: tuple[Link, ...] = ()
    lifetime: Price | None = None
    """Lifetime access, paid once (`interval=lifetime` at checkout)."""
    gifts: dict[int, Price] = field(default_factory=dict)
    """Gift prices by number of months (`gift_months`)."""


@dataclass(frozen=True)
class BundleOffer:
    """Several courses at one price (`bundle=<name>` at checkout)."""

    name: str
    title: str
    summary: str
    price: Price
    courses: tuple[Link, ...]
    slugs: tuple[str, ...]

    @property
    def requires(self) -> list[str]:
        """What an owner of every course of the bundle holds (the card says "owned")."""
        return [course_key(slug) for slug in self.slugs]


@dataclass(frozen=True)
class CourseOffer:
    slug: str
    title: str
    summary: str
    url: str
    lang: str
    mode: str
    price: Price
    tier: TierOffer | None
    """The tier a subscription course is sold as: the first of `tiers`."""
    lessons: tuple[LessonLink, ...]
    tiers: tuple[TierOffer, ...] = ()
    """Every tier that includes the course (`tier: [pro, team]`)."""

    @property
    def through_tier(self) -> bool:
        """A subscription course in a tier is sold as that tier (billing.checkout does the
        same): the tier's offer is the course's, shown once and named for the tier."""
        return self.mode == "subscription" and self.tier is not None

    @property
    def requires(self) -> list[str]:
        """Entitlement keys that open the course's gated lessons (any one is enough)."""
        keys = [course_key(self.slug)]
        keys.extend(
            tier_key(tier.name) for tier in self.tiers or ([self.tier] if self.tier else [])
        )
        return keys

    @property
    def giftable(self) -> bool:
        """A course sold once can be bought for someone else (a subscription course is
        given as months of its tier)."""
        return self.mode == "payment"


@dataclass(frozen=True)
class Cta:
    """The call to action at the foot of a page: the community one or a named one."""

    kind: Literal["community", "named"]
    name: str
    title: str
    text: str
    button: str
    url: str
    qr_image: str | None = None
    signup: bool = False


@dataclass(frozen=True)
class Catalog:
    """Everything for sale, in content order: courses by slug and membership tiers by name."""

    courses: dict[str, CourseOffer] = field(default_factory=dict)
    tiers: dict[str, TierOffer] = field(default_factory=dict)
    bundles: dict[str, BundleOffer] = field(default_factory=dict)


@dataclass(frozen=True)
class PageView:
    """The `kp` template variable for one rendered page."""

    kind: str
    lang: str
    t: dict[str, str]
    url_path: str
    view: View
    catalog: Catalog
    community: CommunityConfig | None = None
    date: str | None = None
    date_iso: str | None = None
    cta: Cta | None = None
    course: CourseOffer | None = None
    lesson: LessonLink | None = None
    members_only: bool = False
    alternates: tuple[Alternate, ...] = ()
    """The language switcher (empty on a single-language site)."""
    hreflang: tuple[HrefLang, ...] = ()
    """`<link rel="alternate" hreflang>` of a translated page."""
    feeds: tuple[FeedLink, ...] = ()
    """RSS feeds, the page's language first."""
    tags: tuple[TagLink, ...] = ()
    """An article's tags, linking to their tag pages."""
    archive: ArchiveView | None = None
    """What an archive or tag page lists (site_builder/archives.py)."""
    copyright: str | None = None
    """The footer's copyright line in the page's language (None: mkdocs.yml's `copyright`)."""

    @property
    def teaser(self) -> bool:
        return self.view == "teaser"


def site_relative(url: str) -> str:
    """`/pricing/` → `pricing/` so the `url` filter makes it relative; absolute URLs unchanged."""
    if url.startswith("/") and not url.startswith("//"):
        return url.lstrip("/") or "."
    return url


def build_catalog(index: ContentIndex, lang: str | None = None) -> Catalog:
    """Offers for every published course and configured tier, tier titles in `lang` (the
    site's language by default) and prices in the currency readers of `lang` pay
    (`extra.paywall.currency_by_lang`; a product not priced in it keeps its main one)."""
    lang = lang or index.default_lang
    currency = index.extra.paywall.currency_by_lang.get(lang) if is_lang(lang) else None
    tiers = {
        name: TierOffer(
            name=name,
            title=tier.text(lang).title,
            summary=tier.text(lang).summary,
            currency=_shown_currency(tier, currency),
            prices={i: p.in_currency(currency) for i, p in tier_prices(tier).items()},
            courses=tuple(
                Link(c.meta.title, c.entry.url, c.entry.lang)
                for c in index.courses.values()
                if name in c.meta.tier_names()
            ),
            lifetime=_in_currency(tier_lifetime(tier), currency),
            gifts={n: p.in_currency(currency) for n, p in tier_gifts(tier).items()},
        )
        for name, tier in index.extra.paywall.tiers.items()
    }
    courses = {
        slug: _course_offer(
            course,
            tuple(tiers[name] for name in course.meta.tier_names() if name in tiers),
            currency,
        )
        for slug, course in index.courses.items()
    }
    bundles = {
        name: BundleOffer(
            name=name,
            title=bundle.text(lang).title,
            summary=bundle.text(lang).summary,
            price=bundle_price(bundle).in_currency(currency),
            courses=tuple(
                Link(
                    index.courses[s].meta.title,
                    index.courses[s].entry.url,
                    index.courses[s].entry.lang,
                )
                for s in bundle.courses
                if s in index.courses
            ),
            slugs=tuple(s for s in bundle.courses if s in index.courses),
        )
        for name, bundle in index.extra.paywall.bundles.items()
    }
    return Catalog(courses=courses, tiers=tiers, bundles=bundles)


def _in_currency(price: Price | None, currency: str | None) -> Price | None:
    return price.in_currency(currency) if price is not None else None


def _shown_currency(tier: TierConfig, currency: str | None) -> str:
    """The currency a tier's card shows: the language's, else the tier's main one."""
    prices = [p.in_currency(currency) for p in tier_prices(tier).values()]
    return prices[0].currency if prices else (tier.currency or "").lower()


def _course_offer(
    course: Course, tiers: tuple[TierOffer, ...], currency: str | None
) -> CourseOffer:
    meta = course.meta
    lessons = tuple(
        LessonLink(
            number=number,
            title=lesson.meta.title,
            url=lesson.url,
            summary=lesson.meta.summary,
            free_preview=lesson.meta.free_preview,
            available_after_days=lesson.meta.available_after_days,
        )
        for number, lesson in enumerate(course.lessons, start=1)
    )
    return CourseOffer(
        slug=course.slug,
        title=meta.title,
        summary=meta.summary,
        url=course.entry.url,
        lang=course.entry.lang,
        mode=meta.mode,
        price=course_price(meta).in_currency(currency),
        tier=tiers[0] if tiers else None,
        lessons=lessons,
        tiers=tiers,
    )


def resolve_cta(entry: Entry, extra: SiteExtra) -> Cta | None:
    """Which CTA ends the page: articles get the community one unless `cta:` says otherwise;
    pages only when they ask for one; courses and lessons have their own offer box. The copy
    is in the page's language (theme strings, or the config's `translations`)."""
    choice = entry.meta.cta if entry.kind in ("article", "page", "home") else None
    if choice in (None, "none") or extra.community is None:
        return None
    community = extra.community.in_lang(entry.lang)
    t = strings(entry.lang)
    if choice == "default":
        return Cta(
            kind="community",
            name="default",
            title=community.cta_title or t["join_title"].format(name=community.name),
            text=community.cta_text or t["join_text"],
            button=community.cta_button or t["join_button"],
            url=site_relative(community.join_url),
            qr_image=community.qr_image,
            signup=community.signup,
        )
    named = community.ctas[choice]
    text = named.translations.get(entry.lang) if is_lang(entry.lang) else None
    return Cta(
        kind="named",
        name=choice,
        title=text.title if text else named.title,
        text=text.text if text else named.text,
        button=(text.button if text else named.button) or t["learn_more"],
        url=site_relative((text.url if text else None) or named.url),
    )


def _feeds_first(feeds: tuple[FeedLink, ...], lang: str) -> tuple[FeedLink, ...]:
    return tuple(sorted(feeds, key=lambda feed: feed.lang != lang))


def page_view(
    entry: Entry,
    index: ContentIndex,
    catalog: Catalog,
    view: View = "public",
    *,
    site_url: str = "",
    feeds: tuple[FeedLink, ...] = (),
    tags: tuple[TagLink, ...] = (),
) -> PageView:
    """The `kp` variable for a content page in the given view (public/teaser/full)."""
    course = catalog.courses.get(entry.course or "")
    lesson = None
    if course and entry.kind == "lesson":
        lesson = next((item for item in course.lessons if item.url == entry.url), None)
    date = date_iso = None
    if entry.kind == "article":
        date, date_iso = format_date(entry.meta.date, entry.lang), entry.meta.date.isoformat()
    return PageView(
        kind=entry.kind,
        lang=entry.lang,
        t=strings(entry.lang),
        url_path=entry.url_path,
        view=view,
        catalog=catalog,
        community=index.extra.community,
        date=date,
        date_iso=date_iso,
        cta=None if view == "teaser" else resolve_cta(entry, index.extra),
        course=course,
        lesson=lesson,
        members_only=entry.kind == "article" and entry.meta.access == "members",
        alternates=switcher(index, entry.lang, entry),
        hreflang=hreflang(index, entry, site_url),
        feeds=_feeds_first(feeds, entry.lang),
        tags=tags,
        copyright=index.extra.copyright_in(entry.lang),
    )


def archive_switcher(
    page: ArchivePage, index: ContentIndex, archives: Archives
) -> tuple[Alternate, ...]:
    """Switcher of an archive page: the same listing in each language (page 1), else that
    language's article archive, else its home page."""
    langs = index.langs()
    if len(langs) < 2:
        return ()
    links = []
    for other in langs:
        same = archives.first.get((other, page.group))
        target = same or archives.articles_page(other)
        url = target.url if target is not None else None
        if url is None:
            home = index.home(other)
            url = home.url if home is not None else None
        if url is None:
            continue
        links.append(
            Alternate(
                lang=other,
                name=language_name(other),
                url=url or ".",
                current=other == page.lang,
                translated=same is not None,
            )
        )
    return tuple(links)


def archive_view(
    page: ArchivePage,
    index: ContentIndex,
    catalog: Catalog,
    archives: Archives,
    *,
    feeds: tuple[FeedLink, ...] = (),
) -> PageView:
    """The `kp` variable for a generated archive or tag page."""
    return PageView(
        kind="archive",
        lang=page.lang,
        t=strings(page.lang),
        url_path=f"/{page.url}",
        view="public",
        catalog=catalog,
        community=index.extra.community,
        alternates=archive_switcher(page, index, archives),
        feeds=_feeds_first(feeds, page.lang),
        archive=page.view,
        copyright=index.extra.copyright_in(page.lang),
    )


def shell_view(
    lang: str, index: ContentIndex, catalog: Catalog, *, feeds: tuple[FeedLink, ...] = ()
) -> PageView:
    """The `kp` variable for a page shell the paywall fills (account, sign-in results…);
    its switcher leads to each language's home page."""
    return PageView(
        kind="shell",
        lang=lang,
        t=strings(lang),
        url_path="/account/",
        view="shell",
        catalog=catalog,
        community=index.extra.community,
        alternates=switcher(index, lang),
        feeds=_feeds_first(feeds, lang),
        copyright=index.extra.copyright_in(lang),
    )
