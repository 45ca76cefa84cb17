"""`kp certificates list [--course SLUG]` and `kp certificates revoke ID`: the certificates of
completion members claimed (tab-separated: id, course, name, issued, revoked or '-'). A
revoked certificate stays, and its public page says it was revoked."""

from __future__ import annotations

import click

from kp.commands.admin import paywall_context
from paywall.members.certificates import listing, revoke


@click.group("certificates")
def certificates_group() -> None:
    """Certificates of completion: list them, revoke one."""


@certificates_group.command("list")
@click.option("--course", help="Only this course's (its slug).")
def certificates_list(course: str | None) -> None:
    """Every certificate, oldest first."""
    with paywall_context() as pw, pw.sessions() as db:
        rows = listing(db, course)
    for row in rows:
        revoked = row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else "-"
        issued = row.issued_at.isoformat(timespec="seconds")
        click.echo("\t".join([row.id, row.course, row.name, issued, revoked]))


@certificates_group.command("revoke")
@click.argument("certificate_id")
def certificates_revoke(certificate_id: str) -> None:
    """Revoke a certificate: its page then says it is no longer valid."""
    with paywall_context() as pw, pw.sessions() as db:
        row = revoke(db, certificate_id, pw.now())
        if row is None:
            raise click.ClickException(f"no certificate with id {certificate_id!r}")
        db.commit()
        click.echo(f"revoked {row.id} ({row.course}, {row.name})")


def register(group: click.Group) -> None:
    group.add_command(certificates_group)
