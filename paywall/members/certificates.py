"""Certificates of completion: claimed by a member who marked every lesson of a course done,
with the name they choose; verified by anyone at `/certificates/<id>/` (name, course, date
and site, never an e-mail); revoked by the creator (`kp certificates revoke ID`), after
which the page says so."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kp_contract.manifest import Manifest
from paywall.database.models import Certificate
from paywall.database.upsert import insert_if_absent
from paywall.members.progress import course_progress, done_lessons

MAX_NAME_CHARS = 120
ID_PATTERN = r"[A-Za-z0-9_-]{16,32}"


class CertificateRefused(ValueError):
    """Why a certificate cannot be issued (shown to the member as it is)."""


def clean_name(value: str) -> str:
    """The name as printed: spaces collapsed; 1 to MAX_NAME_CHARS characters, no controls."""
    name = " ".join(value.split())
    if not name:
        raise CertificateRefused("give the name to print on the certificate")
    if len(name) > MAX_NAME_CHARS:
        raise CertificateRefused(f"the name is longer than {MAX_NAME_CHARS} characters")
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in name):
        raise CertificateRefused("the name contains control characters")
    return name


def new_certificate_id() -> str:
    """24 hex digits (96 random bits): safe in a URL, and never starts with '-', which a
    command line (`kp certificates revoke ID`) would read as an option."""
    return secrets.token_hex(12)


def certificate_of(db: Session, member_id: int, course: str) -> Certificate | None:
    return db.scalar(
        select(Certificate).where(Certificate.member_id == member_id, Certificate.course == course)
    )


def claim(
    db: Session,
    manifest: Manifest,
    member_id: int,
    course_slug: str,
    name: str,
    lang: str,
    now: dt.datetime,
) -> Certificate:
    """Issue the member's certificate for a course they finished (the one already issued if
    they claim again: one per member and course). Commits nothing."""
    course = manifest.courses.get(course_slug)
    if course is None:
        raise CertificateRefused(f"no course {course_slug!r}")
    progress = course_progress(course, done_lessons(db, member_id))
    if not progress.finished:
        raise CertificateRefused(
            f"mark every lesson done first ({progress.done} of {progress.total} done)"
        )
    values = {
        "id": new_certificate_id(),
        "member_id": member_id,
        "course": course_slug,
        "course_title": course.title,
        "name": clean_name(name),
        "lang": lang,
        "issued_at": now,
        "revoked_at": None,
    }
    insert_if_absent(db, Certificate.__table__, values, ["member_id", "course"])
    issued = certificate_of(db, member_id, course_slug)
    assert issued is not None
    return issued


def find(db: Session, certificate_id: str) -> Certificate | None:
    return db.get(Certificate, certificate_id)


def revoke(db: Session, certificate_id: str, now: dt.datetime) -> Certificate | None:
    """Mark revoked (kept, so its page says so); None for an unknown id. Commits nothing."""
    row = db.get(Certificate, certificate_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
    return row


@dataclass(frozen=True)
class Listed:
    id: str
    course: str
    name: str
    issued_at: dt.datetime
    revoked_at: dt.datetime | None


def listing(db: Session, course: str | None = None) -> list[Listed]:
    """Certificates, oldest first, maybe of one course only."""
    stmt = select(Certificate).order_by(Certificate.issued_at, Certificate.id)
    if course is not None:
        stmt = stmt.where(Certificate.course == course)
    return [Listed(c.id, c.course, c.name, c.issued_at, c.revoked_at) for c in db.scalars(stmt)]
