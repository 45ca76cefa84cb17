"""Member-sellers: `sellers` (a member whose tier makes them a seller, and the partner row
their commission is booked on) and `partners.paid_through` (commission booked before it
has been paid out: pending / paid on /account/).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sellers",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_sellers_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_sellers_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_sellers")),
        sa.UniqueConstraint("partner_id", name=op.f("uq_sellers_partner_id")),
    )
    op.add_column(
        "partners",
        sa.Column(
            "paid_through",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="commission booked before this was paid out (kp partners paid)",
        ),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("partners", "paid_through")
    else:
        # In place: batch mode would re-create `partners`, cascading to the ledger.
        op.execute("ALTER TABLE partners DROP COLUMN paid_through")
    op.drop_table("sellers")
