"""What every Stripe event handler works with: the event, the transaction, Stripe's fresh
view of the object, and the shared step of applying a state to an entitlement row.

Handlers (`on_checkout`, `on_subscription`, `on_reversal` in this package) run inside the
webhook's database transaction, after the event row was inserted, and return the outcome
text stored with the event. They never call Stripe: fresh state was fetched beforehand
(`Fresh`), so no network wait happens while the transaction holds locks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kp_contract.i18n import LANGS
from kp_contract.manifest import Manifest
from paywall.database.models import Entitlement, Member
from paywall.members.entitlements import Desired, InvalidKey, set_state, validate_key
from paywall.members.records import InvalidEmail, get_or_create_member
from paywall.runtime.context import Paywall

PAID_STATUSES = ("paid", "no_payment_required")
SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
)


@dataclass
class Fresh:
    """Stripe's current view, read just before the transaction. With Stripe configured every
    read the event needs succeeded (or the event was answered 5xx and not stored); without a
    Stripe key nothing is read and the handlers use the event payload.

    `object` is the event's own object as Stripe holds it now (the Checkout Session, charge,
    dispute, invoice or subscription): handlers see it as `EventContext.obj`, so they act on
    Stripe's record, never on a payload alone. `read_at` is when the reads started (ms since
    the epoch), which orders states read by events processed at the same time."""

    object: dict[str, Any] | None = None
    read_at: int | None = None
    missing: str | None = None
    """Stripe does not know the event's object (why): nothing is fulfilled from it."""
    subscription: dict[str, Any] | None = None
    customer_email: str | None = None
    line_item_prices: list[tuple[str | None, str | None]] | None = None
    charge: dict[str, Any] | None = None
    # a disputed charge's customer, when no member has it yet: their subscriptions at
    # Stripe (whether the dispute concerns something this site sells, arriving early)
    customer_subscriptions: list[dict[str, Any]] | None = None
    # invoice.paid's invoice, or a subscription checkout's first one, with `payments`
    # expanded: which PaymentIntent paid it (partner commissions and their refunds)
    invoice: dict[str, Any] | None = None


class NotYetApplicable(RuntimeError):
    """The event concerns something this site sells, but what it acts on has not arrived
    yet (a renewal's dispute before the subscription's checkout): nothing is stored and the
    endpoint answers 503, so Stripe delivers it again later."""


@dataclass(frozen=True)
class PurchaseMail:
    """A "purchase confirmed" magic-link e-mail to send once the grant is committed."""

    email: str
    next_url: str
    lang: str
    intent_hash: str | None = None
    """The buying browser's sign-in nonce, hashed (Checkout metadata): the link signs in
    there at once."""


@dataclass(frozen=True)
class GiftMail:
    """A gift's redemption link for its recipient (paywall.billing.gifts), sent once the
    transaction that made the link commits."""

    to: str
    lang: str
    link: str
    title: str
    message: str
    giver: str


@dataclass
class EventContext:
    pw: Paywall
    db: Session
    event: dict[str, Any]
    fresh: Fresh
    now: dt.datetime
    actor: str
    replay: bool = False
    mails: list[PurchaseMail] = field(default_factory=list)
    gift_mails: list[GiftMail] = field(default_factory=list)

    @property
    def obj(self) -> dict[str, Any]:
        """The event's object: Stripe's current record when it was read, else the payload's."""
        if self.fresh.object is not None:
            return self.fresh.object
        obj: dict[str, Any] = self.event["data"]["object"]
        return obj

    @property
    def type(self) -> str:
        return str(self.event["type"])

    @property
    def stamp(self) -> int:
        return int(self.event["created"])

    @property
    def manifest(self) -> Manifest | None:
        return self.pw.manifest()


def apply_state(
    ctx: EventContext,
    member: Member,
    key: str,
    source: str,
    object_id: str,
    desired: Desired,
    stamp: int,
    authoritative: bool = False,
) -> tuple[str, bool]:
    """set_state plus a one-line outcome; True when access was opened by this event."""
    before = ctx.db.scalar(
        select(Entitlement.status).where(
            Entitlement.member_id == member.id,
            Entitlement.key == key,
            Entitlement.source == source,
            Entitlement.stripe_object_id == object_id,
        )
    )
    row = set_state(
        ctx.db,
        member,
        key,
        source,
        desired,
        now=ctx.now,
        actor=ctx.actor,
        stripe_object_id=object_id,
        stamp=stamp,
        authoritative=authoritative,
        read_at=ctx.fresh.read_at if authoritative else None,
    )
    if row is None:
        return f"{key} kept ({object_id} already has a newer state than {desired.status})", False
    until = row.valid_until.isoformat() if row.valid_until else "open"
    became_active = row.status == "active" and before != "active"
    return f"{key} {row.status} until {until} ({object_id})", became_active


def member_by_email(ctx: EventContext, email: str | None, lang: str | None = None) -> Member | None:
    """The member with this e-mail; created (in the buyer's `lang`, when known) if new."""
    if not email:
        return None
    new_lang = lang if lang in LANGS else None
    if new_lang is None and ctx.manifest is not None:
        new_lang = ctx.manifest.default_lang
    try:
        return get_or_create_member(
            ctx.db, email, now=ctx.now, source="stripe checkout", lang=new_lang or "en"
        )
    except InvalidEmail:
        return None


def valid_key(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return validate_key(value)
    except InvalidKey:
        return None


def purchase_landing(manifest: Manifest | None, key: str, from_path: object) -> str:
    """Where a buyer's purchase e-mail link lands: back on the page they bought from when
    that page is one the purchase opens (the lesson they were reading), else `landing_url`."""
    if manifest is not None and isinstance(from_path, str) and from_path.startswith("/"):
        page = manifest.page_for(from_path.split("?", 1)[0].split("#", 1)[0])
        if page is not None and key in page.requires:
            return page.url
    return landing_url(manifest, key)


def landing_url(manifest: Manifest | None, key: str) -> str:
    """Where the purchase e-mail's sign-in link lands: the course, or the first course of
    the tier, or the account page."""
    if manifest is not None:
        kind, _, name = key.partition(":")
        if kind == "course" and name in manifest.courses:
            return manifest.courses[name].url
        if kind == "tier" and name in manifest.tiers and manifest.tiers[name].courses:
            first = manifest.tiers[name].courses[0]
            if first in manifest.courses:
                return manifest.courses[first].url
        if kind == "bundle" and name in manifest.bundles and manifest.bundles[name].courses:
            first = manifest.bundles[name].courses[0]
            if first in manifest.courses:
                return manifest.courses[first].url
    return "/account/"
