"""Learning, for the signed-in member: mark a lesson done (POST `/api/progress`), what the
page's script shows (GET `/api/learning`: ✓ and progress per course, dripped lessons'
opening dates, the page's members-only groups), a group's QR image (GET
`/api/groups/<name>/qr`) and claiming a certificate (POST `/api/certificates`).

Nothing of this is in `site/`: the build writes placeholders, `themes/assets/kp/learning.js`
fills them from here. Unsafe methods are same-origin only (`OriginCheckMiddleware`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from kp_contract.manifest import Manifest, normalize_url_path
from paywall.database.models import Member
from paywall.members.access_cache import Grant
from paywall.members.certificates import CertificateRefused, certificate_of, claim
from paywall.members.drip import not_yet_open
from paywall.members.entitlements import is_active, member_entitlements
from paywall.members.groups import groups_for, groups_of_page
from paywall.members.progress import (
    NotALesson,
    course_of_lesson,
    course_progress,
    done_lessons,
    mark_done,
)
from paywall.members.sign_in import current_member, safe_next_url
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db
from paywall.runtime.forms import read_fields
from paywall.runtime.lang import format_date, preferred_lang, t
from paywall.runtime.logs import get_logger, kv
from paywall.runtime.pages import NO_STORE, esc, render_page
from paywall.runtime.url_paths import contained_file
from paywall.web.serving import Access, access_for_request

log = get_logger("paywall.web.learning")
JSON_HEADERS = {"Cache-Control": NO_STORE, "Vary": "Cookie"}


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def member_grants(pw: Paywall, member_id: int) -> list[Grant]:
    """The member's entitlements that apply now (drip counts from their `valid_from`)."""
    now = pw.now()
    with pw.sessions() as db:
        rows = [r for r in member_entitlements(db, member_id) if is_active(r, now)]
        return [Grant(r.key, r.valid_from, r.valid_until) for r in rows]


def opening_date(opens: dt.datetime, lang: str) -> str:
    return format_date(opens.astimezone(dt.UTC).date(), lang)


# ---------------------------------------------------------------- GET /api/learning


def learning_state(pw: Paywall, member: Member, page_url: str | None, lang: str) -> dict[str, Any]:
    """Everything the page's script shows the member: per course its lessons done, the
    share done, where to go on and the certificate; per dripped lesson its opening date
    (only to a member whose access it waits for); the groups of this page."""
    manifest = pw.manifest()
    if manifest is None:
        return {"authenticated": True, "courses": {}, "lessons": {}, "groups": []}
    now = pw.now()
    grants = member_grants(pw, member.id)
    keys = {g.key for g in grants}
    with pw.sessions() as db:
        done = done_lessons(db, member.id)
        certificates = {
            slug: cert.id
            for slug in manifest.courses
            if (cert := certificate_of(db, member.id, slug)) is not None
        }
    courses: dict[str, Any] = {}
    lessons: dict[str, Any] = {}
    for slug, course in manifest.courses.items():
        progress = course_progress(course, done)
        courses[slug] = {
            "done": progress.done,
            "total": progress.total,
            "percent": progress.percent,
            "finished": progress.finished,
            "next_url": progress.next_url,
            "certificate": f"/certificates/{certificates[slug]}/" if slug in certificates else None,
            # The link's words: where "continue" goes, or the certificate.
            "next_text": t(lang, "learning.continue", lesson=progress.next_title or "")
            if progress.next_url
            else None,
            "certificate_text": t(lang, "learning.certificate_view"),
            "label": t(
                lang,
                "learning.progress_line",
                done=progress.done,
                total=progress.total,
                percent=progress.percent,
            ),
        }
        for url in course.lessons:
            item: dict[str, Any] = {"done": url in done}
            page = manifest.gated.get(url)
            opens = (
                not_yet_open(grants, page.requires, page.available_after_days, now)
                if page is not None
                else None
            )
            if opens is not None:
                item["opens_at"] = opens.isoformat()
                item["opens_on"] = t(lang, "learning.opens_on", date=opening_date(opens, lang))
                item["opens_text"] = t(
                    lang, "learning.opens_on_text", date=opening_date(opens, lang)
                )
            lessons[url] = item
    page = manifest.page_for(page_url) if page_url else None
    allowed = groups_for(manifest, keys)
    shown = groups_of_page(allowed, page.requires) if page is not None else []
    return {
        "authenticated": True,
        "courses": courses,
        "lessons": lessons,
        "groups": [group_json(g, lang) for g in shown],
    }


def group_json(group: Any, lang: str) -> dict[str, Any]:
    return {
        "name": group.name,
        "title": group.title_in(lang),
        "url": group.join_url_in(lang),
        "join": t(lang, "learning.join", group=group.title_in(lang)),
        "qr": f"/api/groups/{group.name}/qr" if group.qr_file else None,
    }


async def learning(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    member = await run_db(pw, current_member, request)
    if member is None:
        return JSONResponse({"authenticated": False}, headers=JSON_HEADERS)
    page_url = request.query_params.get("page")
    page = normalize_url_path(page_url) if page_url and page_url.startswith("/") else None
    lang = preferred_lang(pw, request, None, page=page, member=member)
    state = await run_db(pw, learning_state, pw, member, page, lang)
    return JSONResponse(state, headers=JSON_HEADERS)


# ---------------------------------------------------------------- POST /api/progress


def record_done(pw: Paywall, member_id: int, course: str, lesson: str) -> bool:
    with pw.sessions() as db:
        new = mark_done(db, member_id, course, lesson, pw.now())
        db.commit()
        return new


def _error(request: Request, status: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"ok": False, "error": message}, status, headers=JSON_HEADERS)
    pw: Paywall = request.app.state.paywall
    return render_page(pw, request, "—", f"<p>{esc(message)}</p>", status=status)


async def progress(request: Request) -> Response:
    """Mark a lesson done: only a signed-in member who may read it now; marking it again
    is a no-op. A form post goes back to `next` (the lesson); a script gets JSON."""
    pw: Paywall = request.app.state.paywall
    fields = await read_fields(request, accept_json=True)
    member = await run_db(pw, current_member, request)
    if member is None:
        return _error(request, 401, "sign in to record your progress")
    manifest = pw.manifest()
    raw = fields.get("lesson", "")
    if manifest is None or not raw.startswith("/"):
        return _error(request, 400, "field lesson: give the lesson's URL path, e.g. /courses/x/y/")
    lesson = normalize_url_path(raw)
    try:
        course = course_of_lesson(manifest, lesson)
    except NotALesson as exc:
        return _error(request, 404, str(exc))
    if await access_for_request(request, manifest.page_for(lesson)) is not Access.GRANTED:
        return _error(request, 403, f"{lesson} is not open to you (yet)")
    new = await run_db(pw, record_done, pw, member.id, course.slug, lesson)
    log.info(kv("learning.lesson_done", course=course.slug, lesson=lesson, new=new))
    if wants_json(request):
        with_state = await run_db(pw, course_state, pw, manifest, member.id, course.slug)
        return JSONResponse({"ok": True, "lesson": lesson, **with_state}, headers=JSON_HEADERS)
    target = safe_next_url(fields.get("next"), pw.settings.base_url, default=lesson)
    return RedirectResponse(target, status_code=303)


def course_state(pw: Paywall, manifest: Manifest, member_id: int, slug: str) -> dict[str, Any]:
    with pw.sessions() as db:
        p = course_progress(manifest.courses[slug], done_lessons(db, member_id))
    return {"course": slug, "done": p.done, "total": p.total, "finished": p.finished}


# ---------------------------------------------------------------- GET /api/groups/<name>/qr


async def group_qr(request: Request) -> Response:
    """A group's QR image, from private/, to a member allowed in; 404 to anyone else (the
    group's existence is not shown either)."""
    pw: Paywall = request.app.state.paywall
    manifest = pw.manifest()
    group = manifest.groups.get(request.path_params["name"]) if manifest else None
    member = await run_db(pw, current_member, request) if group is not None else None
    if group is None or member is None or group.qr_file is None:
        return Response("Not found", 404, {"Cache-Control": NO_STORE}, "text/plain")
    grants = await run_db(pw, member_grants, pw, member.id)
    if group not in groups_for(manifest, {g.key for g in grants}):
        return Response("Not found", 404, {"Cache-Control": NO_STORE}, "text/plain")
    target = contained_file(pw.settings.private_path, group.qr_file)
    if target is None:
        log.error(kv("learning.group_qr_missing", group=group.name, file=group.qr_file))
        return Response("Not found", 404, {"Cache-Control": NO_STORE}, "text/plain")
    return FileResponse(target, headers={"Cache-Control": NO_STORE, "Vary": "Cookie"})


# ---------------------------------------------------------------- POST /api/certificates


def issue(pw: Paywall, member: Member, course: str, name: str, lang: str) -> str:
    manifest = pw.manifest()
    if manifest is None:
        raise CertificateRefused("the site is not built yet")
    with pw.sessions() as db:
        cert = claim(db, manifest, member.id, course, name, lang, pw.now())
        db.commit()
        return cert.id


async def claim_certificate(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    fields = await read_fields(request, accept_json=True)
    member = await run_db(pw, current_member, request)
    if member is None:
        return _error(request, 401, "sign in to claim your certificate")
    lang = preferred_lang(pw, request, fields.get("lang"), member=member)
    try:
        cert_id = await run_db(
            pw, issue, pw, member, fields.get("course", ""), fields.get("name", ""), lang
        )
    except CertificateRefused as exc:
        message = t(lang, "learning.certificate_refused", reason=str(exc))
        return _error(request, 409, message)
    log.info(kv("learning.certificate_issued", course=fields.get("course"), id=cert_id))
    url = f"/certificates/{cert_id}/"
    if wants_json(request):
        return JSONResponse({"ok": True, "id": cert_id, "url": url}, headers=JSON_HEADERS)
    return RedirectResponse(url, status_code=303)


routes = [
    Route("/api/learning", learning, methods=["GET"]),
    Route("/api/progress", progress, methods=["POST"]),
    Route("/api/groups/{name}/qr", group_qr, methods=["GET"]),
    Route("/api/certificates", claim_certificate, methods=["POST"]),
]
