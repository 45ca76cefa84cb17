"""`kp members role EMAIL ROLE` / `kp members role EMAIL --clear`: the prices a member pays
(a role of `extra.paywall.roles` in the build: a distributor's or a local opinion leader's
price). Audited (`member_role`, actor `cli`)."""

from __future__ import annotations

import click

from kp.commands.admin import ACTOR, members_group, paywall_context
from paywall.members.price_roles import UnknownRole, checked_role, set_role
from paywall.members.records import find_member


@members_group.command("role")
@click.argument("email")
@click.argument("role", required=False)
@click.option("--clear", is_flag=True, help="Take the role away: everyone's prices again.")
def members_role(email: str, role: str | None, clear: bool) -> None:
    """Give EMAIL the price role ROLE (from extra.paywall.roles), or --clear it."""
    if clear == bool(role):
        raise click.UsageError("give a ROLE, or --clear (not both)")
    with paywall_context() as pw, pw.sessions.begin() as db:
        member = find_member(db, email)
        if member is None or member.deleted_at is not None:
            raise click.ClickException(f"no member with e-mail {email!r}")
        wanted = None
        if role:
            try:
                wanted = checked_role(pw.manifest(), role)
            except UnknownRole as exc:
                raise click.BadParameter(str(exc), param_hint="ROLE") from None
        before = member.role
        changed = set_role(db, member, wanted, now=pw.now(), actor=ACTOR)
        address = member.email
    if not changed:
        click.echo(f"{address} already has {'no role' if wanted is None else 'the role ' + wanted}")
    elif wanted is None:
        click.echo(f"{address} no longer has the role {before}: everyone's prices")
    else:
        click.echo(f"{address} now has the role {wanted}")


def register(group: click.Group) -> None:
    """Nothing to add to `group`: the command is on `kp members` once this module is imported."""
