"""Per-course completion, for the creator (`/admin/`, `kp stats --courses`): of a course's
students, how many started it, got half way, finished it, and hold a certificate.

Students are the members who hold or ever held an entitlement that opens the course (its
`course:` key or its tier's, whatever the row's state now: someone whose subscription lapsed
after finishing still finished). Progress counts the lessons of the current build only, so
a removed lesson does not keep anyone from "finished". Certificates are the ones issued for
the course and not revoked.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kp_contract.manifest import Course, Manifest, course_key, tier_key
from paywall.database.models import Certificate, Entitlement, LessonProgress


@dataclass(frozen=True)
class CourseCompletion:
    slug: str
    title: str
    lessons: int
    students: int
    started: int  # at least one lesson done
    half: int  # at least half of the lessons done
    finished: int  # every lesson done
    certificates: int  # issued and not revoked


def course_keys(course: Course) -> list[str]:
    """The entitlement keys that open a course's paid lessons."""
    keys = [course_key(course.slug)]
    if course.tier:
        keys.append(tier_key(course.tier))
    return keys


def course_completion(db: Session, course: Course) -> CourseCompletion:
    students = set(
        db.scalars(
            select(Entitlement.member_id).where(Entitlement.key.in_(course_keys(course))).distinct()
        )
    )
    done: dict[int, int] = {}
    if course.lessons:
        rows = db.execute(
            select(LessonProgress.member_id, func.count())
            .where(LessonProgress.lesson_url.in_(course.lessons))
            .group_by(LessonProgress.member_id)
        ).all()
        done = {member_id: count for member_id, count in rows if member_id in students}
    total = len(course.lessons)
    certificates = db.scalar(
        select(func.count())
        .select_from(Certificate)
        .where(Certificate.course == course.slug, Certificate.revoked_at.is_(None))
    )
    return CourseCompletion(
        slug=course.slug,
        title=course.title,
        lessons=total,
        students=len(students),
        started=sum(1 for n in done.values() if n >= 1),
        half=sum(1 for n in done.values() if total and 2 * n >= total),
        finished=sum(1 for n in done.values() if total and n >= total),
        certificates=certificates or 0,
    )


def completion_by_course(db: Session, manifest: Manifest | None) -> list[CourseCompletion]:
    """Every course of the build, in the manifest's order."""
    if manifest is None:
        return []
    return [course_completion(db, course) for course in manifest.courses.values()]
