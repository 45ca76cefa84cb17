"""The ASGI application: the public site, gated lessons, sign-in, account and Stripe endpoints
on one port. `create_app()` with no arguments is the zero-config server `kp serve` runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kp_contract.manifest import read_manifest
from kp_contract.public_url import normalize_public_url
from kp_contract.settings import Settings, load_settings
from paywall.database.migrate import upgrade
from paywall.growth import hooks as growth_hooks
from paywall.growth import routes as growth_routes
from paywall.members.roles import record_admin_roles
from paywall.runtime.context import Clock, Mailer, Paywall, utc_now
from paywall.runtime.db_threads import run_db
from paywall.runtime.logs import configure_logging, get_logger, kv
from paywall.runtime.mailer import mailer_from_settings
from paywall.runtime.secret import load_secret_key
from paywall.web import (
    account,
    admin,
    billing_routes,
    certificate_pages,
    errors,
    gift_pages,
    learning,
    members_desk,
    my_data,
    sign_in_routes,
)
from paywall.web.body_limits import BodyLimitMiddleware, limits_from
from paywall.web.security import OriginCheckMiddleware, SecurityHeadersMiddleware
from paywall.web.serving import serve_site

log = get_logger("paywall.app")


def database_ok(pw: Paywall) -> bool:
    try:
        with pw.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not reachable" to a health check
        log.error(kv("health.database_unreachable", error=type(exc).__name__))
        return False
    return True


async def healthz(request: Request) -> Response:
    """Liveness plus database reachability, for load balancers and uptime checks."""
    pw: Paywall = request.app.state.paywall
    ok = await run_db(pw, database_ok, pw)
    headers = {"Cache-Control": "no-store"}
    if ok:
        return JSONResponse({"status": "ok", "database": "ok"}, headers=headers)
    return JSONResponse(
        {"status": "error", "database": "unreachable"}, status_code=503, headers=headers
    )


class RequestLogMiddleware:
    """One structured line per request: method, path (never the query: it may hold a
    token), status and duration. Replaces uvicorn's access log, which prints queries."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            ms = (time.perf_counter() - start) * 1000
            log.info(
                kv(
                    "http.request",
                    method=scope["method"],
                    path=scope["path"][:300],
                    status=status,
                    ms=f"{ms:.1f}",
                )
            )


async def server_error(request: Request, exc: Exception) -> Response:
    log.error(kv("http.error", path=request.url.path, error=type(exc).__name__), exc_info=exc)
    return PlainTextResponse("Internal server error", status_code=500)


def with_public_url(settings: Settings) -> Settings:
    """`settings` whose `base_url` is the site's one public URL (kp_contract.public_url):
    KP_BASE_URL when it is set, else the `site_url` the served site was built for (its
    manifest), else the default. Every link, e-mail, Stripe return URL and the CSRF origin
    read `settings.base_url`, in the app and in every command."""
    if "base_url" in settings.model_fields_set or not settings.manifest_path.is_file():
        return settings
    try:
        built = read_manifest(settings.manifest_path).site_url
        base_url = normalize_public_url(built, name="the manifest's site_url") if built else ""
    except (OSError, ValueError) as exc:  # the serving code reports a broken manifest
        log.warning(
            kv("app.manifest_unreadable", path=settings.manifest_path, error=type(exc).__name__)
        )
        return settings
    return settings.model_copy(update={"base_url": base_url}) if base_url else settings


def make_paywall(
    settings: Settings | None = None,
    *,
    mailer: Mailer | None = None,
    clock: Clock = utc_now,
) -> Paywall:
    """The runtime every app and command works with, growth engine attached. Defaults are the
    zero-config ones: settings from the environment, mail to the outbox or SMTP."""
    settings = with_public_url(settings or load_settings())
    pw = Paywall(settings=settings, mailer=mailer or mailer_from_settings(settings), clock=clock)
    growth_hooks.install(pw.hooks)
    return pw


def paywall_routes() -> list[Route]:
    """Every route of the paywall but the catch-all file server: what `create_app` mounts
    before it, and what `kp deploy nginx` proxies (one list, so no route is forgotten)."""
    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        *sign_in_routes.routes,
        *account.routes,
        *my_data.routes,
        *billing_routes.routes,
        *growth_routes.routes,
        *admin.routes,
        *members_desk.routes,
        *learning.routes,
        *certificate_pages.routes,
        *gift_pages.routes,
    ]


def create_app(settings: Settings | None = None, *, paywall: Paywall | None = None) -> Starlette:
    """The whole paywall as one Starlette app. The lifespan applies pending migrations."""
    pw = paywall or make_paywall(settings)
    load_secret_key(pw.settings)  # fail fast on a bad key; create var/secret_key if needed

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        revision = await run_in_threadpool(upgrade, pw.settings, engine=pw.engine)
        await run_in_threadpool(record_admin_roles, pw)
        log.info(
            kv(
                "app.started",
                database=pw.engine.dialect.name,
                revision=revision,
                stripe="configured" if pw.stripe_configured else "not-configured",
                base_url=pw.settings.base_url,
                loop=type(asyncio.get_running_loop()).__module__.split(".")[0],
            )
        )
        try:
            yield
        finally:
            if paywall is None:
                pw.engine.dispose()

    routes = [*paywall_routes(), Route("/{path:path}", serve_site, methods=["GET", "HEAD"])]
    https = pw.settings.base_url.lower().startswith("https://")
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestLogMiddleware),
            Middleware(SecurityHeadersMiddleware, https=https),
            Middleware(BodyLimitMiddleware, limit_for=limits_from(pw.settings)),
            Middleware(OriginCheckMiddleware),
        ],
        exception_handlers={**errors.exception_handlers(), 500: server_error},
        lifespan=lifespan,
    )
    app.state.paywall = pw
    return app


def app_from_environment() -> Starlette:
    """Factory for `uvicorn --factory` (reload and multi-worker `kp serve`, or a deployment
    running `uvicorn paywall.app:app_from_environment --factory`): each worker process
    sets up the structured logs itself."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
