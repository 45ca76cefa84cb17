"""Initial schema: members, entitlements, Stripe events, login tokens, sessions, audit log.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("next_url", sa.String(length=2000), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("ip_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_tokens_token_hash")),
    )
    op.create_index(
        "ix_login_tokens_email_created", "login_tokens", ["email", "created_at"], unique=False
    )
    op.create_index(op.f("ix_login_tokens_ip_hash"), "login_tokens", ["ip_hash"], unique=False)
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False, comment="lower-cased"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "confirmed_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="first magic-link sign-in: the address is proven",
        ),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=True),
        sa.Column("newsletter", sa.Boolean(), nullable=False),
        sa.Column("flagged", sa.String(length=255), nullable=True, comment="e.g. 'dispute dp_…'"),
        sa.Column(
            "source", sa.String(length=500), nullable=True, comment="page the sign-up came from"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("email", name=op.f("uq_members_email")),
        sa.UniqueConstraint("stripe_customer_id", name=op.f("uq_members_stripe_customer_id")),
    )
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False, comment="Stripe's event timestamp"),
        sa.Column("object_id", sa.String(length=255), nullable=False, comment="data.object.id"),
        sa.Column(
            "related_id",
            sa.String(length=255),
            nullable=True,
            comment=(
                "payment intent or subscription the object belongs to: lets a late event "
                "see what already happened to the same payment or subscription"
            ),
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False, comment="kept for `kp events replay`"),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
    )
    op.create_index("ix_stripe_events_related", "stripe_events", ["related_id"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "actor",
            sa.String(length=255),
            nullable=False,
            comment="webhook:<evt id> | cli | admin:<email>",
        ),
        sa.Column(
            "action", sa.String(length=32), nullable=False, comment="grant | update | revoke | flag"
        ),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_audit_log_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "entitlements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column(
            "stripe_object_id",
            sa.String(length=255),
            nullable=False,
            comment="cs_/sub_/pi_ id; '' for complimentary and rewards",
        ),
        sa.Column(
            "stripe_status", sa.String(length=32), nullable=True, comment="subscription status"
        ),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True, comment="None: no end"),
        sa.Column("source_updated_at", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_entitlements_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlements")),
        sa.UniqueConstraint(
            "member_id", "key", "source", "stripe_object_id", name="uq_entitlement"
        ),
    )
    op.create_index(
        "ix_entitlements_stripe_object", "entitlements", ["stripe_object_id"], unique=False
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_sessions_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("sessions")
    op.drop_index("ix_entitlements_stripe_object", table_name="entitlements")
    op.drop_table("entitlements")
    op.drop_table("audit_log")
    op.drop_index("ix_stripe_events_related", table_name="stripe_events")
    op.drop_table("stripe_events")
    op.drop_table("members")
    op.drop_index(op.f("ix_login_tokens_ip_hash"), table_name="login_tokens")
    op.drop_index("ix_login_tokens_email_created", table_name="login_tokens")
    op.drop_table("login_tokens")
