"""Public certificate pages: `/certificates/<id>/` (who completed which course when, on
which site; never an e-mail; a revoked one says so) and its PDF
(`/certificates/<id>/certificate.pdf`). Anyone with the link may look: that is what
verifying a certificate means; ids are random (96 bits) so none can be listed or guessed."""

from __future__ import annotations

import datetime as dt
import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paywall.database.models import Certificate
from paywall.members.certificates import ID_PATTERN, find
from paywall.members.sign_in import site_name
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db
from paywall.runtime.lang import format_date, t, valid_lang
from paywall.runtime.pages import esc, render_page
from paywall.web.certificate_file import certificate_pdf

_ID = re.compile(f"^{ID_PATTERN}$")


def load(pw: Paywall, certificate_id: str) -> Certificate | None:
    if not _ID.match(certificate_id):
        return None
    with pw.sessions() as db:
        row = find(db, certificate_id)
        if row is not None:
            db.expunge(row)
        return row


def day(value: dt.datetime, lang: str) -> str:
    return format_date(value.astimezone(dt.UTC).date(), lang)


def verify_url(pw: Paywall, cert: Certificate) -> str:
    return f"{pw.settings.base_url.rstrip('/')}/certificates/{cert.id}/"


async def certificate_page(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    cert = await run_db(pw, load, pw, request.path_params["id"])
    if cert is None:
        lang = valid_lang(request.query_params.get("lang")) or "en"
        title = t(lang, "learning.certificate_title")
        body = (
            f'<p class="kp-certificate-unknown">{esc(t(lang, "learning.certificate_unknown"))}</p>'
        )
        return render_page(pw, request, title, body, lang, status=404)
    lang = cert.lang
    site = site_name(pw)
    text = t(
        lang,
        "learning.certificate_text",
        name=cert.name,
        course=cert.course_title,
        date=day(cert.issued_at, lang),
    )
    parts = ['<section class="kp-certificate">']
    if cert.revoked_at is not None:
        revoked = t(lang, "learning.certificate_revoked", date=day(cert.revoked_at, lang))
        parts.append(f'<p class="kp-certificate__revoked"><strong>{esc(revoked)}</strong></p>')
    parts += [
        f'<p class="kp-certificate__name">{esc(cert.name)}</p>',
        f'<p class="kp-certificate__text">{esc(text)}</p>',
        f"<p>{esc(t(lang, 'learning.certificate_issuer', site=site))}</p>",
        f"<p><small>{esc(t(lang, 'learning.certificate_id', id=cert.id))}</small></p>",
    ]
    if cert.revoked_at is None:
        parts.append(
            f'<p><a class="md-button" href="/certificates/{esc(cert.id)}/certificate.pdf" '
            f"download>{esc(t(lang, 'learning.certificate_download'))}</a></p>"
        )
    parts.append("</section>")
    title = t(lang, "learning.certificate_title")
    response = render_page(pw, request, title, "".join(parts), lang)
    response.headers["Cache-Control"] = "no-cache"
    return response


async def certificate_file(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    cert = await run_db(pw, load, pw, request.path_params["id"])
    if cert is None or cert.revoked_at is not None:
        return Response("Not found", 404, {"Cache-Control": "no-cache"}, "text/plain")
    lang = cert.lang
    site = site_name(pw)
    pdf = certificate_pdf(
        title=t(lang, "learning.certificate_title"),
        name=cert.name,
        text=t(
            lang,
            "learning.certificate_text",
            name=cert.name,
            course=cert.course_title,
            date=day(cert.issued_at, lang),
        ),
        issuer=t(lang, "learning.certificate_issuer", site=site),
        reference=t(lang, "learning.certificate_id", id=cert.id),
        verify_url=verify_url(pw, cert),
    )
    headers = {
        "Cache-Control": "no-cache",
        "Content-Disposition": f'attachment; filename="certificate-{cert.id}.pdf"',
    }
    return Response(pdf, 200, headers, "application/pdf")


routes = [
    Route("/certificates/{id}/", certificate_page, methods=["GET", "HEAD"]),
    Route("/certificates/{id}/certificate.pdf", certificate_file, methods=["GET", "HEAD"]),
]
