"""Growth commands: `kp partners add|list|report`, `kp stats`, `kp newsletter send [--lessons]`.

Registered on the `kp` group by `kp.commands.serve`. Like the admin commands they read the server's
settings (environment / `.env`) and bring the schema up to date first.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys

import click
import stripe

from kp.commands.admin import paywall_context
from kp_contract.money import plain_amount
from paywall.growth.funnel import FunnelRow, funnel, paying_members, rate, totals
from paywall.growth.lesson_mail import send_lessons
from paywall.growth.newsletter import NewsletterError, send_newsletter
from paywall.growth.partners import (
    PartnerError,
    ReportLine,
    check_new_partner,
    create_partner,
    list_partners,
    month_range,
    percent,
    report,
)
from paywall.growth.referrals import growth_of, site_root
from paywall.members.course_stats import completion_by_course
from paywall.runtime.context import StripeNotConfigured

# ---------------------------------------------------------------- kp partners


@click.group("partners")
def partners_group() -> None:
    """Partners: promotion codes with a discount, referral links and commissions."""


@partners_group.command("add")
@click.argument("name")
@click.option("--discount", required=True, help="Percent off for buyers using the code (20).")
@click.option("--commission", required=True, help="Percent of each sale owed (10).")
@click.option("--code", help="The promotion code buyers type (default: from NAME + discount).")
def partners_add(name: str, discount: str, commission: str, code: str | None) -> None:
    """Create the Stripe coupon + promotion code and the partner record."""
    with paywall_context() as pw:
        try:
            with pw.sessions() as db:
                new = check_new_partner(db, name, discount, commission, code)
            partner = create_partner(pw, new)
        except PartnerError as exc:
            raise click.ClickException(str(exc)) from None
        except StripeNotConfigured:
            raise click.ClickException(
                "STRIPE_SECRET_KEY is not set: the promotion code is created in Stripe"
            ) from None
        except stripe.StripeError as exc:
            raise click.ClickException(f"Stripe refused: {exc.user_message or exc}") from None
        click.echo(
            f"partner {partner.name!r}: code {partner.promotion_code} "
            f"({percent(partner.discount_bp)} off, coupon {partner.coupon_id}, "
            f"promotion code {partner.promotion_code_id}), commission "
            f"{percent(partner.commission_bp)}\n"
            f"referral link: {site_root(pw)}/?ref={partner.ref_code}"
        )


@partners_group.command("list")
def partners_list() -> None:
    """Every partner with their code, discount, commission and link."""
    with paywall_context() as pw, pw.sessions() as db:
        partners = list_partners(db)
        if not partners:
            click.echo("no partners yet (kp partners add NAME --discount 20 --commission 10)")
            return
        for p in partners:
            state = "" if p.active else "  (inactive)"
            click.echo(
                f"{p.name}\t{p.promotion_code}\t{percent(p.discount_bp)} off\t"
                f"commission {percent(p.commission_bp)}\t{site_root(pw)}/?ref={p.ref_code}{state}"
            )


REPORT_COLUMNS = (
    "partner",
    "code",
    "commission_rate",
    "currency",
    "sales",
    "gross",
    "discounts",
    "net_sales",
    "commission",
    "refunds",
    "refunded",
    "commission_reversed",
    "commission_owed",
)


def _report_row(line: ReportLine) -> list[str]:
    cur = line.currency or "-"
    amount = (lambda v: plain_amount(v, line.currency)) if line.currency else str
    return [
        line.partner,
        line.code,
        line.commission_rate,
        cur.upper(),
        str(line.sales),
        amount(line.gross),
        amount(line.discounts),
        amount(line.net),
        amount(line.commission),
        str(line.refunds),
        amount(line.refunded_amount),
        amount(line.commission_reversed),
        amount(line.owed),
    ]


@partners_group.command("report")
@click.option("--month", help="Only entries booked in this month (YYYY-MM); default: all time.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV for a spreadsheet or the accountant.")
def partners_report(month: str | None, as_csv: bool) -> None:
    """Sales, discounts, commission owed per partner, refunds deducted."""
    try:
        start, end = month_range(month) if month else (None, None)
    except PartnerError as exc:
        raise click.ClickException(str(exc)) from None
    with paywall_context() as pw, pw.sessions() as db:
        lines = report(db, start=start, end=end)
    rows = [_report_row(line) for line in lines]
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(REPORT_COLUMNS)
        writer.writerows(rows)
        return
    period = month or "all time"
    if not rows:
        click.echo(f"partners report ({period}): no partners yet")
        return
    click.echo(f"partners report ({period}); amounts in major units, refunds deducted")
    _table(list(REPORT_COLUMNS), rows)


# ---------------------------------------------------------------- kp stats


@click.command("stats")
@click.option("--days", type=click.IntRange(1, 36500), help="Only the last N days.")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 100000))
@click.option(
    "--courses",
    is_flag=True,
    help="Per course instead: students, started, half done, finished, certificates.",
)
def stats(days: int | None, limit: int, courses: bool) -> None:
    """Per page: views → CTA clicks → sign-ups → purchases, and paying members against the
    true-fans goal; with --courses, completion per course."""
    if courses:
        _course_stats()
        return
    with paywall_context() as pw, pw.sessions() as db:
        now = pw.now()
        growth = growth_of(pw.manifest())
        since = now.date() - dt.timedelta(days=days - 1) if days else None
        rows = funnel(db, {a.url: a.title for a in growth.articles}, since)
        paying = paying_members(db, now)
    window = f"last {days} days" if days else "all time"
    click.echo(f"funnel per page ({window}; each rate is of the step before)")
    shown = rows[:limit]
    table = [_stats_row(r) for r in [*shown, totals(rows)]]
    headers = ["page", "views", "cta clicks", "sign-ups", "purchases", "views→purchase"]
    _table(headers, table)
    if len(rows) > limit:
        click.echo(f"({len(rows) - limit} more pages; --limit to show them)")
    goal = growth.true_fans_goal
    click.echo(
        f"paying members: {paying} of {goal} true fans ({rate(paying, goal)}); "
        f"{max(0, goal - paying)} to go"
    )


def _course_stats() -> None:
    with paywall_context() as pw, pw.sessions() as db:
        rows = completion_by_course(db, pw.manifest())
    if not rows:
        click.echo("no courses in the build (run `kp build`)")
        return
    click.echo(
        "completion per course (students hold or held access; each share is of the students)"
    )
    headers = ["course", "lessons", "students", "started", "half done", "finished", "certificates"]
    table = [
        [
            f"{c.title} ({c.slug})",
            str(c.lessons),
            str(c.students),
            *(
                f"{n} ({rate(n, c.students)})"
                for n in (c.started, c.half, c.finished, c.certificates)
            ),
        ]
        for c in rows
    ]
    _table(headers, table)


def _stats_row(row: FunnelRow) -> list[str]:
    label = row.path if row.title == row.path else f"{row.title} ({row.path})"
    return [
        label,
        str(row.views),
        f"{row.cta} ({rate(row.cta, row.views)})",
        f"{row.signups} ({rate(row.signups, row.cta)})",
        f"{row.purchases} ({rate(row.purchases, row.signups)})",
        rate(row.purchases, row.views),
    ]


# ---------------------------------------------------------------- kp newsletter


@click.group("newsletter")
def newsletter_group() -> None:
    """E-mail new free articles to members who opted in."""


@newsletter_group.command("send")
@click.option("--dry-run", is_flag=True, help="Show who would get which articles; send nothing.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Articles published on or after this date (YYYY-MM-DD).",
)
@click.option("--days", type=int, help="Articles of the last N days (default 30).")
@click.option(
    "--lessons",
    is_flag=True,
    help="Send new paid lessons instead, each in full, only to members who may read it "
    "(a dripped lesson once it opens for them).",
)
def newsletter_send(
    dry_run: bool, since: dt.datetime | None, days: int | None, lessons: bool
) -> None:
    """One message per member listing the new articles they were not sent yet; with
    --lessons, one message per new paid lesson to each member entitled to it."""
    if lessons:
        _send_lessons(dry_run, since.date() if since else None, days)
        return
    with paywall_context() as pw:
        try:
            result = send_newsletter(
                pw, dry_run=dry_run, since=since.date() if since else None, days=days
            )
        except NewsletterError as exc:
            raise click.ClickException(str(exc)) from None
    if dry_run:
        for d in result.planned:
            titles = "; ".join(a.title for a in d.articles)
            click.echo(
                f"would send to {d.email} ({d.lang}): {len(d.articles)} article(s): {titles}"
            )
        click.echo(f"dry run: {len(result.planned)} message(s) would be sent, none sent")
        return
    for d in result.sent:
        click.echo(f"sent to {d.email}: {len(d.articles)} article(s)")
    for d, error in result.failed:
        click.echo(f"FAILED {d.email}: {error}", err=True)
    click.echo(f"{len(result.sent)} message(s) sent, {len(result.failed)} failed")
    if result.failed:
        sys.exit(1)


def _send_lessons(dry_run: bool, since: dt.date | None, days: int | None) -> None:
    with paywall_context() as pw:
        try:
            result = send_lessons(pw, dry_run=dry_run, since=since, days=days)
        except NewsletterError as exc:
            raise click.ClickException(str(exc)) from None
    if dry_run:
        for d in result.planned:
            click.echo(
                f"would send to {d.email} ({d.lang}): lesson {d.lesson.title} ({d.lesson.url})"
            )
        click.echo(f"dry run: {len(result.planned)} lesson e-mail(s) would be sent, none sent")
        return
    for d in result.sent:
        click.echo(f"sent to {d.email}: lesson {d.lesson.title} ({d.lesson.url})")
    for d, error in result.failed:
        click.echo(f"FAILED {d.email}, lesson {d.lesson.url}: {error}", err=True)
    click.echo(f"{len(result.sent)} lesson e-mail(s) sent, {len(result.failed)} failed")
    if result.failed:
        sys.exit(1)


# ---------------------------------------------------------------- output


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    for line in [headers, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=False)).rstrip())


def register(group: click.Group) -> None:
    """Attach `partners`, `stats` and `newsletter` to the `kp` group."""
    group.add_command(partners_group)
    group.add_command(stats)
    group.add_command(newsletter_group)
