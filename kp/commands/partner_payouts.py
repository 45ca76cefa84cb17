"""`kp partners paid CODE|EMAIL --through YYYY-MM-DD`: the commission a partner (or a
member-seller, by their address) earned through that day has been paid out. /account/
shows a seller what is paid and what is pending; the ledger itself never changes."""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select

from kp.commands.admin import paywall_context
from kp.commands.growth import partners_group
from paywall.database.models import Partner
from paywall.growth.sellers import seller_of
from paywall.members.records import find_member


@partners_group.command("paid")
@click.argument("who")
@click.option("--through", required=True, help="Last day (UTC) of the commission paid out.")
def partners_paid(who: str, through: str) -> None:
    """Mark WHO's commission (a partner's CODE, or a seller's EMAIL) paid through a day."""
    try:
        day = dt.date.fromisoformat(through)
    except ValueError:
        raise click.BadParameter(f"{through!r} is not a date like 2026-11-30") from None
    until = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
    with paywall_context() as pw, pw.sessions.begin() as db:
        partner = db.scalar(select(Partner).where(Partner.promotion_code == who.strip().upper()))
        if partner is None and "@" in who:
            member = find_member(db, who)
            partner = seller_of(db, member.id) if member is not None else None
        if partner is None:
            raise click.ClickException(f"no partner with code {who!r} and no seller {who!r}")
        if partner.paid_through is not None and partner.paid_through >= until:
            last = partner.paid_through.date() - dt.timedelta(days=1)
            raise click.ClickException(f"{partner.name} is paid through {last} already")
        partner.paid_through = until
        name = partner.name
    click.echo(f"{name}: commission paid through {day.isoformat()}")


def register(group: click.Group) -> None:
    """Nothing to add: the command is on `kp partners` once this module is imported."""
