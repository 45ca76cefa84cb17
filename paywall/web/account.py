"""`/account/`: sign-in form for visitors; e-mail, courses, membership with its renewal or end
date, a "Manage billing" button (Stripe customer portal) and sign-out for members.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kp_contract.manifest import Manifest
from paywall.database.models import Entitlement, Member
from paywall.growth.account_section import account_section
from paywall.growth.seller_section import seller_section
from paywall.members.entitlements import CANCELS_AT_PERIOD_END, is_active, member_entitlements
from paywall.members.sign_in import current_member, safe_next_url
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db
from paywall.runtime.lang import format_date, preferred_lang, t
from paywall.runtime.pages import esc, render_page
from paywall.web.gift_pages import gift_section
from paywall.web.learning_account import learning_section
from paywall.web.my_data import my_data_section
from paywall.web.sign_in_routes import sign_in_form

RENEWING_STATUSES = ("active", "trialing")


@dataclass(frozen=True)
class AccessLine:
    """One row of "what I have": a title, a link, and when it renews or ends."""

    kind: str  # "course" | "membership" | "member"
    title: str
    url: str | None
    when: str


def fmt_date(value: dt.datetime, lang: str = "en") -> str:
    """'December 25, 2026' / '2026年12月25日' (the UTC day), as the site writes dates."""
    return format_date(value.astimezone(dt.UTC).date(), lang)


def describe_term(row: Entitlement, lang: str = "en") -> str:
    """Renewal or end date in words, from the row's source and Stripe status."""
    if row.valid_until is None:
        return t(lang, "term.lifetime" if row.source == "purchase" else "term.open")
    until = fmt_date(row.valid_until, lang)
    if row.source == "subscription":
        if row.stripe_status in RENEWING_STATUSES and row.note != CANCELS_AT_PERIOD_END:
            return t(lang, "term.renews", date=until)
        if row.stripe_status == "past_due":
            return t(lang, "term.past_due", date=until)
        return t(lang, "term.ends", date=until)
    return t(lang, "term.until", date=until)


def access_lines(
    manifest: Manifest | None, rows: list[Entitlement], lang: str = "en"
) -> list[AccessLine]:
    """Active entitlements as lines; a tier also lists the courses it includes."""
    lines: list[AccessLine] = []
    for row in rows:
        kind, _, name = row.key.partition(":")
        term = describe_term(row, lang)
        if kind == "course":
            course = manifest.courses.get(name) if manifest else None
            lines.append(
                AccessLine(
                    "course", course.title if course else name, course.url if course else None, term
                )
            )
        elif kind == "tier":
            tier = manifest.tiers.get(name) if manifest else None
            tier_title = tier.title_in(lang) if tier else name
            lines.append(AccessLine("membership", tier_title, None, term))
            for slug in tier.courses if tier else []:
                course = manifest.courses.get(slug) if manifest else None
                if course is not None:
                    lines.append(
                        AccessLine(
                            "course",
                            course.title,
                            course.url,
                            t(lang, "term.included", tier=tier_title),
                        )
                    )
        else:
            lines.append(AccessLine("member", t(lang, "account.members_only"), None, term))
    return lines


def load_account(pw: Paywall, member: Member) -> tuple[list[Entitlement], bool]:
    """Active entitlements, and whether a Stripe customer exists (for the billing button)."""
    with pw.sessions() as db:
        now = pw.now()
        rows = [r for r in member_entitlements(db, member.id) if is_active(r, now)]
        fresh = db.get(Member, member.id)
        return rows, bool(fresh and fresh.stripe_customer_id)


def render_lines(lines: list[AccessLine], lang: str) -> str:
    if not lines:
        return f"<p>{t(lang, 'account.none_html')}</p>"
    items = []
    for line in lines:
        title = f'<a href="{esc(line.url)}">{esc(line.title)}</a>' if line.url else esc(line.title)
        items.append(
            f'<li class="kp-{esc(line.kind)}"><strong>{title}</strong> — {esc(line.when)}</li>'
        )
    return '<ul class="kp-access">' + "".join(items) + "</ul>"


def member_body(
    member: Member, lines: list[AccessLine], has_customer: bool, lang: str, growth: str = ""
) -> str:
    """`growth`: the invites/rewards/newsletter part (paywall.growth.account_section), before
    sign-out."""
    courses = [ln for ln in lines if ln.kind != "membership"]
    memberships = [ln for ln in lines if ln.kind == "membership"]
    parts = [
        f"<p>{t(lang, 'account.signed_in_as_html', email=esc(member.email))}</p>",
        f"<h2>{esc(t(lang, 'account.membership'))}</h2>",
        render_lines(memberships, lang)
        if memberships
        else f"<p>{esc(t(lang, 'account.free'))}</p>",
        f"<h2>{esc(t(lang, 'account.courses'))}</h2>",
        render_lines(courses, lang),
    ]
    if has_customer:
        parts.append(
            '<form method="post" action="/api/billing-portal">'
            '<button type="submit" class="md-button md-button--primary">'
            f"{esc(t(lang, 'account.billing'))}</button></form>"
        )
    parts.append(growth)
    parts.append(
        '<form method="post" action="/api/logout"><input type="hidden" name="next" value="/">'
        '<button type="submit" class="md-button">'
        f"{esc(t(lang, 'account.sign_out'))}</button></form>"
    )
    return "".join(parts)


async def account(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    member = await run_db(pw, current_member, request)
    if member is None:
        next_url = safe_next_url(
            request.query_params.get("next"), pw.settings.base_url, default="/account/"
        )
        lang = preferred_lang(pw, request, request.query_params.get("lang"), page=next_url)
        title = t(lang, "sign_in.title")
        body = f"<p>{esc(t(lang, 'sign_in.intro'))}</p>" + sign_in_form(
            next_url, source="/account/", lang=lang
        )
        response = render_page(pw, request, title, body, lang)
    else:
        lang = preferred_lang(pw, request, request.query_params.get("lang"), member=member)
        rows, has_customer = await run_db(pw, load_account, pw, member)
        lines = access_lines(pw.manifest(), rows, lang)
        growth = await run_db(pw, account_section, pw, member, lang)
        growth += await run_db(pw, seller_section, pw, member, lang)
        learning = await run_db(pw, learning_section, pw, member, lang)
        learning += await run_db(pw, gift_section, pw, member, lang)
        body = member_body(member, lines, has_customer, lang, learning + growth) + my_data_section(
            member, lang
        )
        response = render_page(pw, request, t(lang, "account.title"), body, lang)
    response.headers["Vary"] = "Cookie, Accept-Language"
    return response


async def account_redirect(request: Request) -> Response:
    return RedirectResponse("/account/", status_code=301)


routes = [
    Route("/account/", account, methods=["GET", "HEAD"]),
    Route("/account", account_redirect, methods=["GET", "HEAD"]),
]
