"""`kp backup --out FILE` and `kp restore FILE [--force]` (paywall.database.backup): the
paywall's database, SQLite or PostgreSQL, to one file while `kp serve` keeps running, and
back into an empty database."""

from __future__ import annotations

from pathlib import Path

import click

from kp.commands.admin import _describe_db, paywall_context
from paywall.database.backup import BackupError, backup_database, restore_database
from paywall.database.migrate import upgrade


@click.command("backup")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The backup file to write (replaced once the copy is complete).",
)
def backup(out: Path) -> None:
    """Copy the whole database to FILE: consistent even while `kp serve` takes requests."""
    with paywall_context(migrate=False) as pw:
        try:
            result = backup_database(pw.engine, out)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"backed up {_describe_db(pw)} to {result.path} ({result.kind}, {result.size:,} bytes)"
        )


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that is not empty.")
def restore(source: Path, force: bool) -> None:
    """Restore a `kp backup` file into the (empty) database of KP_DATABASE_URL, then bring
    its schema up to date. Stop `kp serve` first."""
    with paywall_context(migrate=False) as pw:
        try:
            kind = restore_database(pw.engine, source, force=force)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from None
        revision = upgrade(pw.settings, engine=pw.engine)
        click.echo(f"restored {source} ({kind}) into {_describe_db(pw)}, at revision {revision}")


def register(group: click.Group) -> None:
    group.add_command(backup)
    group.add_command(restore)
