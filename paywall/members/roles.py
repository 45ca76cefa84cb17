"""Admin roles in the audit trail. Who is an admin is a setting (`KP_ADMIN_EMAILS`), not a
table, so a role changes when the setting does: `record_admin_roles` compares the setting
with the roles the trail last recorded and adds a `role_grant` / `role_revoke` row for each
difference (actor `settings`). The server calls it on start and every command through
`kp.commands.admin.paywall_context`, so the trail shows when an address gained or lost the
members desk."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from paywall.database.models import AuditLog
from paywall.members.audit import ROLE_GRANT, ROLE_REVOKE, record
from paywall.members.records import find_member
from paywall.runtime.context import Paywall
from paywall.runtime.logs import get_logger, kv

log = get_logger("paywall.members.roles")

ROLE_KEY = "role:admin"
ACTOR = "settings"


def recorded_admins(db: Session) -> set[str]:
    """The admin addresses as the trail's role rows leave them (in order of writing)."""
    admins: set[str] = set()
    rows = db.execute(
        select(AuditLog.action, AuditLog.detail)
        .where(AuditLog.action.in_((ROLE_GRANT, ROLE_REVOKE)))
        .order_by(AuditLog.id)
    )
    for action, detail in rows:
        email = detail.removeprefix("admin ")
        if action == ROLE_GRANT:
            admins.add(email)
        else:
            admins.discard(email)
    return admins


def record_admin_roles(pw: Paywall) -> list[str]:
    """Write a role row for every change of KP_ADMIN_EMAILS since the last recorded one;
    the changes as `+email` / `-email`. Workers starting together take turns (PostgreSQL:
    an advisory lock; SQLite: one writer); one that cannot write now leaves it to the next
    start and says so, rather than not starting."""
    try:
        return _record(pw)
    except sa_exc.DBAPIError as exc:
        log.warning(kv("roles.not_recorded", error=type(exc.orig).__name__))
        return []


def _record(pw: Paywall) -> list[str]:
    wanted = {email.lower() for email in pw.settings.admin_email_list}
    changes: list[str] = []
    with pw.sessions.begin() as db:
        if db.get_bind().dialect.name == "postgresql":
            db.execute(text("SELECT pg_advisory_xact_lock(70070001)"))
        have = recorded_admins(db)
        now = pw.now()
        for email in sorted(wanted - have):
            member = find_member(db, email)
            record(
                db,
                ROLE_GRANT,
                now=now,
                actor=ACTOR,
                member_id=member.id if member else None,
                key=ROLE_KEY,
                detail=f"admin {email}",
            )
            changes.append(f"+{email}")
        for email in sorted(have - wanted):
            member = find_member(db, email)
            record(
                db,
                ROLE_REVOKE,
                now=now,
                actor=ACTOR,
                member_id=member.id if member else None,
                key=ROLE_KEY,
                detail=f"admin {email}",
            )
            changes.append(f"-{email}")
    return changes
