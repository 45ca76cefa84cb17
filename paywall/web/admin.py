"""`/admin/`: the growth dashboard for the site's admins (`KP_ADMIN_EMAILS`).

The same numbers as `kp stats` (funnel per page, paying members against the true-fans goal)
and `kp stats --courses` (completion per course), plus page views per day and this month's
partner commissions, drawn as inline SVG bar charts
in the site's own page shell: no scripts, no external assets, nothing to load from elsewhere.
Anyone else gets the sign-in form (signed out, 401) or "admins only" (signed in, 403).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kp_contract.money import plain_amount
from paywall.database.models import Member
from paywall.growth.funnel import FunnelRow, daily_views, funnel, paying_members, rate, totals
from paywall.growth.partners import ReportLine, month_range, report
from paywall.growth.referrals import growth_of
from paywall.growth.texts import gt
from paywall.members.course_stats import CourseCompletion, completion_by_course
from paywall.members.sign_in import current_member
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db
from paywall.runtime.lang import preferred_lang, t, valid_lang
from paywall.runtime.pages import esc, render_page
from paywall.web.sign_in_routes import sign_in_form

CHART_ROWS = 12
DAYS = 30
COLORS = {"views": "#7e57c2", "cta": "#ffb300", "signups": "#26a69a", "purchases": "#ef5350"}


def is_admin(pw: Paywall, member: Member | None) -> bool:
    return member is not None and member.email.lower() in pw.settings.admin_email_list


@dataclass(frozen=True)
class Dashboard:
    rows: list[FunnelRow]
    total: FunnelRow
    paying: int
    goal: int
    daily: list[tuple[dt.date, int]]
    month: str
    partners: list[ReportLine]
    courses: list[CourseCompletion]


def load_dashboard(pw: Paywall) -> Dashboard:
    manifest = pw.manifest()
    growth = growth_of(manifest)
    titles = {a.url: a.title for a in growth.articles}
    now = pw.now()
    month = now.strftime("%Y-%m")
    start, end = month_range(month)
    with pw.sessions() as db:
        rows = funnel(db, titles)
        return Dashboard(
            rows=rows,
            total=totals(rows),
            paying=paying_members(db, now),
            goal=growth.true_fans_goal,
            daily=daily_views(db, now.date(), DAYS),
            month=month,
            partners=[line for line in report(db, start=start, end=end) if line.currency],
            courses=completion_by_course(db, manifest),
        )


# ---------------------------------------------------------------- charts (inline SVG)


def _label(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def funnel_chart(rows: list[FunnelRow], lang: str) -> str:
    """Per page, four bars (views, CTA clicks, sign-ups, purchases) on one scale."""
    shown = rows[:CHART_ROWS]
    if not shown:
        return ""
    peak = max(max(r.views, r.cta, r.signups, r.purchases) for r in shown) or 1
    label_w, bar_w, bar_h, gap = 230, 360, 7, 10
    group_h = 4 * (bar_h + 1) + gap
    height = 30 + group_h * len(shown)
    parts = [
        f'<svg class="kp-chart" role="img" viewBox="0 0 {label_w + bar_w + 60} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg" font-size="11" '
        f'aria-label="{esc(gt(lang, "admin_funnel"))}">'
    ]
    legend_x = label_w
    for metric in ("views", "cta", "signups", "purchases"):
        name = gt(lang, f"col_{metric}")
        parts.append(
            f'<rect x="{legend_x}" y="4" width="10" height="10" fill="{COLORS[metric]}"/>'
            f'<text x="{legend_x + 14}" y="13">{esc(name)}</text>'
        )
        legend_x += 16 + 7 * len(name) + 12
    for i, row in enumerate(shown):
        top = 26 + i * group_h
        parts.append(
            f'<text x="0" y="{top + 2 * bar_h}"><title>{esc(row.path)}</title>'
            f"{esc(_label(row.title))}</text>"
        )
        values = (row.views, row.cta, row.signups, row.purchases)
        for j, (metric, value) in enumerate(zip(COLORS, values, strict=True)):
            y = top + j * (bar_h + 1)
            width = round(bar_w * value / peak, 1)
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{width}" height="{bar_h}" '
                f'fill="{COLORS[metric]}"><title>{esc(gt(lang, f"col_{metric}"))}: {value}'
                f'</title></rect><text x="{label_w + width + 4}" y="{y + bar_h}" '
                f'font-size="8">{value}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def daily_chart(daily: list[tuple[dt.date, int]], lang: str) -> str:
    """Page views per day, one column per day."""
    peak = max((v for _, v in daily), default=0) or 1
    col_w, chart_h = 18, 120
    width = col_w * len(daily) + 10
    parts = [
        f'<svg class="kp-chart" role="img" viewBox="0 0 {width} {chart_h + 30}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="9" '
        f'aria-label="{esc(gt(lang, "admin_daily", days=len(daily)))}">'
    ]
    for i, (day, value) in enumerate(daily):
        h = round(chart_h * value / peak, 1)
        x = 5 + i * col_w
        parts.append(
            f'<rect x="{x}" y="{chart_h - h + 5}" width="{col_w - 4}" height="{h}" '
            f'fill="{COLORS["views"]}"><title>{day.isoformat()}: {value}</title></rect>'
        )
        if i % 7 == 0 or i == len(daily) - 1:
            parts.append(f'<text x="{x}" y="{chart_h + 20}">{day.strftime("%m-%d")}</text>')
    parts.append("</svg>")
    return "".join(parts)


def fans_chart(paying: int, goal: int) -> str:
    """Progress toward the true-fans goal as one bar."""
    share = min(1.0, paying / goal) if goal else 0.0
    return (
        '<svg class="kp-chart" role="img" viewBox="0 0 400 24" width="100%" '
        'xmlns="http://www.w3.org/2000/svg" font-size="11" '
        f'aria-label="{paying}/{goal}">'
        '<rect x="0" y="4" width="400" height="16" fill="#e0e0e0" rx="3"/>'
        f'<rect x="0" y="4" width="{round(400 * share, 1)}" height="16" '
        f'fill="{COLORS["purchases"]}" rx="3"/>'
        f'<text x="6" y="16">{paying} / {goal}</text></svg>'
    )


# ---------------------------------------------------------------- the page


def funnel_table(rows: list[FunnelRow], total: FunnelRow, lang: str) -> str:
    head = "".join(
        f"<th>{esc(gt(lang, key))}</th>"
        for key in ("col_page", "col_views", "col_cta", "col_signups", "col_purchases")
    )
    body = []
    for row in [*rows, total]:
        page = (
            esc(row.title)
            if row.title == row.path
            else f"{esc(row.title)}<br><small>{esc(row.path)}</small>"
        )
        body.append(
            f"<tr><td>{page}</td><td>{row.views}</td>"
            f"<td>{row.cta} <small>({rate(row.cta, row.views)})</small></td>"
            f"<td>{row.signups} <small>({rate(row.signups, row.cta)})</small></td>"
            f"<td>{row.purchases} <small>({rate(row.purchases, row.signups)})</small></td>"
            f"<td>{rate(row.purchases, row.views)}</td></tr>"
        )
    return (
        f'<table class="kp-admin-funnel"><thead><tr>{head}'
        f"<th>{esc(gt(lang, 'col_overall'))}</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def partners_table(lines: list[ReportLine], lang: str) -> str:
    if not lines:
        return f"<p>{esc(gt(lang, 'admin_no_data'))}</p>"
    head = "".join(
        f"<th>{esc(gt(lang, k))}</th>" for k in ("col_partner", "col_sales", "col_net", "col_owed")
    )
    body = "".join(
        f"<tr><td>{esc(ln.partner)} <small>{esc(ln.code)}</small></td><td>{ln.sales}</td>"
        f"<td>{plain_amount(ln.net, ln.currency)} {esc(ln.currency.upper())}</td>"
        f"<td>{plain_amount(ln.owed, ln.currency)} {esc(ln.currency.upper())}</td></tr>"
        for ln in lines
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


COURSE_COLUMNS = ("col_started", "col_half", "col_finished", "col_certificates")


def courses_table(courses: list[CourseCompletion], lang: str) -> str:
    """Per course: students, then how many started, got half way, finished and hold a
    certificate, each with its share of the students."""
    if not courses:
        return f"<p>{esc(gt(lang, 'admin_no_data'))}</p>"
    keys = ("col_course", "col_students", *COURSE_COLUMNS)
    head = "".join(f"<th>{esc(gt(lang, key))}</th>" for key in keys)
    body = []
    for c in courses:
        cells = "".join(
            f"<td>{n} <small>({rate(n, c.students)})</small></td>"
            for n in (c.started, c.half, c.finished, c.certificates)
        )
        body.append(
            f'<tr data-kp-course="{esc(c.slug)}"><td>{esc(c.title)}</td>'
            f"<td>{c.students}</td>{cells}</tr>"
        )
    return (
        f'<table class="kp-admin-courses"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f"<p><small>{esc(gt(lang, 'admin_courses_note'))}</small></p>"
    )


def dashboard_body(board: Dashboard, lang: str) -> str:
    fans = gt(
        lang,
        "admin_true_fans",
        count=board.paying,
        goal=board.goal,
        percent=rate(board.paying, board.goal),
    )
    parts = [
        f"<p><strong>{esc(fans)}</strong></p>",
        fans_chart(board.paying, board.goal),
        f"<h2>{esc(gt(lang, 'admin_funnel'))}</h2>",
    ]
    if board.rows:
        parts += [funnel_chart(board.rows, lang), funnel_table(board.rows, board.total, lang)]
    else:
        parts.append(f"<p>{esc(gt(lang, 'admin_no_data'))}</p>")
    parts += [
        f"<h2>{esc(gt(lang, 'admin_daily', days=len(board.daily)))}</h2>",
        daily_chart(board.daily, lang),
        f"<h2>{esc(gt(lang, 'admin_courses'))}</h2>",
        courses_table(board.courses, lang),
        f"<h2>{esc(gt(lang, 'admin_partners', month=board.month))}</h2>",
        partners_table(board.partners, lang),
    ]
    return "".join(parts)


async def admin(request: Request) -> Response:
    pw: Paywall = request.app.state.paywall
    member = await run_db(pw, current_member, request)
    lang = preferred_lang(pw, request, request.query_params.get("lang"), member=member)
    if member is None:
        body = f"<p>{esc(gt(lang, 'admin_sign_in'))}</p>" + sign_in_form(
            "/admin/", source="/admin/", lang=lang
        )
        response = render_page(pw, request, t(lang, "sign_in.title"), body, lang, 401)
    elif not is_admin(pw, member):
        body = f"<p>{esc(gt(lang, 'admin_denied', email=member.email))}</p>"
        response = render_page(pw, request, gt(lang, "admin_denied_title"), body, lang, 403)
    else:
        lang = valid_lang(request.query_params.get("lang")) or lang
        board = await run_db(pw, load_dashboard, pw)
        response = render_page(
            pw, request, gt(lang, "admin_title"), dashboard_body(board, lang), lang
        )
    response.headers["Vary"] = "Cookie"
    return response


async def admin_redirect(request: Request) -> Response:
    return RedirectResponse("/admin/", status_code=301)


routes = [
    Route("/admin/", admin, methods=["GET", "HEAD"]),
    Route("/admin", admin_redirect, methods=["GET", "HEAD"]),
]
