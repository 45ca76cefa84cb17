"""The members desk and the members' own data: `members.deleted_at` (an erased account,
kept without the person for the purchase records), `email_changes` (a new address waiting
for its confirmation link), and the audit log made append-only by the database itself
(triggers refuse every UPDATE and DELETE of `audit_log`, whoever sends it).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
]
ACTOR_COMMENT = (
    "webhook:<evt id> | cli | admin:<email> | member:<id> | referral:<id> | settings",
    "webhook:<evt id> | cli | admin:<email>",
)
ACTION_COMMENT = (
    "grant | update | revoke | flag | sign_in | … (members.audit)",
    "grant | update | revoke | flag",
)
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP; END $$"
)
PG_TRIGGER = (
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
)


def upgrade() -> None:
    op.add_column(
        "members",
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="account deleted: personal data erased, purchase records kept",
        ),
    )
    op.create_table(
        "email_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("new_email", sa.String(length=320), nullable=False, comment="lower-cased"),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_email_changes_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_changes")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_changes_token_hash")),
    )
    op.create_index("ix_email_changes_member_id", "email_changes", ["member_id"])
    if op.get_bind().dialect.name == "postgresql":
        _comments(0)
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
        _comments(1)
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.drop_index("ix_email_changes_member_id", table_name="email_changes")
    op.drop_table("email_changes")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("members", "deleted_at")
    else:
        # Not batch mode: it would drop and re-create `members`, and with foreign keys on,
        # dropping it deletes (cascades) every member's entitlements and sessions.
        op.execute("ALTER TABLE members DROP COLUMN deleted_at")


def _comments(which: int) -> None:
    """The audit columns' comments (kept by PostgreSQL only): 0 new, 1 as before."""
    for column, comment, length in (
        ("actor", ACTOR_COMMENT, 255),
        ("action", ACTION_COMMENT, 32),
    ):
        op.alter_column(
            "audit_log",
            column,
            existing_type=sa.String(length=length),
            existing_nullable=False,
            comment=comment[which],
            existing_comment=comment[1 - which],
        )
