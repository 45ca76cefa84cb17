"""Members as CSV: export everything, import our own export or a Ghost members export.

One row per entitlement (a member without any has one row with empty entitlement columns),
so an export re-imported into an empty database reproduces the same members and access.
An import is all-or-nothing: every row is checked first and errors name the line and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from paywall.database.models import SOURCES, STATUSES, Entitlement, Member
from paywall.members.entitlements import Desired, InvalidKey, set_state, validate_key
from paywall.members.price_roles import set_role
from paywall.members.records import InvalidEmail, get_or_create_member, normalize_email

COLUMNS = [
    "email",
    "lang",
    "created_at",
    "newsletter",
    "stripe_customer_id",
    "flagged",
    "key",
    "source",
    "status",
    "valid_from",
    "valid_until",
    "stripe_object_id",
    "note",
    "role",
]
"""`role` (the member's price role) came last, later than the rest: files without it are
read as before and leave roles alone."""
ROLE_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Columns of Ghost's members export that have no equivalent here; accepted and ignored.
GHOST_IGNORED = {"id", "name", "note", "complimentary_plan", "deleted_at", "labels", "tiers"}
GHOST_COLUMNS = {"subscribed_to_emails": "newsletter"}
TRUE = {"true", "1", "yes", "y"}
FALSE = {"false", "0", "no", "n", ""}


# ---------------------------------------------------------------- export


def export_members(db: Session, out: IO[str]) -> int:
    """Write every member and entitlement; returns the number of rows written."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    members = db.scalars(select(Member).order_by(Member.email)).all()
    for member in members:
        rows: Sequence[Entitlement | None] = db.scalars(
            select(Entitlement)
            .where(Entitlement.member_id == member.id)
            .order_by(Entitlement.key, Entitlement.source, Entitlement.stripe_object_id)
        ).all()
        base = {
            "email": member.email,
            "lang": member.lang,
            "created_at": _iso(member.created_at),
            "newsletter": "true" if member.newsletter else "false",
            "stripe_customer_id": member.stripe_customer_id or "",
            "flagged": member.flagged or "",
            "role": member.role or "",
        }
        for row in rows or [None]:
            writer.writerow({**base, **_entitlement_columns(row)})
            count += 1
    return count


def _entitlement_columns(row: Entitlement | None) -> dict[str, str]:
    if row is None:
        return {}
    return {
        "key": row.key,
        "source": row.source,
        "status": row.status,
        "valid_from": _iso(row.valid_from),
        "valid_until": _iso(row.valid_until),
        "stripe_object_id": row.stripe_object_id,
        "note": row.note,
    }


def _iso(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).isoformat() if value else ""


# ---------------------------------------------------------------- import


class CsvImportError(ValueError):
    """The file cannot be imported; `errors` lists every problem as `line N: column: why`."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class ImportRow:
    line: int
    email: str
    lang: str | None = None
    created_at: dt.datetime | None = None
    newsletter: bool | None = None
    stripe_customer_id: str | None = None
    flagged: str | None = None
    key: str | None = None
    source: str = "complimentary"
    status: str = "active"
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    stripe_object_id: str = ""
    note: str = ""
    role: str | None = None
    """None: the file has no `role` column (leave it); "": no role."""


@dataclass
class ImportReport:
    members_created: int = 0
    members_existing: int = 0
    entitlements_changed: int = 0
    entitlements_unchanged: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"members: {self.members_created} new, {self.members_existing} existing; "
            f"entitlements: {self.entitlements_changed} granted or changed, "
            f"{self.entitlements_unchanged} unchanged"
        )
        if self.ignored_columns:
            text += f"; ignored columns: {', '.join(self.ignored_columns)}"
        return text


def parse_rows(source: IO[str]) -> tuple[list[ImportRow], list[str]]:
    """Read and check every row; raises `CsvImportError` listing all problems at once."""
    reader = csv.DictReader(source)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "email" not in header:
        raise CsvImportError(["line 1: header has no 'email' column"])
    known = set(COLUMNS) | set(GHOST_COLUMNS)
    unknown = [h for h in header if h not in known and h not in GHOST_IGNORED]
    if unknown:
        raise CsvImportError(
            [f"line 1: unknown column(s) {', '.join(unknown)} (expected {', '.join(COLUMNS)})"]
        )
    ignored = [h for h in header if h in GHOST_IGNORED and h not in COLUMNS]
    rows, errors = [], []
    for number, raw in enumerate(reader, start=2):
        values = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        for ghost, ours in GHOST_COLUMNS.items():
            if values.get(ghost) and not values.get(ours):
                values[ours] = values[ghost]
        row, problems = _parse_row(number, values)
        errors += problems
        if row is not None:
            rows.append(row)
    if errors:
        raise CsvImportError(errors)
    return rows, ignored


def _parse_row(line: int, v: dict[str, str]) -> tuple[ImportRow | None, list[str]]:
    errors: list[str] = []

    def fail(column: str, why: str) -> None:
        errors.append(f"line {line}: {column}: {why}")

    try:
        email = normalize_email(v.get("email", ""))
    except InvalidEmail as exc:
        fail("email", str(exc))
        return None, errors
    row = ImportRow(line=line, email=email)
    if "role" in v:
        row.role = v["role"]
        if row.role and not ROLE_RE.match(row.role):
            fail("role", f"{row.role!r} is not a role name (like distributor)")
    row.lang = v.get("lang") or None
    row.stripe_customer_id = v.get("stripe_customer_id") or None
    row.flagged = v.get("flagged") or None
    if v.get("newsletter"):
        flag = v["newsletter"].lower()
        if flag not in TRUE | FALSE:
            fail("newsletter", f"{v['newsletter']!r} is not true/false")
        row.newsletter = flag in TRUE
    for column in ("created_at", "valid_from", "valid_until"):
        if v.get(column):
            try:
                setattr(row, column, parse_time(v[column], end_of_day=column == "valid_until"))
            except ValueError as exc:
                fail(column, str(exc))
    if v.get("key"):
        try:
            row.key = validate_key(v["key"])
        except InvalidKey as exc:
            fail("key", str(exc))
        row.source = v.get("source") or "complimentary"
        row.status = v.get("status") or "active"
        row.stripe_object_id = v.get("stripe_object_id", "")
        row.note = v.get("note", "")
        if row.source not in SOURCES:
            fail("source", f"{row.source!r} is not one of {', '.join(SOURCES)}")
        if row.status not in STATUSES:
            fail("status", f"{row.status!r} is not one of {', '.join(STATUSES)}")
    elif any(v.get(c) for c in ("source", "status", "valid_from", "valid_until")):
        fail("key", "entitlement columns are filled but 'key' is empty")
    return row, errors


def parse_time(text: str, *, end_of_day: bool = False) -> dt.datetime:
    """ISO date or datetime as aware UTC. A bare date as an end (`end_of_day`) means
    "through that day": access ends at the following midnight UTC."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            return start + dt.timedelta(days=1) if end_of_day else start
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or ISO date-time") from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def import_rows(
    db: Session,
    rows: Iterable[ImportRow],
    *,
    now: dt.datetime,
    actor: str,
    roles: Iterable[str] | None = None,
) -> ImportReport:
    """Apply checked rows: members created or updated, entitlements set to exactly the
    row's state (so re-importing an export changes nothing). `roles`: the price roles the
    build has; a row naming another stops the import (None: not checked)."""
    report = ImportReport()
    seen: set[str] = set()
    rows = list(rows)
    known = set(roles) if roles is not None else None
    unknown = [
        f"line {row.line}: role: unknown role {row.role!r} (roles in the build: "
        f"{', '.join(sorted(known)) or 'none'})"
        for row in rows
        if known is not None and row.role and row.role not in known
    ]
    if unknown:
        raise CsvImportError(unknown)
    for row in rows:
        existing = db.scalar(select(Member).where(Member.email == row.email))
        member = existing or get_or_create_member(
            db, row.email, now=row.created_at or now, lang=row.lang or "en", source="import"
        )
        if row.email not in seen:
            seen.add(row.email)
            if existing is None:
                report.members_created += 1
            else:
                report.members_existing += 1
        _update_member(db, member, row)
        if row.role is not None:
            set_role(db, member, row.role or None, now=now, actor=actor)
        if row.key is None:
            continue
        before = db.scalar(
            select(Entitlement).where(
                Entitlement.member_id == member.id,
                Entitlement.key == row.key,
                Entitlement.source == row.source,
                Entitlement.stripe_object_id == row.stripe_object_id,
            )
        )
        snapshot = _state(before)
        desired = Desired(
            status=row.status,
            valid_from=row.valid_from or (before.valid_from if before else now),
            valid_until=row.valid_until,
            note=row.note,
        )
        after = set_state(
            db,
            member,
            row.key,
            row.source,
            desired,
            now=now,
            actor=actor,
            stripe_object_id=row.stripe_object_id,
            authoritative=True,
            reactivate=True,
        )
        if _state(after) == snapshot:
            report.entitlements_unchanged += 1
        else:
            report.entitlements_changed += 1
    db.flush()
    return report


def _update_member(db: Session, member: Member, row: ImportRow) -> None:
    if row.lang:
        member.lang = row.lang
    if row.newsletter is not None:
        member.newsletter = row.newsletter
    if row.flagged:
        member.flagged = row.flagged[:255]
    if row.stripe_customer_id and member.stripe_customer_id != row.stripe_customer_id:
        taken = db.scalar(
            select(Member.email).where(Member.stripe_customer_id == row.stripe_customer_id)
        )
        if taken is not None:
            raise CsvImportError(
                [
                    f"line {row.line}: stripe_customer_id: {row.stripe_customer_id} already "
                    f"belongs to {taken}"
                ]
            )
        member.stripe_customer_id = row.stripe_customer_id


def _state(row: Entitlement | None) -> tuple[object, ...] | None:
    if row is None:
        return None
    return (row.status, row.valid_from, row.valid_until, row.note)
