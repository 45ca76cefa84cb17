"""`kp deploy nginx` and `kp deploy systemd`: configuration files for a production host,
generated from the build manifest, the settings and the paywall's own tables (routes,
cookie, cache policies), so that nothing in them is a hand-kept copy.

Registered with the paywall's commands (`kp.commands.serve.register`): it reads the
paywall's constants, never its database.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from kp.deploy.addresses import BadAddress, HostPort, parse_host_port
from kp.deploy.nginx_conf import (
    DeployError,
    NginxOptions,
    PaywallFacts,
    render_nginx_conf,
    upstream_list,
)
from kp.deploy.systemd_units import SystemdOptions, env_file_example, render_worker_unit
from kp_contract.manifest import Manifest, read_manifest
from kp_contract.settings import Settings, load_settings

DEFAULT_CACHE_DIR = Path("/var/lib/nginx/kp-auth")  # Debian's nginx owns /var/lib/nginx
DEFAULT_AUTH_CACHE_SECONDS = 5


class HostPortType(click.ParamType):
    """`HOST:PORT`, checked (kp.deploy.addresses); the error names the option."""

    name = "HOST:PORT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, HostPort):
            return value
        try:
            return parse_host_port(str(value))
        except BadAddress as exc:
            self.fail(str(exc), param, ctx)


HOST_PORT = HostPortType()


def paywall_facts(settings: Settings, site: Path) -> PaywallFacts:
    """The paywall's routes, session cookie, auth endpoint, cache policies, security
    headers and content types (of every extension in `site`), read from its modules."""
    from paywall.app import paywall_routes
    from paywall.members.sign_in import COOKIE_NAME
    from paywall.web import sign_in_routes
    from paywall.web.security import security_headers
    from paywall.web.serving import (
        ASSET_CACHE,
        CONTENT_TYPES,
        GATED_CACHE,
        HTML_CACHE,
        content_type,
    )

    paths = [route.path for route in paywall_routes()]
    auth_path = next(
        r.path
        for r in sign_in_routes.routes
        if getattr(r, "endpoint", None) is sign_in_routes.auth_check
    )
    https = settings.base_url.lower().startswith("https://")
    extensions = {p.suffix.lower() for p in site.rglob("*") if p.suffix and p.is_file()}
    extensions |= set(CONTENT_TYPES)
    return PaywallFacts(
        session_cookie=COOKIE_NAME,
        auth_path=auth_path,
        route_paths=tuple(dict.fromkeys(paths)),
        html_cache=HTML_CACHE,
        asset_cache=ASSET_CACHE,
        gated_cache=GATED_CACHE,
        security_headers=tuple(
            (name.decode().title(), value.decode()) for name, value in security_headers(https)
        ),
        content_types=tuple((ext, content_type(Path(f"file{ext}"))) for ext in sorted(extensions)),
    )


def body_limits(settings: Settings) -> tuple[tuple[str, int], ...]:
    """The paths with their own body limit in the paywall (paywall.web.body_limits)."""
    from paywall.web.body_limits import path_limits

    return tuple(sorted(path_limits(settings).items()))


def existing_dir(path: Path, option: str) -> Path:
    resolved = path.expanduser().resolve()
    if not resolved.is_dir():
        raise click.BadParameter(f"{resolved} is not a directory", param_hint=option)
    return resolved


def load_manifest(private_dir: Path) -> Manifest:
    path = private_dir / "manifest.json"
    try:
        return read_manifest(path)
    except FileNotFoundError:
        raise click.ClickException(
            f"no build manifest at {path}: run `kp build` first (or pass --private-dir)"
        ) from None
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise click.ClickException(f"cannot read {path}: {first}; run `kp build`") from None


def check_cache_dir(path: Path) -> Path:
    """nginx creates the cache directory itself, but not its parents."""
    if not path.is_absolute():
        raise click.BadParameter(f"{path} must be an absolute path", param_hint="--cache-dir")
    if not path.parent.is_dir():
        raise click.BadParameter(
            f"{path.parent} does not exist (nginx creates {path.name}/ but not its parents): "
            f"create it or choose another directory",
            param_hint="--cache-dir",
        )
    return path


def write_or_print(out: Path | None, files: dict[str, str]) -> None:
    if out is None:
        for text in files.values():
            click.echo(text, nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        target = out / name
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
        click.echo(f"wrote {target}", err=True)


# ---------------------------------------------------------------- kp deploy


@click.group("deploy")
def deploy() -> None:
    """Configuration files for a production host: nginx in front, systemd for the workers."""


@deploy.command("nginx")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write DIR/kp.conf (default: print it).",
)
@click.option(
    "--listen",
    type=HOST_PORT,
    default="0.0.0.0:80",
    show_default=True,
    help="Address nginx listens on.",
)
@click.option(
    "--upstream",
    "upstreams",
    type=HOST_PORT,
    multiple=True,
    help="A `kp serve` worker; repeat for each (default 127.0.0.1:8000).",
)
@click.option(
    "--site-dir",
    type=click.Path(path_type=Path),
    help="The built public site (default: KP_SITE_DIR, site/).",
)
@click.option(
    "--private-dir",
    type=click.Path(path_type=Path),
    help="The built private pages and manifest (default: KP_PRIVATE_DIR, private/).",
)
@click.option("--server-name", help="nginx server_name (default: the host of KP_BASE_URL).")
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_CACHE_DIR,
    show_default=True,
    help="Where nginx caches the paywall's grants.",
)
@click.option(
    "--auth-cache-seconds",
    type=click.IntRange(0, 3600),
    default=DEFAULT_AUTH_CACHE_SECONDS,
    show_default=True,
    help="How long nginx reuses a grant: the longest a refund or sign-out takes to show "
    "(0: ask the paywall on every request with a session).",
)
def deploy_nginx(
    out: Path | None,
    listen: HostPort,
    upstreams: tuple[HostPort, ...],
    site_dir: Path | None,
    private_dir: Path | None,
    server_name: str | None,
    cache_dir: Path,
    auth_cache_seconds: int,
) -> None:
    """Write an nginx server for the built site (include it inside http {}): nginx serves
    site/ and, after asking the paywall, private/; it proxies the paywall's routes."""
    from urllib.parse import urlsplit

    settings = load_settings()
    site = existing_dir(site_dir or settings.site_path, "--site-dir")
    private = existing_dir(private_dir or settings.private_path, "--private-dir")
    manifest = load_manifest(private)
    if not (site / "index.html").is_file():
        raise click.BadParameter(
            f"{site} has no index.html: run `kp build`", param_hint="--site-dir"
        )
    if site == private or site.is_relative_to(private) or private.is_relative_to(site):
        raise click.BadParameter(
            f"{site} and {private} overlap: private pages would be public",
            param_hint="--site-dir/--private-dir",
        )
    name = server_name or urlsplit(settings.base_url).hostname or "_"
    options = NginxOptions(
        listen=listen,
        upstreams=upstream_list(upstreams or (parse_host_port("127.0.0.1:8000"),)),
        site_dir=site,
        private_dir=private,
        server_name=name,
        cache_dir=check_cache_dir(cache_dir) if auth_cache_seconds else cache_dir,
        auth_cache_seconds=auth_cache_seconds,
        max_body_bytes=settings.max_body_bytes,
        path_body_limits=body_limits(settings),
    )
    try:
        text = render_nginx_conf(options, paywall_facts(settings, site), manifest)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from None
    write_or_print(out, {"kp.conf": text})
    if out is not None:
        click.echo(
            f"include {out.resolve() / 'kp.conf'} inside http {{}}, then `nginx -t && "
            f"nginx -s reload`; {len(manifest.gated)} gated page(s), "
            f"{len(options.upstreams)} upstream(s)",
            err=True,
        )


def default_kp_executable() -> Path:
    """The `kp` next to the running Python (the virtualenv's), else the running script."""
    sibling = Path(sys.executable).with_name("kp")
    return sibling if sibling.is_file() else Path(sys.argv[0]).resolve()


@deploy.command("systemd")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write DIR/kp@.service and DIR/kp.env.example (default: print the unit).",
)
@click.option(
    "--port",
    "ports",
    type=click.IntRange(1, 65535),
    multiple=True,
    help="A worker port; repeat for each (default 8000). Used in the instructions.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface workers bind.")
@click.option("--user", default="kp", show_default=True, help="System user the workers run as.")
@click.option("--group", help="Their group (default: the user's name).")
@click.option(
    "--env-file",
    type=click.Path(path_type=Path),
    default=Path("/etc/kp/kp.env"),
    show_default=True,
    help="The settings (KP_*, STRIPE_*): readable by root and the workers only.",
)
@click.option(
    "--working-directory",
    type=click.Path(path_type=Path),
    help="The project directory (default: KP_PROJECT_DIR, the current directory).",
)
@click.option(
    "--kp",
    "kp_executable",
    type=click.Path(path_type=Path),
    help="The kp executable (default: the one running now).",
)
def deploy_systemd(
    out: Path | None,
    ports: tuple[int, ...],
    host: str,
    user: str,
    group: str | None,
    env_file: Path,
    working_directory: Path | None,
    kp_executable: Path | None,
) -> None:
    """Write a templated unit: one `kp serve` worker per port (kp@8001, kp@8002, …)."""
    settings = load_settings()
    workdir = existing_dir(working_directory or settings.project_dir, "--working-directory")
    executable = (kp_executable or default_kp_executable()).expanduser()
    try:
        options = SystemdOptions(
            host=host,
            ports=tuple(dict.fromkeys(ports or (8000,))),
            user=user,
            group=group or user,
            env_file=env_file,
            working_directory=workdir,
            kp_executable=executable.resolve() if executable.exists() else executable,
            var_dir=settings.var_path,
        ).checked()
    except DeployError as exc:
        raise click.ClickException(str(exc)) from None
    files = {"kp@.service": render_worker_unit(options)}
    if out is not None:
        files["kp.env.example"] = env_file_example(options, settings)
    write_or_print(out, files)
    if not options.var_dir.is_dir():
        click.echo(
            f"note: {options.var_dir} does not exist; create it for the workers (the unit "
            f"makes only it writable): install -d -o {options.user} -g {options.group} "
            f"{options.var_dir}",
            err=True,
        )
    if out is not None:
        units = " ".join(f"kp@{port}" for port in options.ports)
        click.echo(
            f"install: cp {out.resolve() / 'kp@.service'} /etc/systemd/system/ && "
            f"systemctl daemon-reload && systemctl enable --now {units}",
            err=True,
        )
