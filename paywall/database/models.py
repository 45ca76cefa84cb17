"""Database tables of the paywall (SQLAlchemy 2 declarative; schema changes go through Alembic).

Times are stored as timezone-aware UTC. Secrets (login and session tokens) are stored only as
SHA-256 hashes, so a database leak does not sign anyone in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Why an entitlement exists. `reward` comes from referral rules, `complimentary` from admins,
# `gift` from a gift redeemed (bought by another member: see `Gift`).
SOURCES = ("purchase", "subscription", "complimentary", "reward", "gift")
# `active` grants access (within valid_from/valid_until); the others never do.
STATUSES = ("active", "revoked", "expired", "pending")


# Deterministic constraint names: later migrations (SQLite batch mode especially) must be able
# to name the constraint they alter.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on every backend. SQLite keeps no zone and hands back naive
    values, which cannot be compared with the aware `Paywall.now()`; this stores UTC and
    always returns aware UTC, so code never has to care which database it runs on."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware UTC time")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model here is mapped to a plain table (`__tablename__`), never to a join or a
    # subquery, so `Model.__table__` is a `Table` (SQLAlchemy can only promise `FromClause`).
    __table__: ClassVar[Table]
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON}


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, comment="lower-cased")
    created_at: Mapped[dt.datetime]
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(
        comment="first magic-link sign-in: the address is proven"
    )
    lang: Mapped[str] = mapped_column(String(8), default="en")
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    newsletter: Mapped[bool] = mapped_column(Boolean, default=True)
    flagged: Mapped[str | None] = mapped_column(String(255), comment="e.g. 'dispute dp_…'")
    source: Mapped[str | None] = mapped_column(String(500), comment="page the sign-up came from")
    deleted_at: Mapped[dt.datetime | None] = mapped_column(
        comment="account deleted: personal data erased, purchase records kept"
    )
    role: Mapped[str | None] = mapped_column(
        String(64), comment="extra.paywall.roles name: the prices this member pays"
    )

    entitlements: Mapped[list[Entitlement]] = relationship(back_populates="member")


class Entitlement(Base):
    """What a member may read (`key`: course:<slug> | tier:<name> | member) and why.

    One row per (member, key, source, stripe_object_id): a subscription's row is updated as
    its Stripe status changes; `source_updated_at` is the Stripe object's own timestamp of the
    state last applied, so events that arrive out of order never roll the state back; when the
    state was read from Stripe's API, `stripe_read_at` orders concurrent reads the same way.
    """

    __tablename__ = "entitlements"
    __table_args__ = (
        UniqueConstraint("member_id", "key", "source", "stripe_object_id", name="uq_entitlement"),
        Index("ix_entitlements_stripe_object", "stripe_object_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default="active")
    stripe_object_id: Mapped[str] = mapped_column(
        String(255), default="", comment="cs_/sub_/pi_ id; '' for complimentary and rewards"
    )
    stripe_status: Mapped[str | None] = mapped_column(String(32), comment="subscription status")
    valid_from: Mapped[dt.datetime]
    valid_until: Mapped[dt.datetime | None] = mapped_column(comment="None: no end")
    source_updated_at: Mapped[int] = mapped_column(BigInteger, default=0)
    stripe_read_at: Mapped[int | None] = mapped_column(
        BigInteger,
        comment="ms since the epoch when the Stripe read this state came from started",
    )
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    member: Mapped[Member] = relationship(back_populates="entitlements")


class StripeEvent(Base):
    """Every webhook event accepted, keyed by Stripe's id: the primary key makes duplicates
    (including concurrent ones) fail to insert, so each event is processed once."""

    __tablename__ = "stripe_events"
    __table_args__ = (Index("ix_stripe_events_related", "related_id"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(255))
    created: Mapped[int] = mapped_column(BigInteger, comment="Stripe's event timestamp")
    object_id: Mapped[str] = mapped_column(String(255), default="", comment="data.object.id")
    related_id: Mapped[str | None] = mapped_column(
        String(255),
        comment="payment intent or subscription the object belongs to: lets a late event "
        "see what already happened to the same payment or subscription",
    )
    received_at: Mapped[dt.datetime]
    processed_at: Mapped[dt.datetime | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, comment="kept for `kp events replay`")
    outcome: Mapped[str] = mapped_column(Text, default="")


class WebhookFailure(Base):
    """A verified event whose processing failed (Stripe unreadable, not applicable yet, a
    bug) and was answered 5xx, so Stripe retries it. Kept apart from `stripe_events` on
    purpose: a failed attempt must never make the retry look like a duplicate. The event is
    pending while it has a row here and none in `stripe_events` (`kp events list`)."""

    __tablename__ = "webhook_failures"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(255))
    created: Mapped[int] = mapped_column(BigInteger, comment="Stripe's event timestamp")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_failed_at: Mapped[dt.datetime]
    last_failed_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(Text, default="", comment="the last failure, one line")


class LoginToken(Base):
    """A magic link: single use (`used_at`), short-lived (`expires_at`), stored hashed."""

    __tablename__ = "login_tokens"
    __table_args__ = (Index("ix_login_tokens_email_created", "email", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    next_url: Mapped[str] = mapped_column(String(2000), default="/")
    source: Mapped[str | None] = mapped_column(String(500))
    ip_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    ref: Mapped[str | None] = mapped_column(
        String(64), comment="referral or partner code of the invite link (?ref=) it came from"
    )
    intent_hash: Mapped[str | None] = mapped_column(
        String(64), comment="hash of the nonce cookie of the browser that asked for the link"
    )
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its hash is stored, and a
    row can be revoked (sign out, admin revoke) with immediate effect on every worker."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    last_seen_at: Mapped[dt.datetime | None]

    member: Mapped[Member] = relationship()


class EmailChange(Base):
    """A member's request to move their account to a new address: it takes effect when the
    link mailed to that new address is opened (single use, short-lived, stored hashed)."""

    __tablename__ = "email_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    new_email: Mapped[str] = mapped_column(String(320), comment="lower-cased")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class AccessGeneration(Base):
    """One row whose counter goes up in every transaction that may change who can read what
    (an entitlement written, a session revoked, a member removed): workers caching sessions
    and entitlements compare it to what they loaded (`paywall.database.access_generation`)."""

    __tablename__ = "access_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditLog(Base):
    """Append-only record of every grant, change and revoke of access, sign-in, admin action
    and data request, and who caused it (`paywall.members.audit`). Since migration 0007 the
    database refuses UPDATE and DELETE of its rows (triggers), so the application cannot
    rewrite history even by mistake; the rows name members by id, never by address, so an
    erased account leaves nothing personal here."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(
        String(255),
        comment="webhook:<evt id> | cli | admin:<email> | member:<id> | referral:<id> | settings",
    )
    action: Mapped[str] = mapped_column(
        String(32), comment="grant | update | revoke | flag | sign_in | … (members.audit)"
    )
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    key: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


# ---------------------------------------------------------------- growth (migrations 0002, 0003)
# Referral codes and counted invites, partners and their commission ledger, funnel
# conversions, cookie-less page counters and the newsletter's sent-log. Unique constraints do
# the bookkeeping: concurrent confirmations, duplicate webhooks and repeated newsletter runs
# all end in "already there" instead of double counts.


class ReferralCode(Base):
    """A member's invite code (`?ref=CODE`): random, unguessable, created on first use."""

    __tablename__ = "referral_codes"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[dt.datetime]


class Referral(Base):
    """One invite that counts: `member_id` confirmed their address through `referrer_id`'s
    link. Unique per invited member and per address, so nobody is counted twice."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referrer_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), unique=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True, comment="lower-cased")
    confirmed_at: Mapped[dt.datetime]


class ReferralReward(Base):
    """A reward rule a member has earned (each rule once); the access itself is an
    entitlement with source `reward`."""

    __tablename__ = "referral_rewards"
    __table_args__ = (UniqueConstraint("member_id", "rule_id", name="uq_referral_reward"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255))
    invites: Mapped[int] = mapped_column(Integer)
    granted_at: Mapped[dt.datetime]
    valid_until: Mapped[dt.datetime | None]


class Partner(Base):
    """An opinion leader or distributor: a Stripe promotion code with a discount, a referral
    link, and a commission (basis points: 1000 = 10 %) on what they sell."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    ref_code: Mapped[str] = mapped_column(String(64), unique=True)
    promotion_code: Mapped[str] = mapped_column(String(64), unique=True)
    promotion_code_id: Mapped[str] = mapped_column(String(255), unique=True)
    coupon_id: Mapped[str] = mapped_column(String(255))
    discount_bp: Mapped[int] = mapped_column(Integer)
    commission_bp: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]
    paid_through: Mapped[dt.datetime | None] = mapped_column(
        comment="commission booked before this was paid out (kp partners paid)"
    )


class Seller(Base):
    """A member-seller (a tier with `sellers: {commission_percent: …}`): their invite link
    earns commission through the partner machinery, on a partner row of their own (no
    Stripe code: `promotion_code` SELLER-<member id>), made the first time it earns."""

    __tablename__ = "sellers"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[dt.datetime]


class PartnerMember(Base):
    """A member who signed up through a partner's link: their later purchases are the
    partner's too."""

    __tablename__ = "partner_members"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime]


class PartnerLedger(Base):
    """Commission ledger, append-only: a `sale` row per attributed one-time checkout or paid
    subscription invoice (`invoice_id`; its `checkout_session_id` is NULL) and `reversal`
    rows (negative) when its payment is refunded or disputed. `refunded_total` is the
    cumulative refunded amount a reversal brings the sale to, so each refund step is
    booked once however often its event is delivered."""

    __tablename__ = "partner_ledger"
    __table_args__ = (
        UniqueConstraint(
            "checkout_session_id", "kind", "refunded_total", name="uq_partner_ledger_entry"
        ),
        UniqueConstraint(
            "invoice_id", "kind", "refunded_total", name="uq_partner_ledger_invoice_entry"
        ),
        Index("ix_partner_ledger_payment_intent", "payment_intent"),
        Index("ix_partner_ledger_partner_at", "partner_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), comment="sale | reversal")
    attribution: Mapped[str] = mapped_column(
        String(32), comment="promotion_code | ref_link | member"
    )
    checkout_session_id: Mapped[str | None] = mapped_column(String(255))
    invoice_id: Mapped[str | None] = mapped_column(String(255))
    subscription_id: Mapped[str | None] = mapped_column(String(255))
    payment_intent: Mapped[str | None] = mapped_column(String(255))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    product_key: Mapped[str] = mapped_column(String(255), default="")
    currency: Mapped[str] = mapped_column(String(8), default="usd")
    amount_subtotal: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_discount: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_total: Mapped[int] = mapped_column(BigInteger, default=0)
    commission: Mapped[int] = mapped_column(BigInteger, comment="minor units; < 0 reverses")
    refunded_total: Mapped[int] = mapped_column(BigInteger, default=0)
    event_id: Mapped[str] = mapped_column(String(255), default="")
    at: Mapped[dt.datetime]


class PartnerSubscription(Base):
    """Who brought a subscription, so each of its paid invoices earns that partner's
    commission. A row with no partner is a placeholder written by an `invoice.paid` that
    came before the checkout: the two events meet on this primary key, whatever their
    order or concurrency."""

    __tablename__ = "partner_subscriptions"

    subscription_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    attribution: Mapped[str] = mapped_column(String(32), default="")
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    product_key: Mapped[str] = mapped_column(String(255), default="")
    checkout_session_id: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[dt.datetime]


class Conversion(Base):
    """A sign-up or a purchase and the page it came from (the funnel's lower steps)."""

    __tablename__ = "conversions"
    __table_args__ = (
        UniqueConstraint("kind", "object_id", name="uq_conversion"),
        Index("ix_conversions_kind_path", "kind", "path"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), comment="signup | purchase")
    object_id: Mapped[str] = mapped_column(String(255), comment="member:<id> | checkout session")
    path: Mapped[str | None] = mapped_column(String(500))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    ref: Mapped[str | None] = mapped_column(String(64))
    amount_total: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str | None] = mapped_column(String(8))
    at: Mapped[dt.datetime]


class PageCounter(Base):
    """Cookie-less beacon counts: one row per day, page and event (`view`, `cta`). Nothing
    about the visitor is stored: no IP address, no user agent, no identifier."""

    __tablename__ = "page_counters"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    path: Mapped[str] = mapped_column(String(300), primary_key=True)
    event: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class NewsletterSend(Base):
    """Which article went to which member: a second `kp newsletter send` sends nothing new."""

    __tablename__ = "newsletter_log"
    __table_args__ = (UniqueConstraint("member_id", "article_url", name="uq_newsletter_log"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    article_url: Mapped[str] = mapped_column(String(500))
    sent_at: Mapped[dt.datetime]


class LessonProgress(Base):
    """A lesson a member marked done (one row per member and lesson: marking again changes
    nothing). `course` is the slug, so progress is counted per course without the manifest."""

    __tablename__ = "lesson_progress"
    __table_args__ = (
        UniqueConstraint("member_id", "lesson_url", name="uq_lesson_progress"),
        Index("ix_lesson_progress_course", "course"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    course: Mapped[str] = mapped_column(String(255))
    lesson_url: Mapped[str] = mapped_column(String(500))
    done_at: Mapped[dt.datetime]


class Certificate(Base):
    """A course completed: `id` is the public, unguessable part of its verification URL.
    It holds the name the member chose, never their e-mail. One per member and course."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("member_id", "course", name="uq_certificate"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    course: Mapped[str] = mapped_column(String(255))
    course_title: Mapped[str] = mapped_column(String(500), comment="as it was when issued")
    name: Mapped[str] = mapped_column(String(200), comment="the name printed, chosen by them")
    lang: Mapped[str] = mapped_column(String(8), default="en")
    issued_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


# A gift's life: `pending` (checkout started, not paid), `sent` (paid, link mailed to the
# recipient), `redeemed` (opened and signed in: the recipient holds it), `refunded` or
# `disputed` (the purchase was reversed: link dead, access revoked), `failed` (the payment
# did not go through).
GIFT_STATES = ("pending", "sent", "redeemed", "refunded", "disputed", "failed")


class Gift(Base):
    """A course or N months of a tier bought for someone else's e-mail address. The
    recipient's address and the message live only here (never in site/, Stripe metadata
    or logs); the redemption link is single-use and stored hashed, like sign-in links."""

    __tablename__ = "gifts"
    __table_args__ = (Index("ix_gifts_payment_intent", "payment_intent_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    recipient_email: Mapped[str] = mapped_column(String(320), comment="lower-cased")
    message: Mapped[str] = mapped_column(Text, default="")
    key: Mapped[str] = mapped_column(String(255), comment="the entitlement key it gives")
    months: Mapped[int | None] = mapped_column(Integer, comment="tier gifts; None: no end")
    lang: Mapped[str] = mapped_column(String(8), default="en")
    state: Mapped[str] = mapped_column(String(16), default="pending")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    link_expires_at: Mapped[dt.datetime | None]
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    recipient_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    redeemed_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None] = mapped_column(comment="refunded, disputed or failed")
    note: Mapped[str] = mapped_column(String(255), default="", comment="why it ended")
