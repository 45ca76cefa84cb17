"""Gifts on the web: the redemption link's page (GET shows the gift and a button; only the
POST redeems it, so a mail scanner opening the link uses nothing) and the "Gifts you
sent" part of /account/ (`gift_section`, called by paywall.web.account), with each gift's
state: sent (and until when its link works), redeemed, refunded, disputed."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from paywall.billing.event_context import landing_url
from paywall.billing.gifts import (
    REDEEM_PATH,
    GiftView,
    Redeemed,
    gift_for_link,
    gift_title,
    gifts_bought,
    redeem_gift,
)
from paywall.database.models import Gift, Member
from paywall.members.sign_in import (
    COOKIE_NAME,
    create_session,
    current_member,
    member_for_token,
    set_session_cookie,
)
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db
from paywall.runtime.forms import read_fields
from paywall.runtime.lang import format_date, preferred_lang, t
from paywall.runtime.logs import get_logger, kv
from paywall.runtime.pages import NO_STORE, esc, render_page

log = get_logger("paywall.web.gift_pages")


def gift_text(lang: str, text_key: str, **values: object) -> str:
    """Text `text_key` of the `gift` group (kp_contract/translations.yml)."""
    return t(lang, f"gift.{text_key}", **values)


# ---------------------------------------------------------------- /account/


def gift_section(pw: Paywall, member: Member, lang: str) -> str:
    """The gifts the member bought and what became of each; empty when there are none."""
    with pw.sessions() as db:
        gifts = gifts_bought(db, member.id)
        if not gifts:
            return ""
        manifest = pw.manifest()
        items = []
        for gift in gifts:
            title = gift_title(manifest, gift.key, gift.months, lang)
            if gift.months:
                title = gift_text(lang, "months_of", n=gift.months, title=title)
            items.append(
                f'<li class="kp-gift-line kp-gift--{esc(gift.state)}"><strong>{esc(title)}</strong>'
                f" — {esc(gift.recipient_email)} — {esc(_state(gift, lang))}</li>"
            )
    return (
        f'<section class="kp-gifts"><h2 id="gifts">{esc(gift_text(lang, "account_title"))}</h2>'
        f'<ul class="kp-access">{"".join(items)}</ul></section>'
    )


def _state(gift: Gift, lang: str) -> str:
    if gift.state == "sent" and gift.link_expires_at is not None:
        return gift_text(lang, "state_sent", date=format_date(gift.link_expires_at.date(), lang))
    if gift.state == "redeemed" and gift.redeemed_at is not None:
        return gift_text(lang, "state_redeemed", date=format_date(gift.redeemed_at.date(), lang))
    return gift_text(lang, f"state_{gift.state}")


# ---------------------------------------------------------------- the link


def _no_store(response: Response) -> Response:
    """Never cached; the token in the URL never sent to another site (same-origin, so the
    button's POST still carries this site's Origin)."""
    response.headers["Cache-Control"] = NO_STORE
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _look(pw: Paywall, token: str) -> GiftView | None:
    with pw.sessions() as db:
        return gift_for_link(pw, db, token)


def invalid_page(pw: Paywall, request: Request, lang: str) -> Response:
    body = f'<p class="kp-gift-result">{esc(gift_text(lang, "invalid"))}</p>'
    return _no_store(render_page(pw, request, gift_text(lang, "invalid_title"), body, lang, 400))


async def redeem_page(request: Request) -> Response:
    """GET of the mailed link: the gift, the giver's message and a button."""
    pw: Paywall = request.app.state.paywall
    token = request.query_params.get("token", "")[:200]
    view = await run_db(pw, _look, pw, token) if token else None
    if view is None:
        return invalid_page(pw, request, preferred_lang(pw, request))
    lang = preferred_lang(pw, request, view.lang)
    current = await run_db(pw, member_for_token, pw, request.cookies.get(COOKIE_NAME))
    parts = [f"<p>{esc(gift_text(lang, 'intro', giver=view.giver or '—', title=view.title))}</p>"]
    if view.message:
        parts.append(f'<blockquote class="kp-gift-message">{esc(view.message)}</blockquote>')
    who = current.email if current is not None else view.recipient
    parts.append(f"<p>{esc(gift_text(lang, 'goes_to', email=who))}</p>")
    parts.append(
        f'<form class="kp-form kp-redeem" method="post" action="{REDEEM_PATH}">'
        f'<input type="hidden" name="token" value="{esc(token)}">'
        '<button type="submit" class="md-button md-button--primary">'
        f"{esc(gift_text(lang, 'redeem_button'))}</button></form>"
    )
    return _no_store(render_page(pw, request, gift_text(lang, "title"), "".join(parts), lang))


def _redeem(pw: Paywall, token: str, current: Member | None) -> tuple[Redeemed, str | None] | None:
    """Redeem in one transaction; a new session token when the recipient was signed in now."""
    with pw.sessions.begin() as db:
        fresh = db.get(Member, current.id) if current is not None else None
        done = redeem_gift(pw, db, token, fresh)
        if done is None:
            return None
        session = create_session(pw, db, done.member) if done.signed_in_now else None
        return done, session


async def redeem(request: Request) -> Response:
    """POST: give the gift to the signed-in member (or sign the recipient in), then 303
    to what it opens."""
    pw: Paywall = request.app.state.paywall
    fields = await read_fields(request)
    token = fields.get("token", "")[:200]
    current = await run_db(pw, current_member, request)
    result = await run_db(pw, _redeem, pw, token, current) if token else None
    if result is None:
        return invalid_page(pw, request, preferred_lang(pw, request, member=current))
    done, session = result
    log.info(kv("gift.redeemed", member=done.member.id, key=done.key))
    landing = landing_url(pw.manifest(), done.key)
    if current is None and session is None:  # an existing member: they sign in as usual
        landing = f"/account/?next={quote(landing)}"
    response = RedirectResponse(landing, status_code=303)
    if session is not None:
        set_session_cookie(pw, response, session)
    return _no_store(response)


routes = [
    Route(REDEEM_PATH, redeem_page, methods=["GET"]),
    Route(REDEEM_PATH, redeem, methods=["POST"]),
]
