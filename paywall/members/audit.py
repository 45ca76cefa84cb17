"""The audit trail: who did what to whose access, account and data, and when.

Every grant, revoke, refund, comp, role change, sign-in, admin action and data request adds
one `AuditLog` row here (entitlement changes through `paywall.members.entitlements`). Rows
are only ever added: the application has no code that updates or deletes them, and since
migration 0007 the database refuses it too. A row names its member by id, never by address,
so erasing an account (`paywall.members.erasure`) leaves nothing personal in the trail.

Actors: `webhook:<evt id>` (Stripe), `cli` / `cli:import`, `admin:<email>` (the members
desk), `member:<id>` (the member themself), `referral:<id>` (a reward), `settings`
(KP_ADMIN_EMAILS as the server found it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from paywall.database.models import AuditLog, Member

# Actions besides the entitlement ones (grant, update, revoke) and `flag`.
SIGN_IN = "sign_in"
LOGIN_LINK = "login_link"  # an admin sent the member a sign-in link
SIGN_OUT_ALL = "sign_out_all"
REFUND = "refund"  # a refund asked of Stripe; the revoke follows from its webhook
ROLE_GRANT = "role_grant"
ROLE_REVOKE = "role_revoke"
MEMBER_ROLE = "member_role"  # a member's price role set or cleared (detail: `old -> new`)
DATA_EXPORT = "data_export"
EMAIL_CHANGE_REQUESTED = "email_change_asked"
EMAIL_CHANGED = "email_changed"
ACCOUNT_DELETED = "account_deleted"
MEMBERS_EXPORT = "members_export"
MEMBERS_IMPORT = "members_import"
GIFT_SENT = "gift_sent"  # a gift paid: its redemption link mailed to the recipient
GIFT_REDEEMED = "gift_redeemed"
GIFT_REVOKED = "gift_revoked"  # refunded, disputed or its payment failed


def admin_actor(email: str) -> str:
    return f"admin:{email.lower()}"[:255]


def member_actor(member_id: int) -> str:
    return f"member:{member_id}"


def record(
    db: Session,
    action: str,
    *,
    now: dt.datetime,
    actor: str,
    member_id: int | None = None,
    key: str | None = None,
    source: str | None = None,
    detail: str = "",
) -> None:
    """Add one row (in the caller's transaction: it commits with what it describes)."""
    db.add(
        AuditLog(
            at=now,
            actor=actor[:255],
            action=action[:32],
            member_id=member_id,
            key=key,
            source=source,
            detail=detail,
        )
    )


@dataclass(frozen=True)
class AuditLine:
    """One row as the CLI and the admin pages show it."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    member_id: int | None
    email: str | None
    key: str | None
    source: str | None
    detail: str


def audit_lines(
    db: Session,
    *,
    member_id: int | None = None,
    since: dt.datetime | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[AuditLine]:
    """Rows in time order (or newest first), optionally one member's and from `since` on."""
    stmt = select(AuditLog, Member.email).outerjoin(Member, Member.id == AuditLog.member_id)
    if member_id is not None:
        stmt = stmt.where(AuditLog.member_id == member_id)
    if since is not None:
        stmt = stmt.where(AuditLog.at >= since)
    order = (AuditLog.at.desc(), AuditLog.id.desc()) if newest_first else (AuditLog.at, AuditLog.id)
    stmt = stmt.order_by(*order)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        AuditLine(
            row.id,
            row.at,
            row.actor,
            row.action,
            row.member_id,
            email,
            row.key,
            row.source,
            row.detail,
        )
        for row, email in db.execute(stmt)
    ]
