"""The member's own data on /account/: download it (JSON), change the e-mail address
(confirmed by a link to the new one), delete the account (confirmed by typing the address).
`my_data_section` is the part of the account page (paywall.web.account calls it); the
routes do the work. Every request is in the audit trail (actor `member:<id>`)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paywall.billing.account_deletion import DeletionError, delete_account
from paywall.database.models import Member
from paywall.members.audit import DATA_EXPORT, member_actor, record
from paywall.members.email_change import (
    CONFIRM_PATH,
    AddressTaken,
    SameAddress,
    confirm_change,
    pending_change,
    request_change,
)
from paywall.members.own_data import member_data
from paywall.members.records import InvalidEmail
from paywall.members.sign_in import clear_session_cookie, current_member, site_name
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db
from paywall.runtime.forms import read_fields
from paywall.runtime.lang import preferred_lang, t, valid_lang
from paywall.runtime.pages import NO_STORE, esc, render_page
from paywall.web.sign_in_routes import sign_in_form


def mt(lang: str, text_key: str, **values: object) -> str:
    """Text `text_key` of the `my_data` group (kp_contract/translations.yml)."""
    return t(lang, f"my_data.{text_key}", **values)


def my_data_section(member: Member, lang: str) -> str:
    """Download, change address, delete: the account page's "Your data" part."""
    hidden = f'<input type="hidden" name="lang" value="{esc(lang)}">'
    return (
        f'<section class="kp-my-data"><h2 id="my-data">{esc(mt(lang, "title"))}</h2>'
        f"<p>{esc(mt(lang, 'intro'))}</p>"
        f'<p><a class="md-button" href="/account/data.json" download>'
        f"{esc(mt(lang, 'download'))}</a></p>"
        f"<h3>{esc(mt(lang, 'change_email'))}</h3>"
        '<form class="kp-form kp-change-email" method="post" action="/account/email">'
        f'{hidden}<label for="kp-new-email">{esc(mt(lang, "new_email"))}</label> '
        '<input id="kp-new-email" type="email" name="new_email" required autocomplete="email">'
        f' <button type="submit" class="md-button">{esc(mt(lang, "change_button"))}</button>'
        "</form>"
        f"<h3>{esc(mt(lang, 'delete'))}</h3><p>{esc(mt(lang, 'delete_warning'))}</p>"
        '<form class="kp-form kp-delete-account" method="post" action="/account/delete">'
        f'{hidden}<label for="kp-delete-email">{esc(mt(lang, "delete_type"))}</label> '
        '<input id="kp-delete-email" type="email" name="confirm_email" required '
        'autocomplete="off">'
        f' <button type="submit" class="md-button">{esc(mt(lang, "delete_button"))}</button>'
        "</form></section>"
    )


def signed_out(pw: Paywall, request: Request, lang: str) -> Response:
    body = f"<p>{esc(t(lang, 'sign_in.intro'))}</p>" + sign_in_form(
        "/account/", source="/account/", lang=lang
    )
    response = render_page(pw, request, t(lang, "sign_in.title"), body, lang, 401)
    response.headers["Vary"] = "Cookie"
    return response


def message_page(
    pw: Paywall, request: Request, title: str, text: str, lang: str, status: int = 200
) -> Response:
    body = (
        f'<p class="kp-my-data-result">{esc(text)}</p><p><a href="/account/">'
        + esc(t(lang, "account.title"))
        + "</a></p>"
    )
    return render_page(pw, request, title, body, lang, status)


# ---------------------------------------------------------------- download


def _export(pw: Paywall, member_id: int) -> dict[str, object]:
    with pw.sessions.begin() as db:
        member = db.get(Member, member_id)
        if member is None:  # pragma: no cover - signed in a moment ago
            raise LookupError(member_id)
        data = member_data(db, member, pw.now())
        record(
            db,
            DATA_EXPORT,
            now=pw.now(),
            actor=member_actor(member_id),
            member_id=member_id,
            detail="downloaded their data (JSON)",
        )
        return data


async def download(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    member = await run_db(pw, current_member, request)
    lang = preferred_lang(pw, request, request.query_params.get("lang"), member=member)
    if member is None:
        return signed_out(pw, request, lang)
    data = await run_db(pw, _export, pw, member.id)
    stamp = pw.now().strftime("%Y%m%d")
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="my-data-{stamp}.json"',
            "Cache-Control": NO_STORE,
            "Vary": "Cookie",
        },
    )


# ---------------------------------------------------------------- change of address


def _ask_change(pw: Paywall, member: Member, new_email: str, lang: str) -> str:
    with pw.sessions.begin() as db:
        fresh = db.get(Member, member.id)
        if fresh is None:  # pragma: no cover
            raise LookupError(member.id)
        address, link = request_change(pw, db, fresh, new_email)
    subject = mt(lang, "change_subject", site=site_name(pw))
    pw.mailer.send(address, subject, mt(lang, "change_body", site=site_name(pw), link=link))
    return address


async def change_email(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    fields = await read_fields(request)
    member = await run_db(pw, current_member, request)
    lang = valid_lang(fields.get("lang")) or preferred_lang(pw, request, member=member)
    if member is None:
        return signed_out(pw, request, lang)
    title = mt(lang, "change_email")
    try:
        address = await run_db(pw, _ask_change, pw, member, fields.get("new_email", ""), lang)
    except InvalidEmail as exc:
        return message_page(pw, request, title, t(lang, "error.email", detail=exc), lang, 400)
    except AddressTaken as exc:
        return message_page(pw, request, title, mt(lang, "change_taken", email=exc), lang, 409)
    except SameAddress:
        return message_page(pw, request, title, mt(lang, "change_same"), lang, 400)
    return message_page(pw, request, title, mt(lang, "change_sent", email=address), lang)


def _pending(pw: Paywall, token: str) -> str | None:
    with pw.sessions() as db:
        found = pending_change(pw, db, token)
        return found.new_email if found else None


def _confirm(pw: Paywall, token: str) -> tuple[str, str] | None:
    with pw.sessions.begin() as db:
        member = confirm_change(pw, db, token)
        return (member.email, member.lang) if member else None


async def confirm_page(request: Request) -> Response:
    """GET of the mailed link: a button (a mail scanner's GET changes nothing)."""
    pw: Paywall = request.app.state.paywall
    token = request.query_params.get("token", "")[:200]
    lang = preferred_lang(pw, request, request.query_params.get("lang"))
    address = await run_db(pw, _pending, pw, token) if token else None
    if address is None:
        title = mt(lang, "change_invalid_title")
        return message_page(pw, request, title, mt(lang, "change_invalid"), lang, 400)
    body = (
        f"<p>{esc(mt(lang, 'change_confirm', email=address))}</p>"
        f'<form class="kp-form kp-confirm-email" method="post" action="{CONFIRM_PATH}">'
        f'<input type="hidden" name="token" value="{esc(token)}">'
        '<button type="submit" class="md-button md-button--primary">'
        f"{esc(mt(lang, 'change_confirm_button'))}</button></form>"
    )
    response = render_page(pw, request, mt(lang, "change_email"), body, lang)
    response.headers["Referrer-Policy"] = "same-origin"
    return response


async def confirm_post(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    fields = await read_fields(request)
    token = fields.get("token", "")[:200]
    changed = await run_db(pw, _confirm, pw, token) if token else None
    if changed is None:
        lang = preferred_lang(pw, request)
        title = mt(lang, "change_invalid_title")
        return message_page(pw, request, title, mt(lang, "change_invalid"), lang, 400)
    address, member_lang = changed
    lang = preferred_lang(pw, request, member_lang)
    title = mt(lang, "change_done_title")
    return message_page(pw, request, title, mt(lang, "change_done", email=address), lang)


# ---------------------------------------------------------------- deletion


async def delete(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    fields = await read_fields(request)
    member = await run_db(pw, current_member, request)
    lang = valid_lang(fields.get("lang")) or preferred_lang(pw, request, member=member)
    if member is None:
        return signed_out(pw, request, lang)
    title = mt(lang, "delete")
    if fields.get("confirm_email", "").strip().lower() != member.email:
        return message_page(pw, request, title, mt(lang, "delete_mismatch"), lang, 400)
    try:
        await run_db(pw, delete_account, pw, member.id, actor=member_actor(member.id))
    except DeletionError as exc:
        return message_page(pw, request, title, str(exc), lang, 409)
    response = message_page(pw, request, mt(lang, "deleted_title"), mt(lang, "deleted"), lang)
    clear_session_cookie(pw, response)
    return response


routes = [
    Route("/account/data.json", download, methods=["GET"]),
    Route("/account/email", change_email, methods=["POST"]),
    Route(CONFIRM_PATH, confirm_page, methods=["GET"]),
    Route(CONFIRM_PATH, confirm_post, methods=["POST"]),
    Route("/account/delete", delete, methods=["POST"]),
]
