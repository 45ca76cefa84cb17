"""`kp audit list [--email E] [--since D]`: the audit trail, oldest first, one line per row:
time, actor, action, member, key, source, detail (tab-separated; `--json`: one object a line).
"""

from __future__ import annotations

import json

import click

from kp.commands.admin import paywall_context
from paywall.members import csv_io
from paywall.members.audit import audit_lines
from paywall.members.records import find_member


@click.group("audit")
def audit_group() -> None:
    """The audit trail: grants, revokes, refunds, sign-ins, admin actions, data requests."""


@audit_group.command("list")
@click.option("--email", help="Only this member's rows.")
@click.option("--since", help="From this day (YYYY-MM-DD, UTC) or ISO date-time on.")
@click.option("--limit", type=click.IntRange(1), help="At most this many (the newest).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per row.")
def audit_list(email: str | None, since: str | None, limit: int | None, as_json: bool) -> None:
    """Every row of the audit trail (who did what, to whom, when), oldest first."""
    start = None
    if since is not None:
        try:
            start = csv_io.parse_time(since)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--since") from None
    with paywall_context() as pw, pw.sessions() as db:
        member_id = None
        if email is not None:
            member = find_member(db, email)
            if member is None:
                raise click.ClickException(f"no member with e-mail {email!r}")
            member_id = member.id
        lines = audit_lines(db, member_id=member_id, since=start, limit=limit, newest_first=True)
    for line in reversed(lines):
        if as_json:
            record = {
                "id": line.id,
                "at": line.at.isoformat(),
                "actor": line.actor,
                "action": line.action,
                "member": line.email,
                "key": line.key,
                "source": line.source,
                "detail": line.detail,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        fields = [
            line.at.isoformat(timespec="seconds"),
            line.actor,
            line.action,
            line.email or "-",
            line.key or "-",
            line.source or "-",
            line.detail,
        ]
        click.echo("\t".join(fields))
    if not as_json:
        click.echo(f"{len(lines)} row(s)", err=True)


def register(group: click.Group) -> None:
    group.add_command(audit_group)
