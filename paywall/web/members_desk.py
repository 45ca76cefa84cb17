"""`/admin/members/`: the members desk for the site's admins (`KP_ADMIN_EMAILS`).

A searchable, filterable list; a member's page with their access and where it came from,
their Stripe customer and payments (links into Stripe's dashboard), referrals and partner,
and their audit trail; and the admin's actions as plain forms: comp (with an end date and a
note), end access, refund a purchase through Stripe (its webhook then revokes), send a
sign-in link, sign out everywhere; CSV export and import in `kp members`' format. Forms
are protected like every unsafe request here (the Origin check of paywall.web.security);
every action is audited with `admin:<email>`. Anyone else gets 401 (signed out) or 403,
for pages and actions alike. No scripts (but a confirm() before a refund): it works on
a phone and in both languages.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kp_contract.manifest import Manifest
from paywall.billing.refunds import RefundError, dashboard_url, refund_purchase
from paywall.database.models import SOURCES, Member, Partner, PartnerMember, Referral
from paywall.members import csv_io
from paywall.members.audit import (
    LOGIN_LINK,
    MEMBERS_EXPORT,
    MEMBERS_IMPORT,
    admin_actor,
    record,
)
from paywall.members.desk import (
    STATES,
    DeskError,
    Filters,
    MemberRow,
    Profile,
    comp,
    end_access,
    find_members,
    member_profile,
    sign_out_everywhere,
)
from paywall.members.entitlements import InvalidKey
from paywall.members.price_roles import UnknownRole, checked_role, set_role
from paywall.members.sign_in import current_member, send_login_email
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db, run_stripe
from paywall.runtime.forms import BadInput, check_text, read_fields
from paywall.runtime.lang import format_date, preferred_lang, t, valid_lang
from paywall.runtime.pages import NO_STORE, esc, render_page
from paywall.web.admin import is_admin
from paywall.web.body_limits import IMPORT_PATH
from paywall.web.sign_in_routes import sign_in_form

BASE = "/admin/members/"
STYLE = (
    "<style>.kp-desk-scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}"
    ".kp-desk table{border-collapse:collapse;width:100%;font-size:.8rem}"
    ".kp-desk th,.kp-desk td{padding:.3rem .4rem;border-bottom:1px solid #ddd;"
    "text-align:left;vertical-align:top}"
    ".kp-desk form.kp-desk-row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;"
    "margin:.5rem 0}.kp-desk label{display:flex;flex-direction:column;font-size:.75rem;"
    "flex:1 1 9rem;min-width:0;max-width:100%}"
    ".kp-desk input,.kp-desk select{font-size:1rem;padding:.3rem;max-width:100%;"
    "min-width:0;box-sizing:border-box}"
    ".kp-desk label input:not([type=checkbox]),.kp-desk label select{width:100%}"
    ".kp-desk .kp-note{padding:.5rem;border-left:4px solid #26a69a;background:#f1f8f7}"
    ".kp-desk .kp-error{padding:.5rem;border-left:4px solid #ef5350;background:#fdf1f1}"
    ".kp-desk button{font-size:.9rem;padding:.4rem .8rem;margin:.2rem 0}</style>"
)


def dt_(lang: str, text_key: str, **values: object) -> str:
    """The desk's text `text_key` (group `desk` of kp_contract/translations.yml)."""
    return t(lang, f"desk.{text_key}", **values)


# ---------------------------------------------------------------- who may use it

Handler = Callable[[Request, Paywall, Member, str], Awaitable[Response]]


def admins_only(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Run `handler` for an admin; 401 with the sign-in form signed out, 403 otherwise."""

    async def endpoint(request: Request) -> Response:
        pw: Paywall = request.app.state.paywall
        member = await run_db(pw, current_member, request)
        lang = preferred_lang(pw, request, request.query_params.get("lang"), member=member)
        response: Response
        if member is None:
            body = f"<p>{esc(dt_(lang, 'sign_in'))}</p>" + sign_in_form(
                BASE, source=BASE, lang=lang
            )
            response = render_page(pw, request, t(lang, "sign_in.title"), body, lang, 401)
        elif not is_admin(pw, member):
            body = f"<p>{esc(t(lang, 'growth.admin_denied', email=member.email))}</p>"
            response = render_page(
                pw, request, t(lang, "growth.admin_denied_title"), body, lang, 403
            )
        else:
            response = await handler(request, pw, member, lang)
        response.headers["Vary"] = "Cookie"
        response.headers["Cache-Control"] = NO_STORE
        return response

    return endpoint


def page(pw: Paywall, request: Request, title: str, body: str, lang: str) -> Response:
    return render_page(pw, request, title, f'{STYLE}<div class="kp-desk">{body}</div>', lang)


def lang_query(lang: str) -> str:
    return f"lang={lang}"


def back_to(member_id: int, lang: str, **message: str) -> Response:
    query = urlencode({"lang": lang, **message})
    return RedirectResponse(f"{BASE}{member_id}/?{query}", status_code=303)


def member_id_of(request: Request) -> int:
    value = request.path_params["member_id"]
    return int(value)


# ---------------------------------------------------------------- the list


def key_choices(manifest: Manifest | None, lang: str) -> list[tuple[str, str]]:
    """(key, label) of every course and tier of the build."""
    if manifest is None:
        return []
    courses = [(f"course:{s}", c.title) for s, c in sorted(manifest.courses.items())]
    tiers = [(f"tier:{n}", tier.title_in(lang)) for n, tier in sorted(manifest.tiers.items())]
    return courses + tiers


def options(choices: list[tuple[str, str]], selected: str, lang: str) -> str:
    items = [f'<option value="">{esc(dt_(lang, "any"))}</option>']
    for value, label in choices:
        chosen = " selected" if value == selected else ""
        items.append(f'<option value="{esc(value)}"{chosen}>{esc(label)}</option>')
    return "".join(items)


def filters_form(filters: Filters, manifest: Manifest | None, lang: str) -> str:
    sources = [(s, dt_(lang, f"src_{s}")) for s in SOURCES]
    states = [(s, dt_(lang, f"state_{s}")) for s in STATES]
    flagged = " checked" if filters.flagged else ""
    return (
        f'<form class="kp-desk-row" method="get" action="{BASE}" role="search">'
        f'<input type="hidden" name="lang" value="{esc(lang)}">'
        f'<label>{esc(dt_(lang, "search"))}<input type="search" name="email" '
        f'value="{esc(filters.q)}" autocomplete="off"></label>'
        f'<label>{esc(dt_(lang, "access"))}<select name="key">'
        f"{options(key_choices(manifest, lang), filters.key, lang)}</select></label>"
        f'<label>{esc(dt_(lang, "source"))}<select name="source">'
        f"{options(sources, filters.source, lang)}</select></label>"
        f'<label>{esc(dt_(lang, "state"))}<select name="state">'
        f"{options(states, filters.state, lang)}</select></label>"
        f'<label><span><input type="checkbox" name="flagged" value="1"{flagged}> '
        f"{esc(dt_(lang, 'flagged'))}</span></label>"
        f'<button type="submit" class="md-button">{esc(dt_(lang, "filter"))}</button></form>'
    )


def members_table(rows: list[MemberRow], lang: str) -> str:
    head = "".join(
        f"<th>{esc(dt_(lang, k))}</th>" for k in ("th_email", "th_joined", "th_access", "th_flag")
    )
    body = []
    for row in rows:
        access = ", ".join(row.access) or dt_(lang, "none")
        if row.deleted:
            access = dt_(lang, "deleted")
        body.append(
            f'<tr><td><a href="{BASE}{row.id}/?{lang_query(lang)}">{esc(row.email)}</a></td>'
            f"<td>{esc(format_date(row.created_at.date(), lang))}</td>"
            f"<td>{esc(access)}</td><td>{esc(row.flagged or '')}</td></tr>"
        )
    return (
        f'<div class="kp-desk-scroll"><table class="kp-desk-members"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def import_form(lang: str) -> str:
    return (
        f"<h2>{esc(dt_(lang, 'import_title'))}</h2><p><small>{esc(dt_(lang, 'import_hint'))}"
        f'</small></p><form class="kp-desk-row" method="post" action="{IMPORT_PATH}" '
        'enctype="multipart/form-data">'
        f'<input type="hidden" name="lang" value="{esc(lang)}">'
        '<label>CSV<input type="file" name="file" accept=".csv,text/csv" required></label>'
        f'<label><span><input type="checkbox" name="dry_run" value="1"> '
        f"{esc(dt_(lang, 'dry_run'))}</span></label>"
        f'<button type="submit" class="md-button">{esc(dt_(lang, "import_button"))}</button>'
        "</form>"
    )


def filters_of(request: Request) -> Filters:
    q = request.query_params
    return Filters(
        # Not `q`: mkdocs-material's search opens itself over any page with a `?q=`.
        q=check_text(q.get("email", ""), "query parameter 'email'", 320),
        key=q.get("key", ""),
        source=q.get("source", ""),
        state=q.get("state", ""),
        flagged=q.get("flagged") == "1",
    )


async def members_list(request: Request, pw: Paywall, admin: Member, lang: str) -> Response:
    filters = filters_of(request)
    try:
        filters.check()
    except (DeskError, InvalidKey) as exc:
        raise BadInput(str(exc)) from None
    rows, total = await run_db(pw, _find, pw, filters)
    export_query = urlencode({"lang": lang})
    body = (
        filters_form(filters, pw.manifest(), lang)
        + f"<p>{esc(dt_(lang, 'count', shown=len(rows), total=total))} · "
        f'<a href="{BASE}export.csv?{export_query}" download>{esc(dt_(lang, "export"))}</a></p>'
        + notice(request, lang)
        + members_table(rows, lang)
        + import_form(lang)
    )
    return page(pw, request, dt_(lang, "title"), body, lang)


def _find(pw: Paywall, filters: Filters) -> tuple[list[MemberRow], int]:
    with pw.sessions() as db:
        return find_members(db, filters, pw.now())


def notice(request: Request, lang: str) -> str:
    """The outcome of the last action (after its redirect), from the query string."""
    q = request.query_params
    if q.get("error"):
        text = dt_(lang, "failed", reason=q["error"][:500])
        return f'<p class="kp-error" role="alert">{esc(text)}</p>'
    if q.get("done"):
        return f'<p class="kp-note" role="status">{esc(q["done"][:500])}</p>'
    return ""


# ---------------------------------------------------------------- CSV


async def export_csv(request: Request, pw: Paywall, admin: Member, lang: str) -> Response:
    text = await run_db(pw, _export, pw, admin)
    stamp = pw.now().strftime("%Y%m%d-%H%M%S")
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="members-{stamp}.csv"'},
    )


def _export(pw: Paywall, admin: Member) -> str:
    out = io.StringIO()
    with pw.sessions.begin() as db:
        count = csv_io.export_members(db, out)
        record(
            db,
            MEMBERS_EXPORT,
            now=pw.now(),
            actor=admin_actor(admin.email),
            detail=f"{count} row(s) exported from the members desk",
        )
    return out.getvalue()


async def import_csv(request: Request, pw: Paywall, admin: Member, lang: str) -> Response:
    form = await request.form()
    upload = form.get("file")
    lang = valid_lang(str(form.get("lang") or "")) or lang
    dry_run = form.get("dry_run") == "1"
    if not isinstance(upload, UploadFile):
        raise BadInput("field 'file' must be a CSV file upload")
    raw = await upload.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"the CSV file is not UTF-8 (byte {exc.start})") from None
    try:
        report = await run_db(pw, _import, pw, admin, text, dry_run)
    except csv_io.CsvImportError as exc:
        body = (
            f'<p class="kp-error" role="alert">{esc(dt_(lang, "import_failed"))}</p><ul>'
            + "".join(f"<li>{esc(e)}</li>" for e in exc.errors[:200])
            + f'</ul><p><a href="{BASE}?{lang_query(lang)}">{esc(dt_(lang, "back"))}</a></p>'
        )
        response = page(pw, request, dt_(lang, "import_title"), body, lang)
        response.status_code = 400
        return response
    done = dt_(lang, "checked" if dry_run else "imported", report=report)
    return RedirectResponse(f"{BASE}?{urlencode({'lang': lang, 'done': done})}", 303)


def _import(pw: Paywall, admin: Member, text: str, dry_run: bool) -> str:
    rows, ignored = csv_io.parse_rows(io.StringIO(text))
    actor = admin_actor(admin.email)
    with pw.sessions() as db:
        manifest = pw.manifest()
        roles = manifest.roles if manifest is not None else None
        report = csv_io.import_rows(db, rows, now=pw.now(), actor=actor, roles=roles)
        report.ignored_columns = ignored
        if dry_run:
            db.rollback()
            return str(report)
        record(db, MEMBERS_IMPORT, now=pw.now(), actor=actor, detail=str(report))
        db.commit()
    return str(report)


# ---------------------------------------------------------------- a member's page


def source_label(source: str, lang: str) -> str:
    return dt_(lang, f"src_{source}") if source in SOURCES else source


def when(value: dt.datetime | None, lang: str) -> str:
    if value is None:
        return dt_(lang, "open_end")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def access_table(pw: Paywall, profile: Profile, lang: str) -> str:
    head = "".join(
        f"<th>{esc(dt_(lang, k))}</th>"
        for k in ("th_key", "source", "th_status", "th_until", "th_payment", "th_note")
    )
    rows = []
    member_id = profile.member.id
    for row in profile.entitlements:
        payment = ""
        if row.stripe_object_id:
            kind = "subscriptions" if row.stripe_object_id.startswith("sub_") else "payments"
            link = dashboard_url(pw, kind, row.stripe_object_id)
            payment = (
                f'<a href="{esc(link)}" rel="noopener" target="_blank">'
                f"{esc(row.stripe_object_id)}</a>"
            )
        actions = ""
        if row.status != "revoked":
            actions += (
                f'<form method="post" action="{BASE}{member_id}/end">'
                f'<input type="hidden" name="entitlement" value="{row.id}">'
                f'<input type="hidden" name="lang" value="{esc(lang)}">'
                f'<button type="submit">{esc(dt_(lang, "end"))}</button></form>'
            )
        if (
            row.status == "active"
            and row.source == "purchase"
            and row.stripe_object_id.startswith("pi_")
        ):
            actions += (
                f'<form method="post" action="{BASE}{member_id}/refund" '
                f'onsubmit="return confirm({esc(json.dumps(dt_(lang, "refund_confirm")))})">'
                f'<input type="hidden" name="entitlement" value="{row.id}">'
                f'<input type="hidden" name="lang" value="{esc(lang)}">'
                f'<button type="submit">{esc(dt_(lang, "refund"))}</button></form>'
            )
        status = dt_(lang, f"st_{row.status}")
        rows.append(
            f'<tr class="kp-ent kp-ent--{esc(row.status)}" data-key="{esc(row.key)}">'
            f"<td><strong>{esc(row.key)}</strong></td>"
            f"<td>{esc(source_label(row.source, lang))}</td><td>{esc(status)}</td>"
            f"<td>{esc(when(row.valid_until, lang))}</td><td>{payment}</td>"
            f"<td>{esc(row.note)}{actions}</td></tr>"
        )
    if not rows:
        return f"<p>{esc(dt_(lang, 'none'))}</p>"
    return (
        f'<div class="kp-desk-scroll"><table class="kp-desk-access"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def comp_form(pw: Paywall, member_id: int, lang: str) -> str:
    choices = key_choices(pw.manifest(), lang)
    select_ = "".join(
        f'<option value="{esc(k)}">{esc(label)} ({esc(k)})</option>' for k, label in choices
    )
    field = (
        f'<select name="key" required>{select_}</select>'
        if choices
        else '<input name="key" required placeholder="course:slug">'
    )
    return (
        f"<h2>{esc(dt_(lang, 'comp_title'))}</h2>"
        f'<form class="kp-desk-row kp-desk-comp" method="post" action="{BASE}{member_id}/comp">'
        f'<input type="hidden" name="lang" value="{esc(lang)}">'
        f"<label>{esc(dt_(lang, 'comp_key'))}{field}</label>"
        f'<label>{esc(dt_(lang, "comp_until"))}<input type="date" name="until"></label>'
        f'<label>{esc(dt_(lang, "comp_note"))}<input name="note" maxlength="500"></label>'
        f'<button type="submit" class="md-button md-button--primary">'
        f"{esc(dt_(lang, 'comp_button'))}</button></form>"
    )


def role_form(pw: Paywall, member: Member, lang: str) -> str:
    """The member's price role (`extra.paywall.roles`) and a form to change it."""
    manifest = pw.manifest()
    roles = manifest.roles if manifest is not None else {}
    if not roles and not member.role:
        return ""
    choices = [("", t(lang, "roles.desk_none"))] + [
        (name, f"{role.title_in(lang)} ({name})") for name, role in sorted(roles.items())
    ]
    if member.role and member.role not in roles:  # a role the current build no longer has
        choices.append((member.role, member.role))
    items = "".join(
        f'<option value="{esc(value)}"{" selected" if value == (member.role or "") else ""}>'
        f"{esc(label)}</option>"
        for value, label in choices
    )
    return (
        f'<form class="kp-desk-row kp-desk-role" method="post" action="{BASE}{member.id}/role">'
        f'<input type="hidden" name="lang" value="{esc(lang)}">'
        f'<label>{esc(t(lang, "roles.desk_label"))}<select name="role">{items}</select></label>'
        f'<button type="submit" class="md-button">{esc(t(lang, "roles.desk_button"))}</button>'
        "</form>"
    )


def action_forms(member_id: int, lang: str) -> str:
    forms = []
    for path, label in (("login-link", "send_link"), ("sign-out", "sign_out")):
        forms.append(
            f'<form method="post" action="{BASE}{member_id}/{path}" style="display:inline">'
            f'<input type="hidden" name="lang" value="{esc(lang)}">'
            f'<button type="submit" class="md-button">{esc(dt_(lang, label))}</button></form> '
        )
    return f"<h2>{esc(dt_(lang, 'actions'))}</h2><p>{''.join(forms)}</p>"


def growth_part(pw: Paywall, member_id: int, lang: str) -> str:
    """Who invited the member, how many they invited, and their partner (if any)."""
    with pw.sessions() as db:
        invited_by = db.scalar(
            select(Member)
            .join(Referral, Referral.referrer_id == Member.id)
            .where(Referral.member_id == member_id)
        )
        invites = len(
            db.scalars(select(Referral.id).where(Referral.referrer_id == member_id)).all()
        )
        partner = db.scalar(
            select(Partner)
            .join(PartnerMember, PartnerMember.partner_id == Partner.id)
            .where(PartnerMember.member_id == member_id)
        )
        lines = []
        if invited_by is not None:
            link = (
                f'<a href="{BASE}{invited_by.id}/?{lang_query(lang)}">{esc(invited_by.email)}</a>'
            )
            lines.append(esc(dt_(lang, "invited_by", email="\x00")).replace("\x00", link))
        if invites:
            lines.append(esc(dt_(lang, "invites", count=invites)))
        if partner is not None:
            lines.append(esc(dt_(lang, "partner", name=f"{partner.name} ({partner.ref_code})")))
    body = "".join(f"<li>{line}</li>" for line in lines)
    content = f"<ul>{body}</ul>" if lines else f"<p>{esc(dt_(lang, 'no_growth'))}</p>"
    return f"<h2>{esc(dt_(lang, 'growth_title'))}</h2>{content}"


def trail_table(profile: Profile, lang: str) -> str:
    head = "".join(
        f"<th>{esc(dt_(lang, k))}</th>"
        for k in ("th_when", "th_who", "th_what", "th_key", "th_detail")
    )
    rows = "".join(
        f'<tr class="kp-audit kp-audit--{esc(line.action)}"><td>{esc(when(line.at, lang))}</td>'
        f"<td>{esc(line.actor)}</td><td>{esc(line.action)}</td>"
        f"<td>{esc(line.key or '')} {esc(line.source or '')}</td><td>{esc(line.detail)}</td></tr>"
        for line in profile.trail
    )
    return (
        f'<h2>{esc(dt_(lang, "trail_title"))}</h2><div class="kp-desk-scroll">'
        f'<table class="kp-desk-trail"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>'
        "</table></div>"
    )


def profile_body(pw: Paywall, request: Request, profile: Profile, lang: str) -> str:
    member = profile.member
    facts = [
        dt_(lang, "joined", date=format_date(member.created_at.date(), lang)),
        dt_(lang, "confirmed" if member.confirmed_at else "unconfirmed"),
        dt_(lang, "sessions", count=profile.live_sessions),
        f"lang={member.lang}",
    ]
    if member.role:
        facts.append(f"{t(lang, 'roles.desk_label')}: {member.role}")
    if member.deleted_at is not None:
        facts.insert(0, dt_(lang, "deleted"))
    parts = [
        f'<p><a href="{BASE}?{lang_query(lang)}">← {esc(dt_(lang, "back"))}</a></p>',
        notice(request, lang),
        f"<p>{esc(' · '.join(facts))}</p>",
    ]
    if member.flagged:
        parts.append(
            f'<p class="kp-error">{esc(dt_(lang, "flag_note", reason=member.flagged))}</p>'
        )
    if member.stripe_customer_id:
        link = dashboard_url(pw, "customers", member.stripe_customer_id)
        parts.append(
            f"<p>{esc(dt_(lang, 'stripe_customer'))}: "
            f'<a href="{esc(link)}" rel="noopener" target="_blank">'
            f"{esc(member.stripe_customer_id)}</a></p>"
        )
    else:
        parts.append(f"<p>{esc(dt_(lang, 'no_customer'))}</p>")
    parts += [
        f"<h2>{esc(dt_(lang, 'access_title'))}</h2>",
        access_table(pw, profile, lang),
    ]
    if member.deleted_at is None:
        parts += [
            comp_form(pw, member.id, lang),
            role_form(pw, member, lang),
            action_forms(member.id, lang),
        ]
    parts += [growth_part(pw, member.id, lang), trail_table(profile, lang)]
    return "".join(parts)


def _profile(pw: Paywall, member_id: int) -> Profile | None:
    with pw.sessions() as db:
        profile = member_profile(db, member_id, pw.now())
        if profile is not None:
            db.expunge_all()
        return profile


async def member_page(request: Request, pw: Paywall, admin: Member, lang: str) -> Response:
    profile = await run_db(pw, _profile, pw, member_id_of(request))
    if profile is None:
        body = f"<p>{esc(dt_(lang, 'not_found'))}</p>"
        response = page(pw, request, dt_(lang, "title"), body, lang)
        response.status_code = 404
        return response
    body = await run_db(pw, profile_body, pw, request, profile, lang)
    title = dt_(lang, "member_title", email=profile.member.email)
    return page(pw, request, title, body, lang)


# ---------------------------------------------------------------- actions


async def action_fields(request: Request, lang: str) -> tuple[dict[str, str], str]:
    fields = await read_fields(request)
    return fields, valid_lang(fields.get("lang")) or lang


def entitlement_field(fields: dict[str, str]) -> int:
    value = fields.get("entitlement", "")
    if not value.isdigit():
        raise BadInput("field 'entitlement' must be an entitlement id (digits)")
    return int(value)


async def comp_action(request: Request, pw: Paywall, admin: Member, lang: str) -> Response:
    fields, lang = await action_fields(request, lang)
    member_id = member_id_of(request)
    key = fields.get("key", "").strip()
    try:
        until = csv_io.parse_time(fields["until"], end_of_day=True) if fields.get("until") else None
    except ValueError as exc:
        return back_to(member_id, lang, error=str(exc))

    def work() -> str:
        with pw.sessions.begin() as db:
            comp(
                db,
                member_id,
                key,
                until=until,
                note=fields.get("note", "")[:500],
                now=pw.now(),
                actor=admin_actor(admin.email),
            )
        return key

    try:
        done = await run_db(pw, work)
    except (DeskError, InvalidKey) as exc:
        return back_to(member_id, lang, error=str(exc))
    return back_to(member_id, lang, done=dt_(lang, "done_comp", what=done))


async def end_action(request: Request, pw: Paywall, admin: Member, lang: str) -> Response:
    fields, lang = await action_fields(request, lang)
    member_id = member_id_of(request)
    entitlement = entitlement_field(fields)

    def work() -> str:
        with pw.sessions.begin() as db:
            row = end_access(
                db,
                member_id,
                entitlement,
                reason=f"ended from the members desk by {admin.email}",
                now=pw.now(),
                actor=admin_actor(admin.email),
            )
            return row.key

    try:
        key = await run_db(pw, work)
    except DeskError as exc:
        return back_to(member_id, lang, error=str(exc))
    return back_to(member_id, lang, done=dt_(lang, "done_end", what=key))


async def refund_action(request: Request, pw: Paywall, admin: Member, lang: str) -> Response:
    fields, lang = await action_fields(request, lang)
    member_id = member_id_of(request)
    entitlement = entitlement_field(fields)
    try:
        asked = await run_stripe(
            pw, refund_purchase, pw, member_id, entitlement, actor=admin_actor(admin.email)
        )
    except RefundError as exc:
        return back_to(member_id, lang, error=str(exc))
    return back_to(member_id, lang, done=dt_(lang, "done_refund", refund=asked.refund_id))


async def role_action(request: Request, pw: Paywall, admin: Member, lang: str) -> Response:
    """Set or clear the member's price role (audited `member_role`)."""
    fields, lang = await action_fields(request, lang)
    member_id = member_id_of(request)
    wanted = fields.get("role", "").strip()

    def work() -> str:
        with pw.sessions.begin() as db:
            member = db.get(Member, member_id)
            if member is None or member.deleted_at is not None:
                raise DeskError(f"no member #{member_id} to give a role to")
            role = checked_role(pw.manifest(), wanted) if wanted else None
            set_role(db, member, role, now=pw.now(), actor=admin_actor(admin.email))
            return role or "-"

    try:
        done = await run_db(pw, work)
    except (DeskError, UnknownRole) as exc:
        return back_to(member_id, lang, error=str(exc))
    return back_to(member_id, lang, done=t(lang, "roles.desk_done", role=done))


async def login_link_action(request: Request, pw: Paywall, admin: Member, lang: str) -> Response:
    _, lang = await action_fields(request, lang)
    member_id = member_id_of(request)

    def target() -> Member:
        with pw.sessions.begin() as db:
            member = db.get(Member, member_id)
            if member is None or member.deleted_at is not None:
                raise DeskError(f"no member #{member_id} to send a link to")
            record(
                db,
                LOGIN_LINK,
                now=pw.now(),
                actor=admin_actor(admin.email),
                member_id=member.id,
                detail="sign-in link sent from the members desk",
            )
            db.expunge(member)
            return member

    try:
        member = await run_db(pw, target)
    except DeskError as exc:
        return back_to(member_id, lang, error=str(exc))
    await run_db(pw, send_login_email, pw, member.email, "/account/", lang=member.lang)
    return back_to(member_id, lang, done=dt_(lang, "done_link", email=member.email))


async def sign_out_action(request: Request, pw: Paywall, admin: Member, lang: str) -> Response:
    _, lang = await action_fields(request, lang)
    member_id = member_id_of(request)

    def work() -> int:
        with pw.sessions.begin() as db:
            return sign_out_everywhere(pw, db, member_id, actor=admin_actor(admin.email))

    try:
        count = await run_db(pw, work)
    except DeskError as exc:
        return back_to(member_id, lang, error=str(exc))
    return back_to(member_id, lang, done=dt_(lang, "done_sign_out", count=count))


async def desk_redirect(request: Request) -> Response:
    return RedirectResponse(BASE, status_code=301)


MEMBER = BASE + "{member_id:int}/"
routes = [
    Route(BASE, admins_only(members_list), methods=["GET", "HEAD"]),
    Route("/admin/members", desk_redirect, methods=["GET", "HEAD"]),
    Route(BASE + "export.csv", admins_only(export_csv), methods=["GET"]),
    Route(IMPORT_PATH, admins_only(import_csv), methods=["POST"]),
    Route(MEMBER, admins_only(member_page), methods=["GET", "HEAD"]),
    Route(MEMBER + "comp", admins_only(comp_action), methods=["POST"]),
    Route(MEMBER + "end", admins_only(end_action), methods=["POST"]),
    Route(MEMBER + "refund", admins_only(refund_action), methods=["POST"]),
    Route(MEMBER + "login-link", admins_only(login_link_action), methods=["POST"]),
    Route(MEMBER + "role", admins_only(role_action), methods=["POST"]),
    Route(MEMBER + "sign-out", admins_only(sign_out_action), methods=["POST"]),
]
