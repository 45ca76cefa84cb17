"""`kp members delete EMAIL [--yes]`: the creator's side of a member's right to erasure,
the same as "Delete my account" on /account/ (paywall.billing.account_deletion): live
subscriptions cancelled in Stripe, access ended, signed out everywhere, personal data erased,
purchase records kept without the person; audited with actor `cli`."""

from __future__ import annotations

import click

from kp.commands.admin import ACTOR, members_group, paywall_context
from paywall.billing.account_deletion import DeletionError, delete_account
from paywall.members.records import find_member


@members_group.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def members_delete(email: str, yes: bool) -> None:
    """Delete EMAIL's account: access ended, personal data erased, payments kept."""
    with paywall_context() as pw:
        with pw.sessions() as db:
            member = find_member(db, email)
            if member is None or member.deleted_at is not None:
                raise click.ClickException(f"no member with e-mail {email!r}")
            member_id, address = member.id, member.email
        if not yes:
            click.confirm(
                f"Delete {address}'s account (access ends, personal data is erased)?",
                abort=True,
            )
        try:
            erasure = delete_account(pw, member_id, actor=ACTOR)
        except DeletionError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"deleted the account of {address} (member #{member_id}): {erasure.revoked} "
        f"access(es) ended, {erasure.sessions} session(s) signed out, "
        f"{erasure.events_scrubbed} stored Stripe event(s) scrubbed"
    )


def register(group: click.Group) -> None:
    """Nothing to add to `group`: the command is on `kp members` once this module is imported."""
