"""The newsletter: new free articles e-mailed to members who want them, with a one-click
unsubscribe that works without signing in.

`kp newsletter send` mails each opted-in member (confirmed address, `Member.newsletter`) one
message listing the free articles in their language published since `--since` that they have
not been sent yet. The sent-log (`newsletter_log`, unique per member and article) is claimed
before a message leaves and released if sending fails, so a second run (even a concurrent
one) sends nothing twice. Members-only and paid pages are never in it: only articles the
build lists as public, with their title and summary.

Unsubscribing: every message carries a link signed with the site's secret (itsdangerous) for
that member, as `List-Unsubscribe` with `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
(RFC 8058: mail apps POST to it without a page) and in the text. Opening the link shows a
confirmation button (mail scanners open links; they must not unsubscribe anyone); posting it
unsubscribes, and again, and again: it stays unsubscribed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html import escape

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from kp_contract.growth import ArticleRef
from paywall.database.models import Member, NewsletterSend
from paywall.database.upsert import insert_if_absent
from paywall.growth.referrals import growth_of, site_root
from paywall.growth.texts import gt
from paywall.members.sign_in import current_member
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db
from paywall.runtime.forms import read_fields
from paywall.runtime.lang import format_date, preferred_lang, valid_lang
from paywall.runtime.logs import get_logger, kv, mask_email
from paywall.runtime.pages import NO_STORE, esc, render_page
from paywall.runtime.secret import load_secret_key

log = get_logger("paywall.growth.newsletter")

SALT = "kp.newsletter.unsubscribe"
UNSUBSCRIBE_PATH = "/api/newsletter/unsubscribe"
DEFAULT_DAYS = 30


class NewsletterError(RuntimeError):
    """The newsletter cannot be sent (no build yet, bad date); the message says why."""


# ---------------------------------------------------------------- unsubscribe tokens


def _serializer(pw: Paywall) -> URLSafeSerializer:
    return URLSafeSerializer(load_secret_key(pw.settings), salt=SALT)


def unsubscribe_token(pw: Paywall, member: Member) -> str:
    """A token naming the member, signed with the site's secret (no expiry: an old
    newsletter's link must still work)."""
    return str(_serializer(pw).dumps({"m": member.id}))


def unsubscribe_url(pw: Paywall, member: Member) -> str:
    return f"{pw.settings.base_url}{UNSUBSCRIBE_PATH}?token={unsubscribe_token(pw, member)}"


def member_id_for(pw: Paywall, token: str | None) -> int | None:
    """The member id a token was signed for, or None for a forged or mangled token."""
    if not token or len(token) > 500:
        return None
    try:
        data = _serializer(pw).loads(token)
    except BadSignature:
        return None
    member_id = data.get("m") if isinstance(data, dict) else None
    return member_id if isinstance(member_id, int) else None


def set_subscription(pw: Paywall, member_id: int, subscribed: bool) -> Member | None:
    """Turn the newsletter on or off for a member (idempotent); None if they are gone."""
    with pw.sessions.begin() as db:
        member = db.get(Member, member_id)
        if member is None:
            return None
        if member.newsletter != subscribed:
            member.newsletter = subscribed
            log.info(kv("newsletter.subscription", member=member.id, subscribed=subscribed))
        return member


# ---------------------------------------------------------------- who gets what


@dataclass(frozen=True)
class Delivery:
    """One message: a member and the new articles it lists (newest first)."""

    member_id: int
    email: str
    lang: str
    articles: tuple[ArticleRef, ...]


@dataclass
class SendReport:
    sent: list[Delivery] = field(default_factory=list)
    failed: list[tuple[Delivery, str]] = field(default_factory=list)
    planned: list[Delivery] = field(default_factory=list)


def window_start(today: dt.date, since: dt.date | None, days: int | None) -> dt.date:
    if since is not None and days is not None:
        raise NewsletterError("give --since or --days, not both")
    if since is not None:
        if since > today:
            raise NewsletterError(f"--since {since} is in the future")
        return since
    span = DEFAULT_DAYS if days is None else days
    if span < 1:
        raise NewsletterError(f"--days must be at least 1, not {span}")
    return today - dt.timedelta(days=span - 1)


def due_deliveries(pw: Paywall, db: Session, since: dt.date, today: dt.date) -> list[Delivery]:
    """Opted-in, confirmed members and the free articles in their language, published in
    [since, today], that they have not been sent."""
    manifest = pw.manifest()
    if manifest is None:
        raise NewsletterError("nothing is built yet (run `kp build`): no articles to send")
    articles = [a for a in growth_of(manifest).free_articles() if since <= a.date <= today]
    if not articles:
        return []
    langs = {a.lang for a in articles}
    urls = [a.url for a in articles]
    sent = set(
        db.execute(
            select(NewsletterSend.member_id, NewsletterSend.article_url).where(
                NewsletterSend.article_url.in_(urls)
            )
        ).all()
    )
    members = db.scalars(
        select(Member)
        .where(Member.newsletter.is_(True), Member.confirmed_at.is_not(None))
        .order_by(Member.id)
    )
    fallback = manifest.default_lang
    deliveries = []
    for member in members:
        lang = member.lang if member.lang in langs else fallback
        mine = sorted(
            (a for a in articles if a.lang == lang and (member.id, a.url) not in sent),
            key=lambda a: (a.date, a.url),
            reverse=True,
        )
        if mine:
            deliveries.append(Delivery(member.id, member.email, lang, tuple(mine)))
    return deliveries


# ---------------------------------------------------------------- the message


def compose(pw: Paywall, delivery: Delivery, unsubscribe: str) -> tuple[str, str, str]:
    """(subject, text, html) in the member's language."""
    manifest = pw.manifest()
    site = manifest.site_name if manifest else "Knowledge Pay"
    lang, articles = delivery.lang, delivery.articles
    if len(articles) == 1:
        subject = gt(lang, "mail_subject_one", site=site, title=articles[0].title)
    else:
        subject = gt(lang, "mail_subject_many", site=site, count=len(articles))
    root = site_root(pw)
    lines = [gt(lang, "mail_intro", site=site), ""]
    items = []
    for article in articles:
        link = f"{root}{article.url}"
        when = format_date(article.date, lang)
        lines += [f"* {article.title} ({when})"]
        if article.summary:
            lines.append(f"  {article.summary}")
        lines += [f"  {link}", ""]
        summary = f"<p>{escape(article.summary)}</p>" if article.summary else ""
        items.append(
            f'<li><h3 style="margin:0"><a href="{escape(link)}">{escape(article.title)}</a></h3>'
            f'<p style="color:#666;margin:0">{escape(when)}</p>{summary}'
            f'<p><a href="{escape(link)}">{escape(gt(lang, "mail_read"))}</a></p></li>'
        )
    footer = gt(lang, "mail_footer", site=site, link=unsubscribe)
    text = "\n".join(lines + ["--", footer, ""])
    html = (
        f'<!doctype html><html lang="{escape(lang)}"><body style="font-family:sans-serif">'
        f"<p>{escape(gt(lang, 'mail_intro', site=site))}</p>"
        f'<ul style="list-style:none;padding:0">{"".join(items)}</ul><hr>'
        f'<p style="color:#666;font-size:small">{escape(footer)}</p></body></html>'
    )
    return subject, text, html


def list_headers(unsubscribe: str) -> dict[str, str]:
    """RFC 2369 + RFC 8058 one-click unsubscribe headers."""
    return {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# ---------------------------------------------------------------- sending


def send_newsletter(
    pw: Paywall,
    *,
    dry_run: bool = False,
    since: dt.date | None = None,
    days: int | None = None,
) -> SendReport:
    """Mail every due delivery once (see the module docstring); `dry_run` only plans."""
    today = pw.now().date()
    start = window_start(today, since, days)
    with pw.sessions() as db:
        planned = due_deliveries(pw, db, start, today)
    report = SendReport(planned=planned)
    if dry_run:
        return report
    for delivery in planned:
        claimed = _claim(pw, delivery)
        if not claimed:
            continue
        mine = Delivery(delivery.member_id, delivery.email, delivery.lang, claimed)
        try:
            _send_one(pw, mine)
        except Exception as exc:  # noqa: BLE001 - one bad address must not stop the others
            _release(pw, mine)
            report.failed.append((mine, f"{type(exc).__name__}: {str(exc)[:200]}"))
            log.warning(
                kv("newsletter.failed", email=mask_email(mine.email), error=type(exc).__name__)
            )
            continue
        report.sent.append(mine)
        log.info(kv("newsletter.sent", email=mask_email(mine.email), articles=len(claimed)))
    return report


def _claim(pw: Paywall, delivery: Delivery) -> tuple[ArticleRef, ...]:
    """Write the sent-log rows first: whatever another run claimed already is dropped."""
    claimed = set(claim_sent(pw, delivery.member_id, [a.url for a in delivery.articles]))
    return tuple(article for article in delivery.articles if article.url in claimed)


def _release(pw: Paywall, delivery: Delivery) -> None:
    release_sent(pw, delivery.member_id, [a.url for a in delivery.articles])


def claim_sent(pw: Paywall, member_id: int, urls: list[str]) -> list[str]:
    """Log `urls` as sent to the member before the message leaves; the ones another run
    logged already are left out (so nothing goes twice, even with two runs at once). The
    paid-lesson e-mails share this log, keyed by the lesson's URL."""
    with pw.sessions.begin() as db:
        now = pw.now()
        return [
            url
            for url in urls
            if insert_if_absent(
                db,
                NewsletterSend.__table__,
                {"member_id": member_id, "article_url": url, "sent_at": now},
                ["member_id", "article_url"],
            )
        ]


def release_sent(pw: Paywall, member_id: int, urls: list[str]) -> None:
    """Undo `claim_sent` for a message that could not be sent: the next run tries again."""
    with pw.sessions.begin() as db:
        db.execute(
            delete(NewsletterSend).where(
                NewsletterSend.member_id == member_id, NewsletterSend.article_url.in_(urls)
            )
        )


def _send_one(pw: Paywall, delivery: Delivery) -> None:
    with pw.sessions() as db:
        member = db.get(Member, delivery.member_id)
        if member is None:
            raise LookupError(f"member {delivery.member_id} was deleted")
        unsubscribe = unsubscribe_url(pw, member)
    subject, text, html = compose(pw, delivery, unsubscribe)
    pw.mailer.send(delivery.email, subject, text, html, list_headers(unsubscribe))


# ---------------------------------------------------------------- HTTP


def _token(request: Request, form: dict[str, str] | None = None) -> str:
    return (form or {}).get("token") or request.query_params.get("token", "")


def _member_email(pw: Paywall, member_id: int | None) -> tuple[str, str] | None:
    if member_id is None:
        return None
    with pw.sessions() as db:
        member = db.get(Member, member_id)
        return (member.email, member.lang) if member is not None else None


def _invalid(pw: Paywall, request: Request, lang: str) -> Response:
    body = f"<p>{esc(gt(lang, 'unsub_invalid'))}</p>"
    return render_page(pw, request, gt(lang, "unsub_invalid_title"), body, lang, status=400)


async def unsubscribe_page(request: Request) -> Response:
    """GET: a confirmation button (link scanners must not unsubscribe anyone)."""
    pw: Paywall = request.app.state.paywall
    token = _token(request)
    found = await run_db(pw, _member_email, pw, member_id_for(pw, token))
    lang = valid_lang(found[1] if found else None) or preferred_lang(pw, request)
    if found is None:
        return _invalid(pw, request, lang)
    body = (
        f"<p>{esc(gt(lang, 'unsub_confirm', email=found[0]))}</p>"
        f'<form method="post" action="{UNSUBSCRIBE_PATH}">'
        f'<input type="hidden" name="token" value="{esc(token)}">'
        f'<button type="submit" class="md-button md-button--primary">'
        f"{esc(gt(lang, 'unsub_button'))}</button></form>"
    )
    response = render_page(pw, request, gt(lang, "unsub_title"), body, lang)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def unsubscribe(request: Request) -> Response:
    """POST: unsubscribe (one-click from a mail app, or the confirmation button); the same
    answer however often it is repeated."""
    pw: Paywall = request.app.state.paywall
    # The token is in the link (RFC 8058 mail apps post `List-Unsubscribe=One-Click` to it),
    # so a body of another type is read as no fields rather than refused.
    fields = await read_fields(request, other_types="ignore")
    member_id = member_id_for(pw, _token(request, fields))
    member = (
        await run_db(pw, set_subscription, pw, member_id, False) if member_id is not None else None
    )
    one_click = fields.get("List-Unsubscribe") == "One-Click"
    if one_click:
        status = 200 if member is not None else 400
        text = "unsubscribed" if member is not None else "invalid unsubscribe link"
        return PlainTextResponse(text, status, headers={"Cache-Control": NO_STORE})
    lang = valid_lang(member.lang if member else None) or preferred_lang(pw, request)
    if member is None:
        return _invalid(pw, request, lang)
    body = f"<p>{esc(gt(lang, 'unsub_done', email=member.email))}</p>"
    return render_page(pw, request, gt(lang, "unsub_done_title"), body, lang)


async def subscription(request: Request) -> Response:
    """POST /api/newsletter (signed in, from the account page): `subscribe=1|0`."""
    pw: Paywall = request.app.state.paywall
    form = await read_fields(request)
    member = await run_db(pw, current_member, request)
    if member is None:
        return RedirectResponse("/account/", status_code=303)
    wanted = form.get("subscribe") == "1"
    await run_db(pw, set_subscription, pw, member.id, wanted)
    return RedirectResponse("/account/#newsletter", status_code=303)


def newsletter_section(member: Member, lang: str) -> str:
    """The account page's newsletter setting (a button that flips it)."""
    state = gt(lang, "newsletter_on" if member.newsletter else "newsletter_off")
    button = gt(lang, "newsletter_stop" if member.newsletter else "newsletter_start")
    flip = "0" if member.newsletter else "1"
    return (
        f'<h2 id="newsletter">{esc(gt(lang, "newsletter_title"))}</h2><p>{esc(state)}</p>'
        '<form class="kp-form" method="post" action="/api/newsletter">'
        f'<input type="hidden" name="subscribe" value="{flip}">'
        f'<button type="submit" class="md-button">{esc(button)}</button></form>'
    )


routes = [
    Route(UNSUBSCRIBE_PATH, unsubscribe_page, methods=["GET"]),
    Route(UNSUBSCRIBE_PATH, unsubscribe, methods=["POST"]),
    Route("/api/newsletter", subscription, methods=["POST"]),
]
