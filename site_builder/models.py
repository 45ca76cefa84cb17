"""Front-matter and `mkdocs.yml extra` schemas (the content model of DESIGN.md).

Unknown keys are errors (`extra="forbid"`); booleans and strings are strict so `draft: "no"`
or `title: 2024` is reported instead of silently coerced. `lang` left out means "from the file
name suffix (`x.zh.md`), else the site's language" (see page_langs.py).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, TypeGuard, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from kp_contract.growth import GrowthConfig
from site_builder.field_errors import CURRENCY_PATTERN

Lang = Literal["en", "zh"]


def is_lang(value: str) -> TypeGuard[Lang]:
    """Whether `value` is one of the languages content may be written in."""
    return value in get_args(Lang)


Slug = Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]


def _number(value: object) -> object:
    """Prices are YAML numbers; `price: "49"` or `price: true` is reported, not coerced."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number like 49 or 49.5")
    return value


# A price in major units (49, 49.5).
Amount = Annotated[float, BeforeValidator(_number), Field(ge=0)]


def _date_only(value: object) -> object:
    """YAML gives `date` for `2024-05-01` and `datetime` with a time; numbers are not dates."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("expected a date like 2024-05-01")
    return value


Date = Annotated[dt.date, BeforeValidator(_date_only)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArticleMeta(_Strict):
    title: StrictStr
    date: Date
    tags: list[StrictStr] = Field(default_factory=list)
    summary: StrictStr = ""
    lang: Lang | None = None
    draft: StrictBool = False
    cta: StrictStr = "default"
    access: Literal["public", "members"] = "public"
    slug: Slug | None = None


CurrencyCode = Annotated[StrictStr, Field(pattern=CURRENCY_PATTERN)]
Prices = Annotated[dict[CurrencyCode, Amount], Field(min_length=1)]
"""A price per currency, `{usd: 49, cny: 299}`: the first is the main one."""
PaymentMethod = Literal["card", "alipay", "wechat_pay"]
"""Stripe payment method types the paywall passes to Checkout (and the local Stripe offers)."""


def price_form_error(price: object, currency: object, prices: object) -> tuple[str, str] | None:
    """`price` + `currency`, or `prices: {usd: 49, cny: 299}`, never both, never neither:
    (key, message) when the front matter breaks that."""
    if prices is not None and (price is not None or currency is not None):
        given = " and ".join(k for k, v in (("price", price), ("currency", currency)) if v)
        return "prices", f"give `prices` (per currency) or `price` + `currency`, not {given} too"
    if prices is None and (price is None or currency is None):
        missing = "price" if price is None else "currency"
        return missing, "required key is missing (or give `prices: {usd: 49, cny: 299}`)"
    return None


def price_per_currency(
    price: float | None, currency: str | None, prices: dict[str, float] | None
) -> dict[str, float]:
    """Both forms as one mapping, lower-case codes, the main currency first."""
    if prices:
        return {code.lower(): amount for code, amount in prices.items()}
    if price is None or currency is None:
        return {}
    return {currency.lower(): price}


class CourseMeta(_Strict):
    title: StrictStr
    summary: StrictStr = ""
    price: Amount | None = None
    currency: CurrencyCode | None = None
    prices: Prices | None = None
    mode: Literal["payment", "subscription"]
    interval: Literal["month", "year"] | None = None
    stripe_price: StrictStr | None = None
    lookup_key: StrictStr | None = None
    tier: StrictStr | Annotated[list[StrictStr], Field(min_length=1)] | None = None
    """The membership tier(s) that include this course: one name, or a list of them."""
    lang: Lang | None = None
    draft: StrictBool = False

    def price_per_currency(self) -> dict[str, float]:
        """`{currency: major units}`, the main currency first."""
        return price_per_currency(self.price, self.currency, self.prices)

    def tier_names(self) -> list[str]:
        """Every tier that includes the course (`tier: pro` or `tier: [pro, team]`), in
        order: the first is the one a subscription course is sold as."""
        if self.tier is None:
            return []
        return [self.tier] if isinstance(self.tier, str) else list(dict.fromkeys(self.tier))


class LessonMeta(_Strict):
    """A lesson inherits its course's `lang` unless it sets its own."""

    title: StrictStr
    summary: StrictStr = ""
    free_preview: StrictBool = False
    available_after_days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = None
    """Drip: the lesson opens this many days after the start of the member's access."""
    date: Date | None = None
    """The day the lesson was published: `kp newsletter send --lessons` e-mails it then."""
    lang: Lang | None = None
    draft: StrictBool = False

    @model_validator(mode="after")
    def _drip_is_for_paid_lessons(self) -> LessonMeta:
        if self.free_preview and self.available_after_days is not None:
            raise ValueError(
                "`available_after_days` is for paid lessons; a `free_preview` lesson is open"
                " to everyone from day one"
            )
        return self


class PageMeta(_Strict):
    """Home page and pages/*.md. `template`/`hide` are mkdocs-material's own page keys."""

    title: StrictStr
    summary: StrictStr = ""
    lang: Lang | None = None
    cta: StrictStr | None = None
    draft: StrictBool = False
    template: StrictStr | None = None
    hide: list[Literal["navigation", "toc", "footer", "path", "tags", "feedback"]] = Field(
        default_factory=list
    )


class CtaText(_Strict):
    """A named CTA's copy in another language (`translations: {zh: {...}}`)."""

    title: StrictStr
    text: StrictStr = ""
    button: StrictStr | None = None
    url: StrictStr | None = Field(default=None, description="default: the CTA's own url")


class NamedCta(_Strict):
    """A call to action an article picks with `cta: <name>` instead of the community one.
    Its copy is in the site's language; pages in another language need `translations`."""

    title: StrictStr
    text: StrictStr = ""
    button: StrictStr | None = Field(default=None, description="default: 'Learn more'")
    url: StrictStr = Field(description="site path like /pricing/ or an absolute URL")
    translations: dict[Lang, CtaText] = Field(default_factory=dict)


class CommunityText(_Strict):
    """The community's name, links and CTA overrides in another language; unset keys fall
    back to the site-language ones (a name or a group link may well be the same)."""

    name: StrictStr | None = None
    join_url: StrictStr | None = None
    qr_image: StrictStr | None = None
    cta_title: StrictStr | None = None
    cta_text: StrictStr | None = None
    cta_button: StrictStr | None = None


class GroupText(_Strict):
    """A group's name (and maybe its own link) for readers of another language."""

    title: StrictStr
    join_url: StrictStr | None = None


class CommunityGroup(_Strict):
    """`extra.community.groups.<name>`: a group only some members may join (the paying
    members' group beside the public one). Exactly one of `members`, `tier`, `course` says
    who. Its link and QR image never reach `site/`: the manifest (in private/) carries
    them, and the paywall shows them to members allowed in."""

    title: StrictStr
    join_url: StrictStr
    qr_image: StrictStr | None = Field(
        default=None,
        description="image path relative to mkdocs.yml, outside docs_dir (never published)",
    )
    members: StrictBool = False
    tier: StrictStr | None = None
    course: Slug | None = None
    translations: dict[Lang, GroupText] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_audience(self) -> CommunityGroup:
        chosen = [k for k in ("members", "tier", "course") if getattr(self, k)]
        if len(chosen) != 1:
            raise ValueError(
                "a group is for exactly one of `members: true`, `tier: <name>` or"
                f" `course: <slug>` (found: {', '.join(chosen) or 'none'})"
            )
        return self


class CommunityConfig(_Strict):
    """`extra.community`: the default CTA at the foot of every free article."""

    name: StrictStr
    join_url: StrictStr
    qr_image: StrictStr | None = Field(default=None, description="image path under docs_dir")
    signup: StrictBool = True
    cta_title: StrictStr | None = None
    cta_text: StrictStr | None = None
    cta_button: StrictStr | None = None
    ctas: dict[str, NamedCta] = Field(default_factory=dict)
    groups: dict[Slug, CommunityGroup] = Field(default_factory=dict)
    translations: dict[Lang, CommunityText] = Field(default_factory=dict)

    def in_lang(self, lang: str) -> CommunityConfig:
        """This config with `translations[lang]` applied (itself when there is none)."""
        text = self.translations.get(lang) if is_lang(lang) else None
        if text is None:
            return self
        overrides = {k: v for k, v in text.model_dump().items() if v is not None}
        return self.model_copy(update=overrides)


class TierPrice(_Strict):
    """One billing interval of a tier: `price` in the tier's `currency`, or `prices` per
    currency; `trial_days` free before the first payment."""

    price: Amount | None = None
    prices: Prices | None = None
    stripe_price: StrictStr | None = None
    lookup_key: StrictStr | None = None
    trial_days: Annotated[int, Field(strict=True, ge=1, le=730)] | None = None

    @model_validator(mode="after")
    def _needs_stripe_reference(self) -> TierPrice:
        if not self.stripe_price and not self.lookup_key:
            raise ValueError("a tier price needs `lookup_key` or `stripe_price`")
        if self.price is not None and self.prices is not None:
            raise ValueError("give `price` (in the tier's `currency`) or `prices`, not both")
        if self.price is None and self.prices is None:
            raise ValueError("`price` is missing (or give `prices: {usd: 12, cny: 79}`)")
        if self.prices and len(self.prices) > 1 and not self.lookup_key:
            raise ValueError(
                "prices in several currencies need `lookup_key` (one Stripe price per "
                "currency, `<lookup_key>-<currency>`), not a single `stripe_price`"
            )
        return self


class OneTimePrice(_Strict):
    """A price paid once (a tier's `lifetime`, a bundle): `price` in the owner's
    `currency`, or `prices` per currency, and its Stripe price."""

    price: Amount | None = None
    prices: Prices | None = None
    stripe_price: StrictStr | None = None
    lookup_key: StrictStr | None = None

    @model_validator(mode="after")
    def _priced_once(self) -> OneTimePrice:
        if not self.stripe_price and not self.lookup_key:
            raise ValueError("a one-time price needs `lookup_key` or `stripe_price`")
        if self.price is not None and self.prices is not None:
            raise ValueError("give `price` (in the tier's `currency`) or `prices`, not both")
        if self.price is None and self.prices is None:
            raise ValueError("`price` is missing (or give `prices: {usd: 299, cny: 1999}`)")
        if self.prices and len(self.prices) > 1 and not self.lookup_key:
            raise ValueError(
                "prices in several currencies need `lookup_key` (one Stripe price per "
                "currency, `<lookup_key>-<currency>`), not a single `stripe_price`"
            )
        return self


GiftMonths = Annotated[int, Field(strict=True, ge=1, le=36)]


class TierText(_Strict):
    title: StrictStr
    summary: StrictStr = ""


class SellersConfig(_Strict):
    """`extra.paywall.tiers.<name>.sellers`: the tier's members are sellers (the "diamond"
    member): their invite link earns this share of every paid purchase it brings."""

    commission_percent: Annotated[float, BeforeValidator(_number), Field(gt=0, le=100)]

    @field_validator("commission_percent")
    @classmethod
    def _two_decimals(cls, value: float) -> float:
        if round(value, 2) != value:
            raise ValueError(f"{value} has more than two decimals")
        return value


class TierConfig(_Strict):
    """A membership tier. Its title and summary are in the site's language; a bilingual
    site gives the others in `translations` (checked: readers never see a mix)."""

    title: StrictStr
    summary: StrictStr = ""
    currency: CurrencyCode | None = Field(
        default=None, description="of the intervals' `price`; not needed with `prices`"
    )
    prices: dict[Literal["month", "year"], TierPrice]
    lifetime: OneTimePrice | None = None
    """Lifetime access: paid once (Checkout in `payment` mode), never expires."""
    gift_months: Annotated[list[GiftMonths], Field(max_length=12)] = Field(default_factory=list)
    """Gifts of N months of the tier, e.g. `[1, 3, 12]`: one-time prices of N times the
    monthly price (`<month lookup_key>-gift-<N>m`)."""
    translations: dict[Lang, TierText] = Field(default_factory=dict)
    sellers: SellersConfig | None = None
    """Members of the tier earn commission on what their invite link sells."""

    @model_validator(mode="after")
    def _currency_given(self) -> TierConfig:
        for interval, price in self.prices.items():
            if price.price is not None and self.currency is None:
                raise ValueError(
                    f"`prices.{interval}.price` needs the tier's `currency` "
                    f"(or give `prices.{interval}.prices: {{usd: 12, cny: 79}}`)"
                )
        if self.lifetime and self.lifetime.price is not None and self.currency is None:
            raise ValueError(
                "`lifetime.price` needs the tier's `currency` "
                "(or give `lifetime.prices: {usd: 299, cny: 1999}`)"
            )
        return self

    @field_validator("gift_months")
    @classmethod
    def _gift_months_once(cls, months: list[int]) -> list[int]:
        if len(set(months)) != len(months):
            raise ValueError(f"a number of months is listed twice: {months}")
        return months

    def gift_months_error(self) -> str | None:
        """Why `gift_months` cannot be priced (they are N times the monthly price)."""
        month = self.prices.get("month")
        if self.gift_months and (month is None or not month.lookup_key):
            return (
                "gifts are priced from the monthly price: give `prices.month` with a "
                "`lookup_key` (a gift's price is `<lookup_key>-gift-<N>m`)"
            )
        return None

    def lifetime_per_currency(self) -> dict[str, float]:
        """`{currency: major units}` of the lifetime price (empty without one)."""
        if self.lifetime is None:
            return {}
        return price_per_currency(self.lifetime.price, self.currency, self.lifetime.prices)

    def price_per_currency(self, interval: str) -> dict[str, float]:
        """`{currency: major units}` of one interval, the main currency first."""
        price = self.prices[interval]  # type: ignore[index]
        return price_per_currency(price.price, self.currency, price.prices)

    def text(self, lang: str) -> TierText:
        """Title and summary for readers of `lang` (the site-language ones if untranslated)."""
        text = self.translations.get(lang) if is_lang(lang) else None
        return text or TierText(title=self.title, summary=self.summary)


class BundleText(_Strict):
    title: StrictStr
    summary: StrictStr = ""


class BundleConfig(_Strict):
    """`extra.paywall.bundles.<name>`: several courses sold together at one price, once
    (Checkout in `payment` mode). Buying it gives each of its courses."""

    title: StrictStr
    summary: StrictStr = ""
    courses: Annotated[list[Slug], Field(min_length=2)]
    price: Amount | None = None
    currency: CurrencyCode | None = None
    prices: Prices | None = None
    stripe_price: StrictStr | None = None
    lookup_key: StrictStr | None = None
    translations: dict[Lang, BundleText] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _priced(self) -> BundleConfig:
        form = price_form_error(self.price, self.currency, self.prices)
        if form is not None:
            raise ValueError(f"`{form[0]}`: {form[1]}")
        if not self.stripe_price and not self.lookup_key:
            raise ValueError("a bundle needs `lookup_key` or `stripe_price`")
        if self.prices and len(self.prices) > 1 and not self.lookup_key:
            raise ValueError(
                "prices in several currencies need `lookup_key` (one Stripe price per "
                "currency, `<lookup_key>-<currency>`), not a single `stripe_price`"
            )
        if len(set(self.courses)) != len(self.courses):
            raise ValueError(f"`courses` lists a course twice: {self.courses}")
        return self

    def price_per_currency(self) -> dict[str, float]:
        return price_per_currency(self.price, self.currency, self.prices)

    def text(self, lang: str) -> BundleText:
        text = self.translations.get(lang) if is_lang(lang) else None
        return text or BundleText(title=self.title, summary=self.summary)


class RoleText(_Strict):
    title: StrictStr


ROLE_PRICE_KEY = re.compile(
    r"^(course|bundle):[a-z0-9][a-z0-9-]*$|^tier:[^:\s]+:(month|year|lifetime)$"
)


def _role_price_key(value: str) -> str:
    if not ROLE_PRICE_KEY.match(value):
        raise ValueError("expected course:<slug>, bundle:<name> or tier:<name>:month|year|lifetime")
    return value


RolePriceKey = Annotated[StrictStr, AfterValidator(_role_price_key)]
"""What a role price is for: `course:<slug>`, `bundle:<name>`, `tier:<name>:<interval>`."""


class RoleConfig(_Strict):
    """`extra.paywall.roles.<name>`: a price for members with this role (`kp members role`).
    `prices` gives a fixed price per product (`course:launch: {usd: 30, cny: 199}`), in
    every currency the product is sold in; `percent_off` takes that much off every other
    product (gifts keep their price). The paywall shows it to the signed-in member only."""

    title: StrictStr
    percent_off: Annotated[int, Field(strict=True, ge=1, le=99)] | None = None
    prices: dict[RolePriceKey, Prices] = Field(default_factory=dict)
    translations: dict[Lang, RoleText] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _prices_something(self) -> RoleConfig:
        if self.percent_off is None and not self.prices:
            raise ValueError(
                "a role needs `percent_off: 20` or `prices: {course:<slug>: {usd: 30}}`"
            )
        return self

    def title_in(self, lang: str) -> str:
        text = self.translations.get(lang) if is_lang(lang) else None
        return text.title if text else self.title


class PaywallConfig(_Strict):
    tiers: dict[str, TierConfig] = Field(default_factory=dict)
    bundles: dict[Slug, BundleConfig] = Field(default_factory=dict)
    """Several courses at one price (`bundle=<name>` at checkout)."""
    currency_by_lang: dict[Lang, CurrencyCode] = Field(default_factory=dict)
    """The currency each language's pages show and its readers are charged, e.g.
    `{en: usd, zh: cny}`; a product not priced in it is shown and sold in its main one."""
    payment_methods: list[PaymentMethod] = Field(default_factory=list)
    """Stripe payment method types for Checkout (empty: Stripe's default). Wallets that
    Stripe takes for one-time payments only (alipay, wechat_pay) are left out of
    subscriptions."""
    roles: dict[Slug, RoleConfig] = Field(default_factory=dict)
    """Prices by member role (`distributor`, `kol`…): fixed per product or a percentage."""


class SiteText(_Strict):
    """Site-wide copy in another language (`extra.translations: {zh: {...}}`)."""

    copyright: StrictStr | None = Field(default=None, description="mkdocs.yml's `copyright`")


class SiteExtra(BaseModel):
    """The parts of `extra` we own; other keys (analytics, social…) belong to the theme."""

    model_config = ConfigDict(extra="allow")

    community: CommunityConfig | None = None
    paywall: PaywallConfig = Field(default_factory=PaywallConfig)
    translations: dict[Lang, SiteText] = Field(default_factory=dict)
    """The footer's copyright line for pages in other languages than the site's."""
    growth: GrowthConfig = Field(default_factory=GrowthConfig)
    """Invite rewards and the true-fans goal (kp_contract/growth.py), passed to the paywall in the
    manifest."""
    invalid: frozenset[str] = Field(default=frozenset(), exclude=True)
    """Sections that failed validation (already reported): checks that look names up in them
    stay quiet rather than report every CTA or tier as unknown."""

    def copyright_in(self, lang: str) -> str | None:
        """The footer's copyright line for `lang`, when the site translates it."""
        text = self.translations.get(lang) if is_lang(lang) else None
        return text.copyright if text else None
