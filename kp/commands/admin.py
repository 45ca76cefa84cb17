"""Admin commands: `kp db upgrade|current`, `kp members list|grant|revoke|export|import`,
`kp stripe sync`, `kp events list|replay`. Registered on the `kp` group by `kp.commands.serve`.

Every command reads the same settings as the server (environment / `.env`), brings the
schema up to date first (cheap when it already is), and writes an audit row for every grant
and revoke it makes (actor `cli`).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NotRequired, TypedDict

import click
from sqlalchemy import select

from kp_contract.manifest import Manifest
from kp_contract.settings import load_settings
from paywall.database.engine import database_url
from paywall.database.migrate import upgrade
from paywall.database.models import SOURCES, Member, StripeEvent
from paywall.members import csv_io
from paywall.members.entitlements import (
    InvalidKey,
    active_keys,
    grant,
    member_entitlements,
    revoke_all,
    validate_key,
)
from paywall.members.records import InvalidEmail, find_member, get_or_create_member
from paywall.members.roles import record_admin_roles
from paywall.runtime.context import Paywall, StripeNotConfigured

ACTOR = "cli"


class MemberRecord(TypedDict):
    """One member as `kp members list --json` prints it."""

    email: str
    created_at: str
    access: list[str]
    flagged: str | None
    stripe_customer_id: str | None
    entitlements: NotRequired[list[str]]  # with --all: every grant, also revoked and expired


@contextmanager
def paywall_context(*, migrate: bool = True) -> Iterator[Paywall]:
    """The runtime context a command works with (mail to the outbox or SMTP, as the server)."""
    from paywall.app import make_paywall

    settings = load_settings()
    pw = make_paywall(settings)
    try:
        if migrate:
            upgrade(settings, engine=pw.engine)
            record_admin_roles(pw)
        yield pw
    finally:
        pw.engine.dispose()


def _describe_db(pw: Paywall) -> str:
    url = database_url(pw.settings)
    return url.split("@", 1)[-1] if "@" in url else url  # never print credentials


# ---------------------------------------------------------------- kp db


@click.group("db")
def db_group() -> None:
    """Database schema (migrations)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Apply pending migrations (`kp serve` also does this on start)."""
    with paywall_context(migrate=False) as pw:
        reached = upgrade(pw.settings, revision, engine=pw.engine)
        click.echo(f"database {_describe_db(pw)} is at revision {reached}")


@db_group.command("current")
def db_current() -> None:
    """Show the revision the database is at."""
    from paywall.database.migrate import current_revision, head_revision

    with paywall_context(migrate=False) as pw:
        current = current_revision(pw.engine)
        note = "up to date" if current == head_revision() else f"head is {head_revision()}"
        click.echo(f"database {_describe_db(pw)}: revision {current or 'none'} ({note})")


# ---------------------------------------------------------------- kp members


@click.group("members")
def members_group() -> None:
    """List, grant, revoke, export and import members."""


@members_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per member.")
@click.option("--all", "show_all", is_flag=True, help="Also show revoked and expired access.")
def members_list(as_json: bool, show_all: bool) -> None:
    """Members with what they can read now (and flags such as disputes)."""
    with paywall_context() as pw, pw.sessions() as db:
        now = pw.now()
        members = db.scalars(select(Member).order_by(Member.created_at, Member.id)).all()
        for member in members:
            keys = sorted(active_keys(db, member.id, now))
            record: MemberRecord = {
                "email": member.email,
                "created_at": member.created_at.isoformat(),
                "access": keys,
                "flagged": member.flagged,
                "stripe_customer_id": member.stripe_customer_id,
            }
            if show_all:
                record["entitlements"] = [
                    f"{e.key} {e.source} {e.status}"
                    + (f" until {e.valid_until:%Y-%m-%d %H:%M} UTC" if e.valid_until else "")
                    for e in member_entitlements(db, member.id)
                ]
            if as_json:
                click.echo(json.dumps(record, ensure_ascii=False))
                continue
            line = f"{member.email}\t{member.created_at.date()}\t{', '.join(keys) or '-'}"
            if member.flagged:
                line += f"\tFLAGGED: {member.flagged}"
            click.echo(line)
            for entry in record.get("entitlements", []):
                click.echo(f"    {entry}")
        if not as_json:
            click.echo(f"{len(members)} member(s)", err=True)


def _checked_key(key: str, manifest: Manifest | None, force: bool) -> str:
    """A well-formed key that names a course or tier of the current build (unless --force)."""
    try:
        validate_key(key)
    except InvalidKey as exc:
        raise click.BadParameter(str(exc), param_hint="KEY") from None
    kind, _, name = key.partition(":")
    if force or kind not in ("course", "tier") or manifest is None:
        return key
    known = manifest.courses if kind == "course" else manifest.tiers
    if name not in known:
        choices = ", ".join(f"{kind}:{n}" for n in sorted(known)) or "none"
        raise click.BadParameter(
            f"{key!r} is not in the current build (known: {choices}); use --force to grant "
            "it anyway",
            param_hint="KEY",
        )
    return key


def _until(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return csv_io.parse_time(value, end_of_day=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--until") from None


@members_group.command("grant")
@click.argument("email")
@click.argument("key")
@click.option(
    "--until", help="Last day of access (YYYY-MM-DD, through that day UTC) or ISO date-time."
)
@click.option("--note", default="", help="Why (kept in the audit log).")
@click.option("--force", is_flag=True, help="Allow a course/tier the current build lacks.")
def members_grant(email: str, key: str, until: str | None, note: str, force: bool) -> None:
    """Give EMAIL complimentary access to KEY (course:<slug>, tier:<name>)."""
    with paywall_context() as pw:
        key = _checked_key(key, pw.manifest(), force)
        valid_until = _until(until)
        now = pw.now()
        if valid_until is not None and valid_until <= now:
            raise click.BadParameter(f"{until} is already in the past", param_hint="--until")
        with pw.sessions.begin() as db:
            try:
                member = get_or_create_member(db, email, now=now, source="cli")
            except InvalidEmail as exc:
                raise click.BadParameter(str(exc), param_hint="EMAIL") from None
            grant(
                db,
                member,
                key,
                "complimentary",
                now=now,
                actor=ACTOR,
                valid_until=valid_until,
                note=note or "granted from the command line",
            )
        ends = f" until {valid_until.isoformat()}" if valid_until else " with no end date"
        click.echo(f"granted {key} to {member.email}{ends}")


@members_group.command("revoke")
@click.argument("email")
@click.argument("key")
@click.option(
    "--source",
    type=click.Choice([*SOURCES, "all"]),
    default="all",
    show_default=True,
    help="Only revoke access of this origin.",
)
@click.option("--reason", default="revoked from the command line", help="Kept in the audit log.")
def members_revoke(email: str, key: str, source: str, reason: str) -> None:
    """End EMAIL's access to KEY now (all sources by default)."""
    with paywall_context() as pw, pw.sessions.begin() as db:
        member = find_member(db, email)
        if member is None:
            raise click.ClickException(f"no member with e-mail {email!r}")
        rows = [
            e
            for e in member_entitlements(db, member.id)
            if e.key == key and e.status in ("active", "pending") and source in ("all", e.source)
        ]
        if not rows:
            raise click.ClickException(f"{member.email} has no active {key} to revoke")
        count = revoke_all(db, rows, now=pw.now(), actor=ACTOR, reason=reason)
        click.echo(f"revoked {count} entitlement(s) to {key} from {member.email}")


@members_group.command("export")
@click.argument("destination", type=click.Path(dir_okay=False, allow_dash=True), default="-")
def members_export(destination: str) -> None:
    """Write all members and entitlements as CSV (to DESTINATION or stdout)."""
    with paywall_context() as pw, pw.sessions() as db:
        if destination == "-":
            count = csv_io.export_members(db, sys.stdout)
        else:
            with Path(destination).open("w", encoding="utf-8", newline="") as out:
                count = csv_io.export_members(db, out)
    click.echo(f"exported {count} row(s)", err=True)


@members_group.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Check the file and report, change nothing.")
def members_import(source: str, dry_run: bool) -> None:
    """Import members from CSV (this tool's export, or a Ghost members export).

    All or nothing: any bad row stops the import and every problem is listed.
    """
    try:
        if source == "-":
            rows, ignored = csv_io.parse_rows(sys.stdin)
        else:
            with Path(source).open(encoding="utf-8-sig", newline="") as handle:
                rows, ignored = csv_io.parse_rows(handle)
    except csv_io.CsvImportError as exc:
        raise click.ClickException(
            f"{source}: nothing imported\n" + "\n".join(exc.errors)
        ) from None
    with paywall_context() as pw:
        db = pw.sessions()
        try:
            manifest = pw.manifest()
            report = csv_io.import_rows(
                db,
                rows,
                now=pw.now(),
                actor=f"{ACTOR}:import",
                roles=manifest.roles if manifest is not None else None,
            )
            report.ignored_columns = ignored
            if dry_run:
                db.rollback()
            else:
                db.commit()
        except csv_io.CsvImportError as exc:
            db.rollback()
            raise click.ClickException(
                f"{source}: nothing imported\n" + "\n".join(exc.errors)
            ) from None
        finally:
            db.close()
    click.echo(("dry run, nothing changed: " if dry_run else "imported: ") + str(report))


# ---------------------------------------------------------------- kp stripe


@click.group("stripe")
def stripe_group() -> None:
    """Stripe catalog."""


@stripe_group.command("sync")
@click.option("--dry-run", is_flag=True, help="Report what would change, change nothing.")
def stripe_sync(dry_run: bool) -> None:
    """Create or update Products and Prices from the build (idempotent, by lookup key)."""
    from paywall.billing.stripe_sync import SyncError, sync_catalog

    with paywall_context(migrate=False) as pw:
        manifest = pw.manifest()
        if manifest is None:
            raise click.ClickException(
                f"no build found ({pw.settings.manifest_path} is missing): run `kp build` first"
            )
        try:
            lines = sync_catalog(pw.stripe(), manifest, dry_run=dry_run)
        except StripeNotConfigured:
            raise click.ClickException(
                "STRIPE_SECRET_KEY is not set (use a test key: sk_test_…)"
            ) from None
        except SyncError as exc:
            raise click.ClickException(str(exc)) from None
    for line in lines:
        click.echo(str(line))
    changed = sum(1 for line in lines if line.action not in ("unchanged", "checked"))
    click.echo(f"{len(lines)} object(s), {changed} {'to change' if dry_run else 'changed'}")


# ---------------------------------------------------------------- kp events


@click.group("events")
def events_group() -> None:
    """Stripe webhook events received."""


@events_group.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--type", "type_", help="Only this event type (e.g. charge.refunded).")
@click.option("--pending", is_flag=True, help="Only events that failed and are not applied yet.")
def events_list(limit: int, type_: str | None, pending: bool) -> None:
    """Events that failed and wait for Stripe's retry (pending) first, then the most recent
    applied ones with what processing did. (A failure of the database itself cannot be
    written down: Stripe's dashboard shows those deliveries.)"""
    from paywall.billing.failed_deliveries import pending_events

    with paywall_context() as pw, pw.sessions() as db:
        for failed in pending_events(db, limit, type_):
            when = dt.datetime.fromtimestamp(failed.created, dt.UTC).isoformat()
            last = failed.last_failed_at.isoformat(timespec="seconds")
            tries = f"{failed.attempts} failed attempt{'s' if failed.attempts != 1 else ''}"
            state = f"pending: {tries}, last at {last}: {failed.reason}"
            click.echo(f"{failed.event_id}\t{failed.type}\t{when}\t{state}")
        if pending:
            return
        query = select(StripeEvent).order_by(StripeEvent.received_at.desc()).limit(limit)
        if type_:
            query = query.where(StripeEvent.type == type_)
        for event in db.scalars(query):
            when = dt.datetime.fromtimestamp(event.created, dt.UTC).isoformat()
            click.echo(f"{event.id}\t{event.type}\t{when}\t{event.outcome}")


@events_group.command("replay")
@click.argument("event_id")
def events_replay(event_id: str) -> None:
    """Process EVENT_ID again (stored payload, or fetched from Stripe if never received)."""
    from paywall.billing.webhooks import replay_event

    with paywall_context() as pw:
        try:
            result = replay_event(pw, event_id)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{result.event_id} {result.type}: {result.outcome}")


def register(group: click.Group) -> None:
    """Attach `db`, `members`, `stripe` and `events` to the `kp` group."""
    for command in (db_group, members_group, stripe_group, events_group):
        group.add_command(command)
