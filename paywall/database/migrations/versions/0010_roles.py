"""Role prices: `members.role` (a name from `extra.paywall.roles`; NULL: everyone else's
prices). Its changes are audit rows (`member_role`), no table of their own.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "members",
        sa.Column(
            "role",
            sa.String(length=64),
            nullable=True,
            comment="extra.paywall.roles name: the prices this member pays",
        ),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("members", "role")
    else:
        # Not batch mode: it would drop and re-create `members`, and with foreign keys on,
        # dropping it deletes (cascades) every member's entitlements and sessions.
        op.execute("ALTER TABLE members DROP COLUMN role")
