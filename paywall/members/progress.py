"""Lesson progress: which lessons a member marked done, per course, from the manifest's
lesson order. Marking is idempotent (one row per member and lesson, race-safe)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kp_contract.manifest import Course, Manifest, normalize_url_path
from paywall.database.models import LessonProgress
from paywall.database.upsert import insert_if_absent


class NotALesson(ValueError):
    """The URL is no lesson of any course in the current build."""


def course_of_lesson(manifest: Manifest, url: str) -> Course:
    """The course `url` is a lesson of, or `NotALesson` naming the URL."""
    path = normalize_url_path(url)
    for course in manifest.courses.values():
        if path in course.lessons:
            return course
    raise NotALesson(f"{path!r} is not a lesson of any course")


def mark_done(db: Session, member_id: int, course: str, lesson_url: str, now: dt.datetime) -> bool:
    """Record the lesson as done; True when it was not done before. Commits nothing."""
    return insert_if_absent(
        db,
        LessonProgress.__table__,
        {"member_id": member_id, "course": course, "lesson_url": lesson_url, "done_at": now},
        ["member_id", "lesson_url"],
    )


def done_lessons(db: Session, member_id: int) -> set[str]:
    """Every lesson URL the member marked done."""
    return set(
        db.scalars(select(LessonProgress.lesson_url).where(LessonProgress.member_id == member_id))
    )


@dataclass(frozen=True)
class CourseProgress:
    """One course as a member sees it: how far along, and the lesson to go on with."""

    slug: str
    title: str
    url: str
    done: int
    total: int
    next_url: str | None
    next_title: str | None

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.done >= self.total


def course_progress(course: Course, done: set[str]) -> CourseProgress:
    """Progress in `course`; "continue" is the first lesson not done, in course order."""
    finished = [url for url in course.lessons if url in done]
    next_index = next((n for n, url in enumerate(course.lessons) if url not in done), None)
    titles = course.lesson_titles
    return CourseProgress(
        slug=course.slug,
        title=course.title,
        url=course.url,
        done=len(finished),
        total=len(course.lessons),
        next_url=course.lessons[next_index] if next_index is not None else None,
        next_title=titles[next_index]
        if next_index is not None and next_index < len(titles)
        else None,
    )
