"""Database tables of the paywall (SQLAlchemy 2 declarative; schema changes go through Alembic).

Times are stored as timezone-aware UTC. Secrets (login and session tokens) are stored only as
SHA-256 hashes, so a database leak does not sign anyone in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Why an entitlement exists. `reward` comes from referral rules, `complimentary` from admins.
SOURCES = ("purchase", "subscription", "complimentary", "reward")
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

    entitlements: Mapped[list[Entitlement]] = relationship(back_populates="member")


class Entitlement(Base):
    """What a member may read (`key`: course:<slug> | tier:<name> | member) and why.

    One row per (member, key, source, stripe_object_id): a subscription's row is updated as
    its Stripe status changes; `source_updated_at` is the Stripe object's own timestamp of the
    state last applied, so events that arrive out of order never roll the state back.
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


class AuditLog(Base):
    """Append-only record of every grant, change and revoke of access, and who caused it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(
        String(255), comment="webhook:<evt id> | cli | admin:<email>"
    )
    action: Mapped[str] = mapped_column(String(32), comment="grant | update | revoke | flag")
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    key: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
