"""Paid-lesson e-mails (`kp newsletter send --lessons`): each newly published paid lesson,
in full, to the members who may read it, and to nobody else (no teaser to the others).

Who: members who get the newsletter (confirmed address, `Member.newsletter`: the same
one-click unsubscribe stops both) and whose entitlements open the lesson now, decided by
`paywall.members.page_access` exactly as gated serving decides it, drip included.

What is new: a lesson is new for a member on the later of its publication day (the lesson's
front matter `date`) and, for a dripped lesson, the day it opened for them. A run sends the
lessons whose day falls in its window (`--since` / `--days`, as the newsletter) and that the
member was not sent yet: a dripped lesson goes out on the first run after it opens for
them, an undated lesson without drip is never announced (old content, not news). The
newsletter's sent-log, keyed by the lesson's URL, makes every lesson go to a member once.

The text is the lesson's full page from private/ (`GatedPage.private_file`), as readable
plain text and HTML (`paywall.growth.lesson_text`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from kp_contract.manifest import GatedPage, Manifest
from paywall.database.models import Entitlement, Member, NewsletterSend
from paywall.growth.lesson_text import LessonText, lesson_mail_text
from paywall.growth.newsletter import (
    NewsletterError,
    claim_sent,
    list_headers,
    release_sent,
    unsubscribe_url,
    window_start,
)
from paywall.growth.referrals import site_root
from paywall.growth.texts import gt
from paywall.members.access_cache import Grant
from paywall.members.drip import access_start, opens_at
from paywall.members.page_access import PageAccess, page_access
from paywall.runtime.context import Paywall
from paywall.runtime.lang import t, valid_lang
from paywall.runtime.logs import get_logger, kv, mask_email
from paywall.runtime.url_paths import contained_file

log = get_logger("paywall.growth.lesson_mail")


@dataclass(frozen=True)
class LessonDelivery:
    """One message: one lesson, in full, to one member."""

    member_id: int
    email: str
    lang: str
    lesson: GatedPage
    course_title: str
    new_on: dt.date


@dataclass
class LessonReport:
    sent: list[LessonDelivery] = field(default_factory=list)
    failed: list[tuple[LessonDelivery, str]] = field(default_factory=list)
    planned: list[LessonDelivery] = field(default_factory=list)


def paid_lessons(manifest: Manifest) -> list[GatedPage]:
    """The gated lessons of every course, in course and lesson order."""
    lessons = []
    for course in manifest.courses.values():
        lessons += [manifest.gated[url] for url in course.lessons if url in manifest.gated]
    return lessons


def new_on(page: GatedPage, grants: list[Grant], now: dt.datetime) -> dt.date | None:
    """The day `page` became news for a member holding `grants`: None when they may not
    read it now (not entitled, or dripped and not open yet) or it is neither dated nor
    dripped."""
    if page_access(grants, page.requires, page.available_after_days, now) is not PageAccess.GRANTED:
        return None
    days: list[dt.date] = [page.date] if page.date else []
    if page.available_after_days:
        start = access_start(grants, page.requires, now)
        if start is not None:
            opened = opens_at(start, page.available_after_days)
            days.append(opened.astimezone(dt.UTC).date())
    return max(days) if days else None


def _grants_by_member(db: Session) -> dict[int, list[Grant]]:
    """Every member's active entitlement rows, as the access cache loads them for a session."""
    rows = db.execute(
        select(
            Entitlement.member_id, Entitlement.key, Entitlement.valid_from, Entitlement.valid_until
        ).where(Entitlement.status == "active")
    ).all()
    grants: dict[int, list[Grant]] = {}
    for member_id, key, since, until in rows:
        grants.setdefault(member_id, []).append(Grant(key, since, until))
    return grants


def due_lesson_deliveries(
    pw: Paywall, db: Session, since: dt.date, today: dt.date, now: dt.datetime
) -> list[LessonDelivery]:
    """(member, lesson) pairs to send: see the module docstring."""
    manifest = pw.manifest()
    if manifest is None:
        raise NewsletterError("nothing is built yet (run `kp build`): no lessons to send")
    lessons = paid_lessons(manifest)
    if not lessons:
        return []
    sent = set(
        db.execute(
            select(NewsletterSend.member_id, NewsletterSend.article_url).where(
                NewsletterSend.article_url.in_([page.url for page in lessons])
            )
        ).all()
    )
    grants = _grants_by_member(db)
    members = db.scalars(
        select(Member)
        .where(Member.newsletter.is_(True), Member.confirmed_at.is_not(None))
        .order_by(Member.id)
    )
    deliveries = []
    for member in members:
        held = grants.get(member.id, [])
        if not held:
            continue
        for page in lessons:
            day = new_on(page, held, now)
            if day is None or not since <= day <= today or (member.id, page.url) in sent:
                continue
            course = manifest.courses[page.course] if page.course else None
            deliveries.append(
                LessonDelivery(
                    member_id=member.id,
                    email=member.email,
                    lang=valid_lang(member.lang) or page.lang,
                    lesson=page,
                    course_title=course.title if course else page.title,
                    new_on=day,
                )
            )
    return deliveries


# ---------------------------------------------------------------- the message


def read_lesson(pw: Paywall, page: GatedPage) -> LessonText:
    """The lesson's full text from private/; `LookupError` naming the file when it is gone."""
    target = contained_file(pw.settings.private_path, page.private_file)
    if target is None or target.suffix not in (".html", ".htm"):
        raise LookupError(
            f"{page.url}: its full page private/{page.private_file} is missing (run `kp build`)"
        )
    return lesson_mail_text(target.read_text(encoding="utf-8"), f"{site_root(pw)}{page.url}")


def compose_lesson(
    pw: Paywall, delivery: LessonDelivery, lesson: LessonText, unsubscribe: str
) -> tuple[str, str, str]:
    """(subject, text, html): the lesson in full, its link, and the unsubscribe footer."""
    manifest = pw.manifest()
    site = manifest.site_name if manifest else "Knowledge Pay"
    lang, page = delivery.lang, delivery.lesson
    link = f"{site_root(pw)}{page.url}"
    subject = t(
        lang,
        "learning.lesson_mail_subject",
        site=site,
        course=delivery.course_title,
        lesson=page.title,
    )
    intro = t(lang, "learning.lesson_mail_intro", course=delivery.course_title, link=link)
    footer = gt(lang, "lesson_footer", site=site, link=unsubscribe)
    text = "\n".join([intro, "", lesson.text, "--", footer, ""])
    html = (
        f'<!doctype html><html lang="{escape(page.lang)}"><body style="font-family:sans-serif;'
        f'line-height:1.5;max-width:42em">'
        f'<p style="color:#666">{escape(intro)}</p>'
        f'<p><a href="{escape(link)}">{escape(gt(lang, "mail_read"))}</a></p>'
        f"{lesson.html}<hr>"
        f'<p style="color:#666;font-size:small">{escape(footer)}</p></body></html>'
    )
    return subject, text, html


# ---------------------------------------------------------------- sending


def send_lessons(
    pw: Paywall,
    *,
    dry_run: bool = False,
    since: dt.date | None = None,
    days: int | None = None,
) -> LessonReport:
    """Mail every due lesson once (see the module docstring); `dry_run` only plans."""
    now = pw.now()
    start = window_start(now.date(), since, days)
    with pw.sessions() as db:
        planned = due_lesson_deliveries(pw, db, start, now.date(), now)
    report = LessonReport(planned=planned)
    if dry_run:
        return report
    texts: dict[str, LessonText] = {}
    for delivery in planned:
        url = delivery.lesson.url
        if not claim_sent(pw, delivery.member_id, [url]):
            continue  # another run sent it meanwhile
        try:
            if url not in texts:
                texts[url] = read_lesson(pw, delivery.lesson)
            _send_one(pw, delivery, texts[url])
        except Exception as exc:  # noqa: BLE001 - one bad address must not stop the others
            release_sent(pw, delivery.member_id, [url])
            report.failed.append((delivery, f"{type(exc).__name__}: {str(exc)[:200]}"))
            log.warning(
                kv(
                    "newsletter.lesson_failed",
                    email=mask_email(delivery.email),
                    lesson=url,
                    error=type(exc).__name__,
                )
            )
            continue
        report.sent.append(delivery)
        log.info(kv("newsletter.lesson_sent", email=mask_email(delivery.email), lesson=url))
    return report


def _send_one(pw: Paywall, delivery: LessonDelivery, lesson: LessonText) -> None:
    with pw.sessions() as db:
        member = db.get(Member, delivery.member_id)
        if member is None:
            raise LookupError(f"member {delivery.member_id} was deleted")
        unsubscribe = unsubscribe_url(pw, member)
    subject, text, html = compose_lesson(pw, delivery, lesson, unsubscribe)
    pw.mailer.send(delivery.email, subject, text, html, list_headers(unsubscribe))
