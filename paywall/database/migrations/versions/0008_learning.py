"""Learning: `lesson_progress` (lessons a member marked done) and `certificates` (a course
completed, verified in public by its id; the name the member chose, no e-mail).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lesson_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("course", sa.String(length=255), nullable=False),
        sa.Column("lesson_url", sa.String(length=500), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_lesson_progress_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson_progress")),
        sa.UniqueConstraint("member_id", "lesson_url", name="uq_lesson_progress"),
    )
    op.create_index("ix_lesson_progress_course", "lesson_progress", ["course"])
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("course", sa.String(length=255), nullable=False),
        sa.Column(
            "course_title", sa.String(length=500), nullable=False, comment="as it was when issued"
        ),
        sa.Column(
            "name",
            sa.String(length=200),
            nullable=False,
            comment="the name printed, chosen by them",
        ),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_certificates_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("member_id", "course", name="uq_certificate"),
    )


def downgrade() -> None:
    op.drop_table("certificates")
    op.drop_index("ix_lesson_progress_course", table_name="lesson_progress")
    op.drop_table("lesson_progress")
