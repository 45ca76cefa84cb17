"""The build manifest: the one contract between `site_builder` and `paywall`.

`kp build` writes it to `private/manifest.json`; the paywall reads it to know which URL is
gated, what entitles a member to it, and which Stripe price sells each product.

Entitlement keys are plain strings: `course:<slug>`, `tier:<name>` and `member` (any signed-in
member, for members-only articles). A gated page lists the keys that unlock it; holding any one
of them is enough. A bundle (`bundle:<name>`) is a product, not an entitlement: buying it
gives a `course:<slug>` entitlement for each of its courses.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kp_contract.growth import GrowthManifest

MANIFEST_VERSION = 1
Mode = Literal["payment", "subscription"]
Interval = Literal["month", "year"]


def course_key(slug: str) -> str:
    """Entitlement key for a course."""
    return f"course:{slug}"


def tier_key(name: str) -> str:
    """Entitlement key for a membership tier."""
    return f"tier:{name}"


def bundle_key(name: str) -> str:
    """Product key of a bundle (Checkout metadata); it grants `course_key` of each course."""
    return f"bundle:{name}"


MEMBER_KEY = "member"

# The page shell: a full themed page the build writes per language to private/, in which the
# paywall substitutes its own dynamic content (account page, sign-in results, checkout status)
# so those pages look like the rest of the site without the paywall importing the builder.
SHELL_TITLE = "__KP_TITLE__"
SHELL_BODY = "<!--kp:body-->"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Model):
    """One Stripe price: by id (`stripe_price`) or by `lookup_key` (resolved at checkout).

    A product sold in several currencies has one Stripe price per currency: this one in its
    main currency, and the others in `currencies`, each with its own lookup key
    (`<lookup_key>-<currency>`, see `currency_lookup_key`). Manifests written before
    per-currency prices have none, and read as before.
    """

    amount: int = Field(description="minor units (cents)")
    currency: str = Field(description="ISO code, lower case")
    display: str = Field(description="human price, e.g. '$49' or '¥99'")
    stripe_price: str | None = None
    lookup_key: str | None = None
    interval: Interval | None = Field(default=None, description="set for recurring prices")
    trial_days: int | None = Field(default=None, description="free trial of a tier's price")
    currencies: dict[str, Price] = Field(
        default_factory=dict, description="the same price in other currencies, by ISO code"
    )

    def in_currency(self, currency: str | None) -> Price:
        """This price in `currency` (without the other currencies); the main currency's
        when it is not sold in that one."""
        chosen = self.currencies.get((currency or "").lower()) if currency else None
        if chosen is None:
            return self.model_copy(update={"currencies": {}}) if self.currencies else self
        return chosen

    def every_currency(self) -> list[Price]:
        """One price per currency, the main one first (what `kp stripe sync` creates)."""
        return [self.in_currency(None), *self.currencies.values()]


def currency_lookup_key(lookup_key: str, currency: str) -> str:
    """The lookup key of a price's version in another currency: `pro-monthly-cny`."""
    return f"{lookup_key}-{currency.lower()}"


class Course(_Model):
    slug: str
    title: str
    url: str = Field(description="landing page URL path, e.g. /courses/launch/")
    summary: str = ""
    mode: Mode
    price: Price
    tier: str | None = Field(default=None, description="the first of `tiers` (older readers)")
    tiers: list[str] = Field(
        default_factory=list,
        description="every tier that includes the course, `tier` first; empty in manifests "
        "written before a course could belong to several (then `tier` alone)",
    )
    lessons: list[str] = Field(default_factory=list, description="lesson URL paths in order")
    lesson_titles: list[str] = Field(
        default_factory=list, description="the lessons' titles, in the order of `lessons`"
    )
    lang: str = "en"

    def tier_names(self) -> list[str]:
        """Every tier that includes the course, the one it is sold as first."""
        return self.tiers or ([self.tier] if self.tier else [])


class Tier(_Model):
    name: str
    title: str
    summary: str = ""
    prices: dict[Interval, Price]
    courses: list[str] = Field(default_factory=list, description="course slugs included")
    titles: dict[str, str] = Field(
        default_factory=dict, description="title per language (other than the site's)"
    )
    lifetime: Price | None = Field(
        default=None, description="lifetime access, paid once (`payment` mode), no end"
    )
    gifts: dict[int, Price] = Field(
        default_factory=dict,
        description="gift of N months (the key) of the tier: a one-time price each",
    )
    seller_commission_bp: int | None = Field(
        default=None,
        description="sellers.commission_percent in basis points: the tier's members earn it "
        "on paid purchases their invite link brings",
    )

    def title_in(self, lang: str) -> str:
        """The tier's name for readers of `lang` (the site-language title if untranslated)."""
        return self.titles.get(lang, self.title)


class Bundle(_Model):
    """Several courses sold together at one price, once; buying it gives each course."""

    name: str
    title: str
    summary: str = ""
    courses: list[str] = Field(description="course slugs it gives")
    price: Price
    titles: dict[str, str] = Field(default_factory=dict, description="title per other language")

    def title_in(self, lang: str) -> str:
        return self.titles.get(lang, self.title)


def price_key(product_key: str, interval: str | None = None) -> str:
    """What a role price is given for: `course:<slug>`, `bundle:<name>`, or a tier's
    interval `tier:<name>:month|year|lifetime` (a tier is sold at several prices)."""
    if product_key.startswith("tier:"):
        return f"{product_key}:{interval or 'lifetime'}"
    return product_key


def role_lookup_key(role: str, key: str) -> str:
    """The Stripe lookup key of a role's price for one product (`price_key`), in its main
    currency: `role-distributor-course-launch`; other currencies add `-<currency>`."""
    return "role-" + role + "-" + key.replace(":", "-")


class Role(_Model):
    """`extra.paywall.roles.<name>`: members carrying this role (`kp members role`) are shown
    and charged its prices. `prices` is keyed by `price_key`; a `percent_off` role has one
    for every product, worked out at build time, so the paywall only ever looks one up."""

    name: str
    title: str
    titles: dict[str, str] = Field(default_factory=dict, description="title per other language")
    percent_off: int | None = Field(default=None, description="the role's discount, if it is one")
    prices: dict[str, Price] = Field(
        default_factory=dict, description="price_key → the role's price (every currency)"
    )
    fixed: list[str] = Field(
        default_factory=list, description="the keys of `prices` given as such, not percent_off"
    )

    def title_in(self, lang: str) -> str:
        return self.titles.get(lang, self.title)

    def percent_off_for(self, key: str) -> int | None:
        """The percentage the price for `key` is off everyone's, when that is how it is set."""
        return None if key in self.fixed else self.percent_off


class GatedPage(_Model):
    """A URL whose full text lives only in `private/`; `site/` holds its teaser."""

    url: str
    title: str
    private_file: str = Field(description="path under private/, e.g. courses/x/y/index.html")
    requires: list[str] = Field(description="entitlement keys; any one unlocks")
    course: str | None = None
    lang: str = "en"
    available_after_days: int | None = Field(
        default=None,
        description="drip: opens this many days after the start of the member's access",
    )
    date: dt.date | None = Field(
        default=None,
        description="a lesson's publication day (front matter `date`), for `kp newsletter "
        "send --lessons`; None: not announced unless dripped (then on the day it opens)",
    )


class Group(_Model):
    """A community group only some members may join (`extra.community.groups`). Its link
    and QR image live here and in private/ only, never in site/."""

    name: str
    title: str
    titles: dict[str, str] = Field(default_factory=dict, description="title per other language")
    join_url: str
    join_urls: dict[str, str] = Field(
        default_factory=dict, description="another language's own link, when it has one"
    )
    requires: str = Field(description="the entitlement key that lets a member in")
    qr_file: str | None = Field(default=None, description="the QR image's path under private/")

    def title_in(self, lang: str) -> str:
        return self.titles.get(lang, self.title)

    def join_url_in(self, lang: str) -> str:
        return self.join_urls.get(lang, self.join_url)


class Manifest(_Model):
    version: int = MANIFEST_VERSION
    built_at: datetime
    site_name: str
    site_url: str = ""
    courses: dict[str, Course] = Field(default_factory=dict)
    tiers: dict[str, Tier] = Field(default_factory=dict)
    bundles: dict[str, Bundle] = Field(
        default_factory=dict, description="extra.paywall.bundles; none in older manifests"
    )
    gated: dict[str, GatedPage] = Field(default_factory=dict, description="keyed by URL path")
    shells: dict[str, str] = Field(
        default_factory=dict,
        description="language → page shell under private/ (contains SHELL_TITLE and SHELL_BODY)",
    )
    default_lang: str = "en"
    currency_by_lang: dict[str, str] = Field(
        default_factory=dict,
        description="extra.paywall.currency_by_lang: the currency each language shows and charges",
    )
    payment_methods: list[str] = Field(
        default_factory=list,
        description="extra.paywall.payment_methods (Stripe payment method types); empty: "
        "Stripe's default",
    )
    growth: GrowthManifest | None = Field(
        default=None,
        description="extra.growth (referral rewards, true-fans goal) + published articles; "
        "None in manifests written before the growth engine",
    )
    groups: dict[str, Group] = Field(
        default_factory=dict, description="extra.community.groups: members-only group links"
    )
    roles: dict[str, Role] = Field(
        default_factory=dict, description="extra.paywall.roles: prices for members by role"
    )

    def currency_for(self, lang: str) -> str | None:
        """The currency readers of `lang` pay in (None: each price's main currency)."""
        return self.currency_by_lang.get(lang)

    def page_for(self, url_path: str) -> GatedPage | None:
        """The gated page served at `url_path` (`/a/b/`, `/a/b/index.html` or `/a/b`)."""
        return self.gated.get(normalize_url_path(url_path))


def normalize_url_path(url_path: str) -> str:
    """Canonical directory-URL form used as manifest key: leading and trailing slash."""
    path = "/" + url_path.lstrip("/")
    if path.endswith("/index.html"):
        path = path[: -len("index.html")]
    if not path.endswith("/") and "." not in path.rsplit("/", 1)[-1]:
        path += "/"
    return path


def write_manifest(manifest: Manifest, path: Path) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = manifest.model_dump_json(indent=2)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(data)
    os.replace(tmp, path)


def read_manifest(path: Path) -> Manifest:
    """Load and validate; raises FileNotFoundError or pydantic.ValidationError naming the field."""
    return Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
