"""A member's price role (`members.role`, one of `extra.paywall.roles`): set by
`kp members role`, the members desk or a CSV import, each change an audit row
(`member_role`, detail `old -> new`, `-` for none). Not the admin roles of
`paywall.members.roles` (KP_ADMIN_EMAILS): this one only changes the prices a member pays."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from kp_contract.manifest import Manifest
from paywall.database.models import Member
from paywall.members.audit import MEMBER_ROLE, record


class UnknownRole(ValueError):
    """The role is not in the build's `extra.paywall.roles`; the message lists those."""


def checked_role(manifest: Manifest | None, role: str) -> str:
    """`role` when the build defines it, else `UnknownRole` naming the roles it has."""
    role = role.strip()
    roles = manifest.roles if manifest is not None else {}
    if role not in roles:
        known = ", ".join(sorted(roles)) or "none: add them under extra.paywall.roles"
        raise UnknownRole(f"unknown role {role!r} (roles in the build: {known})")
    return role


def set_role(
    db: Session, member: Member, role: str | None, *, now: dt.datetime, actor: str
) -> bool:
    """Give `member` the role (None: clear it), audited in the caller's transaction;
    False when it was already so."""
    role = role or None
    if member.role == role:
        return False
    record(
        db,
        MEMBER_ROLE,
        now=now,
        actor=actor,
        member_id=member.id,
        detail=f"{member.role or '-'} -> {role or '-'}",
    )
    member.role = role
    return True
