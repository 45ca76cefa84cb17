"""`kp demo`: the whole product on a laptop with no Stripe account.

Builds the example site, starts the local Stripe test server (`stripe_local`, a dev tool,
imported only here) with a fresh webhook secret, creates the products and prices the build
sells in it, and serves the paywall against it on 127.0.0.1. It never talks to real Stripe,
whatever `STRIPE_*` the environment holds, and it keeps its data apart from `kp serve`'s:
`var/demo/` (SQLite, outbox, secret key) is wiped at every start, because the local Stripe
server forgets its customers when it stops and stale ids would break checkout and the portal.
"""

from __future__ import annotations

import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from kp.foreground import run_in_foreground
from kp_contract.manifest import Manifest
from kp_contract.settings import Settings, load_settings

HOST = "127.0.0.1"
DEMO_VAR = Path("var") / "demo"
STRIPE_VARIABLES = {
    "stripe_secret_key": "STRIPE_SECRET_KEY",
    "stripe_webhook_secret": "STRIPE_WEBHOOK_SECRET",
    "stripe_api_base": "STRIPE_API_BASE",
}


@dataclass(frozen=True)
class DemoPlan:
    """Where everything goes; decided before anything starts."""

    project: Path
    config_file: Path
    port: int
    var_dir: Path
    ignored: list[str]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def plan_demo(port: int) -> DemoPlan:
    """Check the project and the port up front, so mistakes are reported before building."""
    env = load_settings()
    project = env.project_dir.resolve()
    config_file = project / "mkdocs.yml"
    if not config_file.is_file():
        raise click.ClickException(
            f"no mkdocs.yml in {project}: run `kp demo` in the project directory "
            "(a clone of the repository), or set KP_PROJECT_DIR"
        )
    if not port_is_free(port):
        raise click.ClickException(f"port {port} on {HOST} is in use; try `kp demo --port 8001`")
    ignored = [name for field, name in STRIPE_VARIABLES.items() if getattr(env, field)]
    return DemoPlan(project, config_file, port, project / DEMO_VAR, ignored)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def build(plan: DemoPlan, settings: Settings) -> None:
    """`kp build` into the directories the paywall will serve."""
    from site_builder.build import BuildFailed, build_site

    click.echo(f"kp demo: building {plan.config_file} …")
    try:
        result = build_site(
            plan.config_file,
            site_dir=settings.site_path,
            private_dir=settings.private_path,
            site_url=plan.url,  # every link of the site then works on this port
        )
    except BuildFailed as exc:
        raise click.ClickException("the build failed:\n  " + "\n  ".join(exc.problems)) from None
    if result.site_url_note:
        click.echo(f"kp demo: {result.site_url_note}")
    click.echo(
        f"kp demo: built {result.pages} pages ({result.gated} gated lessons, "
        f"{result.courses} courses) in {result.seconds:.1f}s"
    )


def demo_settings(plan: DemoPlan, stripe_url: str, api_key: str, webhook_secret: str) -> Settings:
    """The environment's settings with everything that could reach the outside replaced:
    local Stripe, the demo's own SQLite database and outbox, no SMTP."""
    return load_settings(
        KP_PROJECT_DIR=plan.project,
        KP_VAR_DIR=plan.var_dir,
        KP_DATABASE_URL=None,
        KP_SMTP_HOST=None,
        KP_BASE_URL=plan.url,
        STRIPE_SECRET_KEY=api_key,
        STRIPE_WEBHOOK_SECRET=webhook_secret,
        STRIPE_API_BASE=stripe_url,
    )


def reset_var_dir(var_dir: Path) -> None:
    """Start from nothing: members and payments of a previous demo point at a local Stripe
    server that no longer exists."""
    if var_dir.exists():
        shutil.rmtree(var_dir)
    var_dir.mkdir(parents=True)


def sync_products(stripe_client: Any, manifest: Manifest) -> int:
    """Create what the build sells (products, prices by lookup key) in the local server."""
    from paywall.billing.stripe_sync import sync_catalog

    lines = sync_catalog(stripe_client, manifest)
    return sum(1 for line in lines if line.kind == "price")


def guide(plan: DemoPlan, settings: Settings, manifest: Manifest, stripe_url: str) -> str:
    """What to open and what to click, with URLs from this build."""
    course = next((c for c in manifest.courses.values() if c.mode == "payment"), None)
    course = course or next(iter(manifest.courses.values()), None)
    locked = next(
        (g.url for g in manifest.gated.values() if course and g.course == course.slug), None
    )
    outbox = shown_path(settings.var_path / "outbox")
    lines = [
        "",
        f"  Knowledge Pay demo: open {plan.url}/",
        "",
        f"  Stripe:  LOCAL test server at {stripe_url} (never real Stripe, no account needed)",
    ]
    if plan.ignored:
        lines.append(f"           ignoring {', '.join(plan.ignored)} from the environment")
    lines += [
        f"  Data:    {shown_path(plan.var_dir)}/ (SQLite; e-mails in {outbox}/), wiped at every "
        "start",
        "",
        "  The reader's journey:",
        "   1. Open a free article from the home page: the community invitation is at its foot.",
        "   2. Join free with any e-mail address. The sign-in link is printed here and saved",
        f"      in {outbox}/. Open it: the header now shows your e-mail.",
    ]
    if course is not None and locked is not None:
        lines += [
            f"   3. Open the course {plan.url}{course.url} : paid lessons carry a lock.",
            f"   4. Open a locked lesson, e.g. {plan.url}{locked}",
            "      It shows a teaser, then the paywall.",
            "      Press Buy: the local checkout page opens with a test card filled in.",
            "      Press Pay, then continue on the site: the lesson is unlocked.",
            f"   5. {plan.url}/account/ lists your courses; Manage billing opens the local",
            "      customer portal (subscriptions can be cancelled there).",
        ]
    lines += ["", "  Stop with Ctrl-C.", ""]
    return "\n".join(lines)


def shown_path(path: Path) -> str:
    """`path` relative to the working directory when it is inside it (shorter to read)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def serve(app: Any, port: int, log_level: str) -> None:
    """uvicorn in the foreground until Ctrl-C or SIGTERM (both end cleanly)."""
    import uvicorn

    config = uvicorn.Config(
        app, host=HOST, port=port, log_config=None, access_log=False, log_level=log_level.lower()
    )
    run_in_foreground(uvicorn.Server(config), f"{HOST}:{port}")


@click.command("demo")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def demo(port: int) -> None:
    """Build the example site and serve it with the paywall and a local Stripe test server."""
    try:
        from stripe_local.server import LocalStripe
    except ImportError:  # a product install: the dev tool is its own distribution
        raise click.ClickException(
            "kp demo needs the local Stripe test server, which is not installed: run "
            "`make demo` from a clone of the repository, or "
            "`pip install -e tools/stripe_local` there"
        ) from None
    from kp_contract.manifest import read_manifest
    from paywall.app import create_app
    from paywall.runtime.logs import configure_logging

    plan = plan_demo(port)
    webhook_secret = "whsec_" + secrets.token_hex(24)
    local = LocalStripe(
        webhook_url=f"{plan.url}/api/stripe/webhook",
        webhook_secret=webhook_secret,
        delivery="async",
    )
    settings = demo_settings(plan, local.url, local.api_key, webhook_secret)
    build(plan, settings)
    reset_var_dir(plan.var_dir)
    manifest = read_manifest(settings.manifest_path)
    local.start()
    try:
        prices = sync_products(local.client(), manifest)
        click.echo(f"kp demo: {prices} prices created in the local Stripe test server")
        log_level = settings.log_level if "log_level" in settings.model_fields_set else "WARNING"
        configure_logging(log_level)
        app = create_app(settings)
        click.echo(guide(plan, settings, manifest, local.url))
        serve(app, port, log_level)
    finally:
        local.stop()
    click.echo("kp demo: stopped (paywall and local Stripe test server).")
