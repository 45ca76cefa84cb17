"""Order-safe Stripe reads and sign-in links bound to the browser that asked for them:
`entitlements.stripe_read_at` (when the Stripe read a state came from started) and
`login_tokens.intent_hash` (the hash of that browser's nonce cookie).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entitlements") as batch:
        batch.add_column(
            sa.Column(
                "stripe_read_at",
                sa.BigInteger(),
                nullable=True,
                comment="ms since the epoch when the Stripe read this state came from started",
            )
        )
    with op.batch_alter_table("login_tokens") as batch:
        batch.add_column(
            sa.Column(
                "intent_hash",
                sa.String(length=64),
                nullable=True,
                comment="hash of the nonce cookie of the browser that asked for the link",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("login_tokens") as batch:
        batch.drop_column("intent_hash")
    with op.batch_alter_table("entitlements") as batch:
        batch.drop_column("stripe_read_at")
