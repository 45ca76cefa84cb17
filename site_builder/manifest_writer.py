"""Turn the validated content into the build manifest the paywall reads (`kp_contract.manifest`)."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePosixPath

from mkdocs.utils import get_build_datetime

from kp_contract.growth import ArticleRef, GrowthManifest
from kp_contract.manifest import (
    MEMBER_KEY,
    Bundle,
    Course,
    GatedPage,
    Group,
    Manifest,
    Tier,
    course_key,
    normalize_url_path,
    tier_key,
)
from site_builder.catalog import bundle_price, course_price, tier_gifts, tier_lifetime, tier_prices
from site_builder.content import ContentIndex, Entry
from site_builder.models import SellersConfig
from site_builder.role_prices import roles_manifest
from site_builder.views import Catalog

GROUPS_DIR = "_groups"


def _absolute(url: str) -> str:
    return normalize_url_path(url)


def _requires(entry: Entry, catalog: Catalog) -> list[str]:
    """Entitlement keys that open a gated page; any one of them is enough."""
    if entry.kind == "lesson" and entry.course is not None:
        return catalog.courses[entry.course].requires
    return [MEMBER_KEY]


def gated_pages(index: ContentIndex, catalog: Catalog) -> dict[str, GatedPage]:
    """Every published gated page keyed by its URL path (`/courses/x/02-y/`)."""
    pages = {}
    for entry in sorted(index.gated(), key=lambda e: e.src_uri):
        url = entry.url_path
        pages[url] = GatedPage(
            url=url,
            title=entry.meta.title,
            private_file=entry.dest_uri,
            requires=_requires(entry, catalog),
            course=entry.course,
            lang=entry.lang,
            available_after_days=getattr(entry.meta, "available_after_days", None),
            date=getattr(entry.meta, "date", None) if entry.course else None,
        )
    return pages


def make_manifest(
    index: ContentIndex,
    catalog: Catalog,
    *,
    site_name: str,
    site_url: str,
    shells: dict[str, str],
    default_lang: str = "en",
    built_at: dt.datetime | None = None,
) -> Manifest:
    """The manifest for one build: products with prices, gated URLs, page shells. Built at
    `built_at`, default: mkdocs' build time (now, or SOURCE_DATE_EPOCH for reproducible
    builds)."""
    courses = {
        slug: Course(
            slug=slug,
            title=offer.title,
            url=_absolute(offer.url),
            summary=offer.summary,
            mode=offer.mode,
            price=course_price(index.courses[slug].meta),  # every currency
            tier=offer.tier.name if offer.tier else None,
            tiers=[tier.name for tier in offer.tiers],
            lessons=[_absolute(lesson.url) for lesson in offer.lessons],
            lesson_titles=[lesson.title for lesson in offer.lessons],
            lang=offer.lang,
        )
        for slug, offer in catalog.courses.items()
    }
    tiers = {
        name: Tier(
            name=name,
            title=offer.title,
            summary=offer.summary,
            prices=tier_prices(index.extra.paywall.tiers[name]),  # every currency
            courses=[
                slug
                for slug, c in catalog.courses.items()
                if name in (tier.name for tier in c.tiers)
            ],
            titles={
                lang: text.title
                for lang, text in index.extra.paywall.tiers[name].translations.items()
            },
            lifetime=tier_lifetime(index.extra.paywall.tiers[name]),
            gifts=tier_gifts(index.extra.paywall.tiers[name]),
            seller_commission_bp=_basis_points(index.extra.paywall.tiers[name].sellers),
        )
        for name, offer in catalog.tiers.items()
    }
    bundles = {
        name: Bundle(
            name=name,
            title=bundle.title,
            summary=bundle.summary,
            courses=[slug for slug in bundle.courses if slug in catalog.courses],
            price=bundle_price(bundle),
            titles={lang: text.title for lang, text in bundle.translations.items()},
        )
        for name, bundle in index.extra.paywall.bundles.items()
    }
    return Manifest(
        built_at=built_at or get_build_datetime(),
        site_name=site_name,
        site_url=site_url or "",
        courses=courses,
        tiers=tiers,
        bundles=bundles,
        gated=gated_pages(index, catalog),
        shells=shells,
        default_lang=default_lang,
        currency_by_lang={
            lang: code.lower() for lang, code in index.extra.paywall.currency_by_lang.items()
        },
        payment_methods=list(index.extra.paywall.payment_methods),
        groups=groups_manifest(index),
        growth=growth_manifest(index),
        roles=roles_manifest(index),
    )


def _basis_points(sellers: SellersConfig | None) -> int | None:
    """`commission_percent: 20` → 2000 (the partner ledger's unit)."""
    return None if sellers is None else round(sellers.commission_percent * 100)


def group_qr_file(name: str, qr_image: str) -> str:
    """Where a group's QR image is copied under private/ (served by the paywall only)."""
    suffix = PurePosixPath(qr_image).suffix.lower() or ".png"
    return f"{GROUPS_DIR}/{name}{suffix}"


def groups_manifest(index: ContentIndex) -> dict[str, Group]:
    """`extra.community.groups` with who may join each (an entitlement key)."""
    community = index.extra.community
    if community is None:
        return {}
    groups = {}
    for name, group in community.groups.items():
        if group.members:
            requires = MEMBER_KEY
        elif group.tier:
            requires = tier_key(group.tier)
        else:
            requires = course_key(group.course or "")
        groups[name] = Group(
            name=name,
            title=group.title,
            titles={lang: text.title for lang, text in group.translations.items()},
            join_url=group.join_url,
            join_urls={
                lang: text.join_url for lang, text in group.translations.items() if text.join_url
            },
            requires=requires,
            qr_file=group_qr_file(name, group.qr_image) if group.qr_image else None,
        )
    return groups


def growth_manifest(index: ContentIndex) -> GrowthManifest:
    """`extra.growth` plus every published article (title, date, language, summary and
    whether it is free): the paywall's newsletter and funnel report need them, never the
    text itself."""
    articles = [
        ArticleRef(
            url=entry.url_path,
            title=entry.meta.title,
            date=entry.meta.date,
            lang=entry.lang,
            summary=entry.meta.summary,
            access=entry.meta.access,
        )
        for entry in index.articles_newest_first()
    ]
    return GrowthManifest(**index.extra.growth.model_dump(), articles=articles)
