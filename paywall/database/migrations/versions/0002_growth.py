"""Growth engine: referral codes, counted invites and rewards, partners and their commission
ledger, funnel conversions, cookie-less page counters, newsletter sent-log; the invite code a
magic link was asked for with (`login_tokens.ref`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _member_fk(table: str, column: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        ["members.id"],
        name=op.f(f"fk_{table}_{column}_members"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    with op.batch_alter_table("login_tokens") as batch:
        batch.add_column(
            sa.Column(
                "ref",
                sa.String(length=64),
                nullable=True,
                comment="referral or partner code of the invite link (?ref=) it came from",
            )
        )
    op.create_table(
        "referral_codes",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _member_fk("referral_codes", "member_id", "CASCADE"),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_referral_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_referral_codes_code")),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referrer_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False, comment="lower-cased"),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        _member_fk("referrals", "referrer_id", "CASCADE"),
        _member_fk("referrals", "member_id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("member_id", name=op.f("uq_referrals_member_id")),
        sa.UniqueConstraint("email", name=op.f("uq_referrals_email")),
    )
    op.create_index(op.f("ix_referrals_referrer_id"), "referrals", ["referrer_id"], unique=False)
    op.create_table(
        "referral_rewards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("invites", sa.Integer(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        _member_fk("referral_rewards", "member_id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_rewards")),
        sa.UniqueConstraint("member_id", "rule_id", name="uq_referral_reward"),
    )
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ref_code", sa.String(length=64), nullable=False),
        sa.Column("promotion_code", sa.String(length=64), nullable=False),
        sa.Column("promotion_code_id", sa.String(length=255), nullable=False),
        sa.Column("coupon_id", sa.String(length=255), nullable=False),
        sa.Column("discount_bp", sa.Integer(), nullable=False),
        sa.Column("commission_bp", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("name", name=op.f("uq_partners_name")),
        sa.UniqueConstraint("ref_code", name=op.f("uq_partners_ref_code")),
        sa.UniqueConstraint("promotion_code", name=op.f("uq_partners_promotion_code")),
        sa.UniqueConstraint("promotion_code_id", name=op.f("uq_partners_promotion_code_id")),
    )
    op.create_table(
        "partner_members",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _member_fk("partner_members", "member_id", "CASCADE"),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_members_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_partner_members")),
    )
    op.create_table(
        "partner_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="sale | reversal"),
        sa.Column(
            "attribution",
            sa.String(length=32),
            nullable=False,
            comment="promotion_code | ref_link | member",
        ),
        sa.Column("checkout_session_id", sa.String(length=255), nullable=False),
        sa.Column("payment_intent", sa.String(length=255), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("product_key", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("amount_subtotal", sa.BigInteger(), nullable=False),
        sa.Column("amount_discount", sa.BigInteger(), nullable=False),
        sa.Column("amount_total", sa.BigInteger(), nullable=False),
        sa.Column(
            "commission", sa.BigInteger(), nullable=False, comment="minor units; < 0 reverses"
        ),
        sa.Column("refunded_total", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_ledger_partner_id_partners"),
            ondelete="CASCADE",
        ),
        _member_fk("partner_ledger", "member_id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_ledger")),
        sa.UniqueConstraint(
            "checkout_session_id", "kind", "refunded_total", name="uq_partner_ledger_entry"
        ),
    )
    op.create_index(
        "ix_partner_ledger_payment_intent", "partner_ledger", ["payment_intent"], unique=False
    )
    op.create_index(
        "ix_partner_ledger_partner_at", "partner_ledger", ["partner_id", "at"], unique=False
    )
    op.create_table(
        "conversions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="signup | purchase"),
        sa.Column(
            "object_id",
            sa.String(length=255),
            nullable=False,
            comment="member:<id> | checkout session",
        ),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("amount_total", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _member_fk("conversions", "member_id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversions")),
        sa.UniqueConstraint("kind", "object_id", name="uq_conversion"),
    )
    op.create_index("ix_conversions_kind_path", "conversions", ["kind", "path"], unique=False)
    op.create_table(
        "page_counters",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "path", "event", name=op.f("pk_page_counters")),
    )
    op.create_table(
        "newsletter_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("article_url", sa.String(length=500), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        _member_fk("newsletter_log", "member_id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_newsletter_log")),
        sa.UniqueConstraint("member_id", "article_url", name="uq_newsletter_log"),
    )


def downgrade() -> None:
    op.drop_table("newsletter_log")
    op.drop_table("page_counters")
    op.drop_index("ix_conversions_kind_path", table_name="conversions")
    op.drop_table("conversions")
    op.drop_index("ix_partner_ledger_partner_at", table_name="partner_ledger")
    op.drop_index("ix_partner_ledger_payment_intent", table_name="partner_ledger")
    op.drop_table("partner_ledger")
    op.drop_table("partner_members")
    op.drop_table("partners")
    op.drop_table("referral_rewards")
    op.drop_index(op.f("ix_referrals_referrer_id"), table_name="referrals")
    op.drop_table("referrals")
    op.drop_table("referral_codes")
    with op.batch_alter_table("login_tokens") as batch:
        batch.drop_column("ref")
