"""HTTP endpoints of sign-in and identity: `/api/login`, `/api/login/callback`, `/api/logout`,
`/api/me` (for the header script) and `/api/auth` (for nginx `auth_request`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from kp_contract.manifest import MEMBER_KEY
from paywall.database.models import Member
from paywall.growth.hooks import form_origin, form_ref
from paywall.members.entitlements import active_keys
from paywall.members.records import InvalidEmail, normalize_email
from paywall.members.sign_in import (
    COOKIE_NAME,
    INTENT_COOKIE,
    LoginRateLimited,
    PendingLink,
    check_login_rate,
    clear_session_cookie,
    confirm_matches,
    consume_login_token,
    create_session,
    current_member,
    issue_login_link,
    link_problem,
    login_email,
    member_for_token,
    new_intent,
    peek_login_token,
    revoke_session,
    safe_next_url,
    set_intent_cookie,
    set_session_cookie,
    site_name,
)
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db
from paywall.runtime.forms import read_fields
from paywall.runtime.lang import preferred_lang, t, valid_lang
from paywall.runtime.logs import get_logger, kv, mask_email
from paywall.runtime.mailer import MailError
from paywall.runtime.pages import NO_STORE, esc, render_page
from paywall.runtime.url_paths import UnsafePath, parse_url_path
from paywall.web.serving import Access, access_for_request

log = get_logger("paywall.web.sign_in_routes")


def wants_json(request: Request) -> bool:
    """Scripts (fetch) ask for JSON; plain HTML forms get pages and redirects."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


async def form_fields(request: Request) -> dict[str, str]:
    """Fields of a form post or a JSON object body, as strings; `BadInput` (answered 400 or
    415 naming what was wrong, `paywall.web.errors`) for anything else."""
    return await read_fields(request, accept_json=True)


def sign_in_form(
    next_url: str = "/account/", source: str = "", email: str = "", lang: str = "en"
) -> str:
    """The e-mail sign-in form (account page, error pages)."""
    return (
        '<form class="kp-form kp-form--login kp-login" method="post" action="/api/login">'
        '<label class="kp-form__label" for="kp-email">'
        f'<span class="kp-form__caption">{esc(t(lang, "sign_in.email"))}</span></label>'
        '<input class="kp-form__input" id="kp-email" type="email" name="email" required '
        f'autocomplete="email" value="{esc(email)}">'
        f'<input type="hidden" name="next" value="{esc(next_url)}">'
        f'<input type="hidden" name="from" value="{esc(source)}">'
        f'<input type="hidden" name="lang" value="{esc(lang)}">'
        '<button type="submit" class="md-button md-button--primary">'
        f"{esc(t(lang, 'sign_in.button'))}</button></form>"
    )


def client_ip(request: Request) -> str | None:
    """The peer address (uvicorn already applied trusted proxy headers)."""
    return request.client.host if request.client else None


# ---------------------------------------------------------------- POST /api/login


@dataclass(frozen=True)
class LoginRequest:
    email: str
    next_url: str
    source: str | None
    lang: str
    ip: str | None
    ref: str | None = None  # invite or partner code (`?ref=`, carried by growth.js)
    intent: str | None = None  # the asking browser's nonce (INTENT_COOKIE)


def prepare_login_email(pw: Paywall, req: LoginRequest) -> tuple[str, str, str]:
    """Rate-check, store the token (committed before mailing) and compose the message.

    Returns (to, subject, text). The answer to the browser never depends on whether the
    address belongs to a member; only the wording of the e-mail does (sign-in vs welcome).
    """
    with pw.sessions() as db:
        now = pw.now()
        check_login_rate(pw, db, req.email, req.ip, now)
        member = db.scalar(select(Member).where(Member.email == req.email))
        reason = "login" if member is not None and member.confirmed_at else "signup"
        lang = member.lang if member is not None else req.lang
        link = issue_login_link(
            pw,
            db,
            req.email,
            req.next_url,
            source=req.source,
            ip=req.ip,
            lang=req.lang,
            ref=req.ref,
            intent=req.intent,
        )
        db.commit()
    subject, text = login_email(site_name(pw), link, reason, lang)
    return req.email, subject, text


async def login(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    fields = await form_fields(request)
    next_url = safe_next_url(fields.get("next"), pw.settings.base_url)
    source = safe_next_url(fields.get("from"), pw.settings.base_url, default="") or None
    lang = preferred_lang(pw, request, fields.get("lang"), page=source or next_url)
    try:
        address = normalize_email(fields.get("email", ""))
    except InvalidEmail as exc:
        message = t(lang, "error.email", detail=exc)
        return login_error(pw, request, 400, message, next_url, fields.get("email", ""), lang)
    origin = form_origin(fields) or source  # the article growth.js remembered, else the form's page
    intent = request.cookies.get(INTENT_COOKIE) or new_intent()
    req = LoginRequest(
        address, next_url, origin, lang, client_ip(request), form_ref(fields), intent[:64]
    )
    try:
        to, subject, text = await run_db(pw, prepare_login_email, pw, req)
    except LoginRateLimited as exc:
        log.warning(kv("auth.rate_limited", scope=exc.scope, email=mask_email(address)))
        message = t(lang, "error.rate", wait=minutes(exc.retry_after, lang))
        response = login_error(pw, request, 429, message, next_url, address, lang)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    try:
        await run_in_threadpool(pw.mailer.send, to, subject, text)
    except (MailError, OSError) as exc:
        log.error(kv("auth.mail_failed", email=mask_email(address), error=type(exc).__name__))
        message = t(lang, "error.mail")
        return login_error(pw, request, 503, message, next_url, address, lang)
    log.info(kv("auth.link_sent", email=mask_email(address), ip=req.ip or "-"))
    response = login_sent(pw, request, address, lang)
    set_intent_cookie(pw, response, intent[:64])
    return response


def minutes(seconds: int, lang: str = "en") -> str:
    mins = max(1, round(seconds / 60))
    return t(lang, "minutes.one") if mins == 1 else t(lang, "minutes.many", n=mins)


def login_sent(pw: Paywall, request: Request, address: str, lang: str) -> Response:
    """The same answer for known and unknown addresses."""
    message = t(lang, "sent.body", email=address)
    if wants_json(request):
        return JSONResponse({"ok": True, "message": message}, headers={"Cache-Control": NO_STORE})
    title = t(lang, "sent.title")
    body = f"<p>{esc(message)}</p>"
    return render_page(pw, request, title, body, lang)


def login_error(
    pw: Paywall,
    request: Request,
    status: int,
    message: str,
    next_url: str,
    email: str,
    lang: str,
) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"ok": False, "error": message}, status_code=status, headers={"Cache-Control": NO_STORE}
        )
    title = t(lang, "sign_in.title")
    body = f'<p class="kp-error">{esc(message)}</p>' + sign_in_form(
        next_url, email=email, lang=lang
    )
    return render_page(pw, request, title, body, lang, status=status)


# ---------------------------------------------------------------- /api/login/callback
# GET shows the link, POST uses it. The browser that asked for the link (its intent cookie
# matches) is signed in by a form that submits itself; any other browser, a mail scanner, or
# a browser where someone else is signed in gets a question with a button. A GET alone never
# consumes the token, and a signed-in member is never switched to another account unasked.


def look_at_link(
    pw: Paywall, token: str, intent: str | None, session_cookie: str | None
) -> tuple[PendingLink, str | None] | str:
    """The pending link and the address of whoever is signed in here now (if anyone), or
    why the link cannot be used (`link_problem`)."""
    with pw.sessions() as db:
        pending = peek_login_token(pw, db, token, intent)
        if pending is None:
            return link_problem(pw, db, token)
    current = member_for_token(pw, session_cookie)
    return pending, (current.email if current is not None else None)


def problem_with_link(pw: Paywall, token: str) -> str:
    with pw.sessions() as db:
        return link_problem(pw, db, token)


def complete_sign_in(
    pw: Paywall, token: str, old_cookie: str | None, lang: str | None
) -> tuple[str, str] | None:
    """Use the magic link and open a session; (session token, next URL) or None."""
    with pw.sessions() as db:
        result = consume_login_token(pw, db, token, lang)
        if result is None:
            db.rollback()
            return None
        if old_cookie:
            revoke_session(pw, db, old_cookie)
        session_token = create_session(pw, db, result.member)
        db.commit()
        log.info(kv("auth.signed_in", member=result.member.id, new_member=result.created))
        return session_token, result.next_url


# The page for each reason a link is refused (members.sign_in.link_problem).
_REJECTED = {"invalid": "link_invalid", "used": "link_used", "expired": "expired"}


def link_rejected(
    pw: Paywall, request: Request, link_lang: str | None, problem: str = "invalid"
) -> Response:
    log.info(kv("auth.link_rejected", reason=problem))
    lang = preferred_lang(pw, request, link_lang)
    group = _REJECTED.get(problem, "link_invalid")
    body = f"<p>{esc(t(lang, f'{group}.body'))}</p>" + sign_in_form(lang=lang)
    return render_page(pw, request, t(lang, f"{group}.title"), body, lang, status=400)


def confirmation_page(
    pw: Paywall,
    request: Request,
    token: str,
    pending: PendingLink,
    current: str | None,
    link_lang: str | None,
) -> Response:
    """The form that uses the link: submitted by itself in the browser that asked (and where
    nobody else is signed in), by the reader's click everywhere else."""
    lang = preferred_lang(pw, request, link_lang)
    automatic = pending.same_browser and current in (None, pending.email)
    switching = current is not None and current != pending.email
    question = t(lang, "confirm.body", email=pending.email)
    if switching:
        question = t(lang, "confirm.switch", current=current, email=pending.email)
    hidden_lang = f'<input type="hidden" name="lang" value="{esc(link_lang)}">' if link_lang else ""
    form = (
        '<form class="kp-form kp-confirm" id="kp-confirm" method="post" '
        'action="/api/login/callback">'
        f'<input type="hidden" name="token" value="{esc(token)}">'
        f'<input type="hidden" name="confirm" value="{esc(pending.confirm)}">{hidden_lang}'
        '<button type="submit" class="md-button md-button--primary">'
        f"{esc(t(lang, 'confirm.button'))}</button></form>"
    )
    if automatic:
        body = (
            f"<p>{esc(t(lang, 'confirm.continuing'))}</p>{form}"
            "<script>document.getElementById('kp-confirm').submit()</script>"
        )
    else:
        body = f"<p>{esc(question)}</p>{form}"
    return render_page(pw, request, t(lang, "confirm.title"), body, lang)


def _no_store(response: Response) -> Response:
    """Never cached, and the token in the URL never sent to another site. ("same-origin",
    not "no-referrer": the confirmation form's POST must carry this site's Origin, which
    a no-referrer page would send as `null`.)"""
    response.headers["Cache-Control"] = NO_STORE
    response.headers["Referrer-Policy"] = "same-origin"
    return response


async def login_callback(request: Request) -> Response:
    """GET: what the link would do, as a page whose form uses it."""
    pw: Paywall = request.app.state.paywall
    token = request.query_params.get("token", "")
    link_lang = valid_lang(request.query_params.get("lang"))
    looked: tuple[PendingLink, str | None] | str = "invalid"
    if token and len(token) <= 200:
        looked = await run_db(
            pw,
            look_at_link,
            pw,
            token,
            request.cookies.get(INTENT_COOKIE),
            request.cookies.get(COOKIE_NAME),
        )
    if isinstance(looked, str):
        return _no_store(link_rejected(pw, request, link_lang, looked))
    pending, current = looked
    return _no_store(confirmation_page(pw, request, token, pending, current, link_lang))


async def login_confirm(request: Request) -> Response:
    """POST: use the link (the form of `confirmation_page`), sign in, 303 to `next`."""
    pw: Paywall = request.app.state.paywall
    fields = await form_fields(request)
    token, confirm = fields.get("token", ""), fields.get("confirm", "")
    link_lang = valid_lang(fields.get("lang"))
    outcome = None
    if token and len(token) <= 200 and confirm and confirm_matches(pw, token, confirm):
        outcome = await run_db(
            pw, complete_sign_in, pw, token, request.cookies.get(COOKIE_NAME), link_lang
        )
        if outcome is None:  # used or expired since the page was shown
            problem = await run_db(pw, problem_with_link, pw, token)
            return _no_store(link_rejected(pw, request, link_lang, problem))
    if outcome is None:  # a form this server did not render for this link
        return _no_store(link_rejected(pw, request, link_lang))
    session_token, next_url = outcome
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(pw, response, session_token)
    return _no_store(response)


# ---------------------------------------------------------------- POST /api/logout


def end_session(pw: Paywall, token: str) -> bool:
    with pw.sessions() as db:
        revoked = revoke_session(pw, db, token)
        db.commit()
        return revoked


async def logout(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    token = request.cookies.get(COOKIE_NAME)
    fields = await form_fields(request)  # a body it cannot read signs nobody out (400)
    revoked = await run_db(pw, end_session, pw, token) if token else False
    log.info(kv("auth.signed_out", revoked=revoked))
    response: Response
    if wants_json(request):
        response = JSONResponse({"ok": True}, headers={"Cache-Control": NO_STORE})
    else:
        target = safe_next_url(fields.get("next"), pw.settings.base_url)
        response = RedirectResponse(target, status_code=303)
    clear_session_cookie(pw, response)
    return response


# ---------------------------------------------------------------- GET /api/me


def me_payload(pw: Paywall, member: Member | None) -> dict[str, Any]:
    manifest = pw.manifest()
    default_lang = manifest.default_lang if manifest else "en"
    if member is None:
        return {"authenticated": False, "email": None, "entitlements": [], "lang": default_lang}
    with pw.sessions() as db:
        keys = active_keys(db, member.id, pw.now())
    keys.add(MEMBER_KEY)
    payload: dict[str, Any] = {
        "authenticated": True,
        "email": member.email,
        "entitlements": sorted(keys),
        "lang": member.lang or default_lang,
    }
    if member.role:  # a price role: assets/kp/roles.js asks /api/prices for its prices
        payload["role"] = member.role
    return payload


async def me(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    member = await run_db(pw, current_member, request)
    payload = await run_db(pw, me_payload, pw, member)
    return JSONResponse(payload, headers={"Cache-Control": NO_STORE, "Vary": "Cookie"})


# ---------------------------------------------------------------- GET /api/auth


async def auth_check(request: Request) -> Response:
    """For nginx `auth_request`: 204 may read (or not gated), 401 no session, 403 not entitled.

    `uri` (query parameter, or the `X-Original-URI` header nginx configs commonly set) is the
    original request URI (`$request_uri`, still percent-encoded); it is decoded
    and checked exactly like a request to the file server, so encoded tricks cannot turn a
    gated URL into an ungated one. An unsafe `uri` is a 400 (nginx then refuses the request).

    Decided from the worker's access cache, as a gated page is (`access_for_request`): nginx
    caches only grants, so every refusal comes back here, and must not cost a query each.
    """
    pw: Paywall = request.app.state.paywall
    headers = {"Cache-Control": NO_STORE}
    uri = request.query_params.get("uri") or request.headers.get("x-original-uri")
    if not uri:
        return Response(
            "missing query parameter uri (or X-Original-URI header)", 400, headers, "text/plain"
        )
    try:
        url = parse_url_path(urlsplit(uri).path)
    except (UnsafePath, ValueError) as exc:
        log.warning(kv("auth.check_unsafe_uri", reason=str(exc)))
        return Response(f"unsafe uri: {exc}", 400, headers, "text/plain")
    manifest = pw.manifest()
    page = manifest.page_for(url.canonical) if manifest else None
    access = await access_for_request(request, page)
    status = {Access.GRANTED: 204, Access.ANONYMOUS: 401}.get(access, 403)
    return Response(status_code=status, headers=headers)


routes = [
    Route("/api/login", login, methods=["POST"]),
    Route("/api/login/callback", login_callback, methods=["GET"]),
    Route("/api/login/callback", login_confirm, methods=["POST"]),
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
    Route("/api/auth", auth_check, methods=["GET"]),
]
