"""Partner commissions on subscription invoices: `partner_subscriptions` (who brought a
subscription) and, on the ledger, `invoice_id` / `subscription_id` with a nullable
`checkout_session_id` (invoice rows have none) and a unique key per invoice entry.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_subscriptions",
        sa.Column("subscription_id", sa.String(length=255), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("attribution", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("product_key", sa.String(length=255), nullable=False),
        sa.Column("checkout_session_id", sa.String(length=255), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_subscriptions_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_partner_subscriptions_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_partner_subscriptions")),
    )
    with op.batch_alter_table("partner_ledger") as batch:
        batch.add_column(sa.Column("invoice_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("subscription_id", sa.String(length=255), nullable=True))
        batch.alter_column(
            "checkout_session_id", existing_type=sa.String(length=255), nullable=True
        )
        batch.create_unique_constraint(
            "uq_partner_ledger_invoice_entry", ["invoice_id", "kind", "refunded_total"]
        )


def downgrade() -> None:
    # Invoice entries cannot live without a checkout session id: they go with the feature.
    op.execute("DELETE FROM partner_ledger WHERE checkout_session_id IS NULL")
    with op.batch_alter_table("partner_ledger") as batch:
        batch.drop_constraint("uq_partner_ledger_invoice_entry", type_="unique")
        batch.alter_column(
            "checkout_session_id", existing_type=sa.String(length=255), nullable=False
        )
        batch.drop_column("subscription_id")
        batch.drop_column("invoice_id")
    op.drop_table("partner_subscriptions")
