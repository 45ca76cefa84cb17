"""The account page's learning part: each course the member can read or has begun, how far
along (a bar), "continue where you left off", the certificate (claim it once every lesson is
done, or open it), and the members-only groups they may join. paywall.web.account calls
`learning_section` and adds what it returns."""

from __future__ import annotations

from kp_contract.manifest import MEMBER_KEY
from paywall.database.models import Member
from paywall.members.certificates import certificate_of
from paywall.members.entitlements import active_keys
from paywall.members.groups import groups_for
from paywall.members.progress import CourseProgress, course_progress, done_lessons
from paywall.runtime.context import Paywall
from paywall.runtime.lang import t
from paywall.runtime.pages import esc


def lt(lang: str, key: str, **values: object) -> str:
    return t(lang, f"learning.{key}", **values)


def _course_item(progress: CourseProgress, certificate: str | None, lang: str) -> str:
    line = lt(
        lang, "progress_line", done=progress.done, total=progress.total, percent=progress.percent
    )
    parts = [
        f'<li class="kp-progress-course" data-kp-course="{esc(progress.slug)}">',
        f'<strong><a href="{esc(progress.url)}">{esc(progress.title)}</a></strong> ',
        f'<progress class="kp-progress" max="{progress.total}" value="{progress.done}">'
        f"{progress.percent} %</progress> ",
        f'<span class="kp-progress__label">{esc(line)}</span>',
    ]
    if progress.next_url and progress.next_title:
        key = "continue" if progress.done else "start"
        parts.append(
            f'<br><a class="kp-continue" href="{esc(progress.next_url)}">'
            f"{esc(lt(lang, key, lesson=progress.next_title))}</a>"
        )
    elif progress.finished:
        parts.append(f"<br>{esc(lt(lang, 'finished'))} ")
        if certificate:
            parts.append(
                f'<a class="kp-certificate-link" href="/certificates/{esc(certificate)}/">'
                f"{esc(lt(lang, 'certificate_view'))}</a>"
            )
        else:
            parts.append(
                '<form class="kp-form kp-claim-certificate" method="post" '
                'action="/api/certificates">'
                f'<input type="hidden" name="course" value="{esc(progress.slug)}">'
                f'<input type="hidden" name="lang" value="{esc(lang)}">'
                f'<label for="kp-cert-{esc(progress.slug)}">{esc(lt(lang, "certificate_name"))}'
                f'</label> <input id="kp-cert-{esc(progress.slug)}" name="name" required '
                'maxlength="120" autocomplete="name"> '
                '<button type="submit" class="md-button md-button--primary">'
                f"{esc(lt(lang, 'certificate_claim'))}</button></form>"
            )
    parts.append("</li>")
    return "".join(parts)


def learning_section(pw: Paywall, member: Member, lang: str) -> str:
    """Progress per course (those the member may read or has begun) and their groups; ''
    when there is neither (a free member without groups)."""
    manifest = pw.manifest()
    if manifest is None:
        return ""
    with pw.sessions() as db:
        keys = active_keys(db, member.id, pw.now()) | {MEMBER_KEY}
        done = done_lessons(db, member.id)
        items = []
        for slug, course in manifest.courses.items():
            readable = f"course:{slug}" in keys or (course.tier and f"tier:{course.tier}" in keys)
            progress = course_progress(course, done)
            if not readable and not progress.done:
                continue
            cert = certificate_of(db, member.id, slug)
            items.append(_course_item(progress, cert.id if cert else None, lang))
    groups = groups_for(manifest, keys)
    parts = []
    if items:
        parts.append(
            f'<section class="kp-learning"><h2 id="progress">{esc(lt(lang, "progress_title"))}'
            f'</h2><ul class="kp-progress-list">{"".join(items)}</ul></section>'
        )
    if groups:
        rows = []
        for group in groups:
            title = group.title_in(lang)
            qr = (
                f'<br><img class="kp-group__qr" src="/api/groups/{esc(group.name)}/qr" '
                f'alt="{esc(lt(lang, "scan_qr"))}" width="160" height="160">'
                if group.qr_file
                else ""
            )
            rows.append(
                f'<li class="kp-group" data-kp-group="{esc(group.name)}">'
                f'<a class="md-button" href="{esc(group.join_url_in(lang))}" rel="noopener">'
                f"{esc(lt(lang, 'join', group=title))}</a>{qr}</li>"
            )
        parts.append(
            f'<section class="kp-groups"><h2 id="groups">{esc(lt(lang, "groups_title"))}</h2>'
            f'<ul class="kp-group-list">{"".join(rows)}</ul></section>'
        )
    return "".join(parts)
