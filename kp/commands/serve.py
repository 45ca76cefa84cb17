"""`kp serve` (and, from `kp.commands.admin`, `kp db|members|stripe|events`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click
import uvicorn

from kp_contract.public_url import normalize_public_url, same_public_url
from kp_contract.settings import Settings, load_settings
from paywall.database.engine import database_url
from paywall.runtime.logs import configure_logging

if TYPE_CHECKING:
    from kp.serve_watch import ServerOptions


def default_base_url(host: str, port: int) -> str:
    """The public URL of a site served here that was built without one (KP_BASE_URL unset,
    no site_url), and of `kp serve --watch` without KP_BASE_URL."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def is_loopback(url: str) -> bool:
    """Whether `url` names this machine (a site on a laptop, not behind a proxy)."""
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def settings_from_environment() -> Settings:
    """The settings, or one line per unusable one (which variable, why) instead of
    pydantic's traceback; values are not repeated (one may be a secret)."""
    from pydantic import ValidationError

    try:
        return load_settings()
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc'])}: "
            + str(error["msg"]).removeprefix("Value error, ")
            for error in exc.errors()
        ]
        raise click.ClickException("invalid settings:\n  " + "\n  ".join(problems)) from None


def built_site_url(settings: Settings) -> str:
    """The public URL the served site was built for (its manifest's `site_url`), or '' when
    nothing is built yet or the build had none."""
    from kp_contract.manifest import read_manifest

    path = settings.manifest_path
    if not path.is_file():
        return ""
    try:
        return read_manifest(path).site_url
    except (OSError, ValueError) as exc:  # (pydantic's ValidationError is a ValueError)
        first = str(exc).strip().splitlines()[0]
        raise click.ClickException(f"cannot read {path}: {first}; run `kp build`") from exc


def serving_base_url(settings: Settings, host: str, port: int, *, watch: bool) -> str:
    """The one public URL to serve with (kp_contract.public_url). KP_BASE_URL when set, and
    then the built site must have been built for it (else `click.ClickException` saying
    which command rebuilds it); unset, the URL the site was built for, or this host and
    port for a site built without one. `--watch` builds the site itself, for KP_BASE_URL
    or this host and port."""
    explicit = "base_url" in settings.model_fields_set
    if watch:
        return settings.base_url if explicit else default_base_url(host, port)
    built = built_site_url(settings)
    if not explicit:
        return (
            normalize_public_url(built, name="site_url") if built else default_base_url(host, port)
        )
    if built and not same_public_url(built, settings.base_url):
        raise click.ClickException(
            f"KP_BASE_URL is {settings.base_url}, but the site in {settings.site_path} was "
            f"built for {built} (site_url in {settings.manifest_path}): its links, canonical "
            "URLs and sitemap would point at the other one.\n"
            f"  Rebuild it for this URL:  KP_BASE_URL={settings.base_url} kp build\n"
            f"  or unset KP_BASE_URL to serve it for {built}"
        )
    return settings.base_url


def describe_database(settings: Settings) -> str:
    url = database_url(settings)
    if url.startswith("sqlite"):
        return f"SQLite {url.removeprefix('sqlite:///')}"
    return url.split("://", 1)[0] + "://" + url.rsplit("@", 1)[-1]  # no credentials


def banner(settings: Settings, host: str, port: int) -> str:
    """What a first-time user needs to see: where it runs, where mail and data go."""
    mail = (
        f"SMTP {settings.smtp_host}:{settings.smtp_port}"
        if settings.smtp_host
        else f"written to {settings.var_path / 'outbox'} and printed here"
    )
    stripe = (
        "configured" if settings.stripe_secret_key else "not configured (set STRIPE_SECRET_KEY)"
    )
    site = settings.site_path
    site_note = "" if (site / "index.html").is_file() else "  (nothing built yet: run `kp build`)"
    lines = [f"kp serve: listening on http://{host}:{port}  (public URL {settings.base_url})"]
    here = default_base_url(host, port)
    if is_loopback(settings.base_url) and not same_public_url(settings.base_url, here):
        lines.append(  # a site built for another local port: its links lead there
            f"  note:     links point at {settings.base_url}; to serve the site here, build "
            f"it for this port: KP_BASE_URL={here} kp build"
        )
    return "\n".join(
        [
            *lines,
            f"  site:     {site}{site_note}",
            f"  private:  {settings.private_path}",
            f"  database: {describe_database(settings)}",
            f"  e-mail:   {mail}",
            f"  Stripe:   {stripe}",
        ]
    )


def apply_migrations(settings: Settings) -> None:
    """Migrate before starting, so an unreachable database is one clear line, not a traceback
    (the app's lifespan applies them too, for deployments that skip the CLI)."""
    from sqlalchemy.exc import SQLAlchemyError

    from paywall.database.migrate import upgrade

    try:
        revision = upgrade(settings)
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise click.ClickException(
            f"cannot apply database migrations to {describe_database(settings)}: {detail}"
        ) from exc
    click.echo(f"  schema:   at revision {revision}", err=True)


def check_watch_options(
    watch: bool, reload: bool, workers: int, config_file: Path | None, drafts: bool
) -> None:
    """--watch rebuilds and reloads inside one process; the build options need it."""
    if watch and (reload or workers > 1):
        raise click.UsageError(
            "--watch rebuilds the site inside the serving process: it cannot be combined "
            "with --reload or --workers > 1"
        )
    if not watch and (config_file is not None or drafts):
        raise click.UsageError("--config and --drafts build the site: they need --watch")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--reload", is_flag=True, help="Restart when code changes (development).")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (use PostgreSQL when more than one host serves).",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Build the site first, rebuild it whenever content/, mkdocs.yml or the theme "
    "change, and reload open pages (while writing; one process).",
)
@click.option(
    "--config",
    "-f",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="With --watch: the site's mkdocs.yml (default: the project's).",
)
@click.option("--drafts", is_flag=True, help="With --watch: also publish drafts.")
def serve(
    host: str,
    port: int,
    reload: bool,
    workers: int,
    watch: bool,
    config_file: Path | None,
    drafts: bool,
) -> None:
    """Serve the site and the paywall on one port; applies database migrations first."""
    check_watch_options(watch, reload, workers, config_file, drafts)
    settings = settings_from_environment()
    # Set for this process and the workers it starts: they all make links from this one.
    os.environ["KP_BASE_URL"] = serving_base_url(settings, host, port, watch=watch)
    settings = load_settings()
    configure_logging(settings.log_level)
    common: ServerOptions = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "proxy_headers": True,
        # uvloop and httptools (dependencies) when they import, else asyncio and h11.
        "loop": "auto",
        "http": "auto",
    }
    if watch:
        # Composed in kp/: the paywall itself never imports the build.
        from kp.serve_watch import serve_watch

        def before_serving() -> None:
            click.echo(banner(settings, host, port), err=True)
            apply_migrations(settings)

        serve_watch(
            settings,
            config_file=config_file,
            drafts=drafts,
            server_options=common,
            before_serving=before_serving,
        )
        return
    click.echo(banner(settings, host, port), err=True)
    apply_migrations(settings)
    if reload or workers > 1:
        # Fresh processes build the app from the environment (KP_BASE_URL set above).
        uvicorn.run(
            "paywall.app:app_from_environment",
            factory=True,
            reload=reload,
            workers=None if reload else workers,
            **common,
        )
        return
    from paywall.app import create_app

    uvicorn.run(create_app(settings), **common)


def register(group: click.Group) -> None:
    """Attach the paywall commands to the `kp` group: `serve` here, the admin commands
    (db, members, stripe, events) from `kp.commands.admin`, `audit` from
    `kp.commands.audit`, `backup` and `restore` from `kp.commands.backup`, `certificates`
    from `kp.commands.certificates`, the growth
    commands (partners, stats, newsletter) from `kp.commands.growth`."""
    from kp.commands import admin as cli_admin
    from kp.commands import audit as cli_audit
    from kp.commands import backup as cli_backup
    from kp.commands import certificates as cli_certificates
    from kp.commands import growth as cli_growth
    from kp.commands import member_data as cli_member_data
    from kp.commands import member_roles as cli_member_roles
    from kp.commands import offers as cli_offers
    from kp.commands import partner_payouts as cli_partner_payouts

    group.add_command(serve)
    cli_admin.register(group)
    cli_audit.register(group)
    cli_backup.register(group)
    cli_certificates.register(group)
    cli_member_data.register(group)
    cli_member_roles.register(group)
    cli_growth.register(group)
    cli_offers.register(group)
    cli_partner_payouts.register(group)
