"""Gifts: `gifts` (a course or N months of a tier bought for someone else's address; its
redemption link stored hashed) and the `gift` entitlement source (a plain string column:
no schema change for it).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_member_id", sa.Integer(), nullable=True),
        sa.Column("recipient_email", sa.String(length=320), nullable=False, comment="lower-cased"),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "key", sa.String(length=255), nullable=False, comment="the entitlement key it gives"
        ),
        sa.Column("months", sa.Integer(), nullable=True, comment="tier gifts; None: no end"),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checkout_session_id", sa.String(length=255), nullable=True),
        sa.Column("payment_intent_id", sa.String(length=255), nullable=True),
        sa.Column("recipient_member_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "ended_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="refunded, disputed or failed",
        ),
        sa.Column("note", sa.String(length=255), nullable=False, comment="why it ended"),
        sa.ForeignKeyConstraint(
            ["buyer_member_id"],
            ["members.id"],
            name=op.f("fk_gifts_buyer_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_member_id"],
            ["members.id"],
            name=op.f("fk_gifts_recipient_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gifts")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_gifts_token_hash")),
        sa.UniqueConstraint("checkout_session_id", name=op.f("uq_gifts_checkout_session_id")),
    )
    op.create_index("ix_gifts_buyer_member_id", "gifts", ["buyer_member_id"])
    op.create_index("ix_gifts_payment_intent", "gifts", ["payment_intent_id"])


def downgrade() -> None:
    op.drop_index("ix_gifts_payment_intent", table_name="gifts")
    op.drop_index("ix_gifts_buyer_member_id", table_name="gifts")
    op.drop_table("gifts")
