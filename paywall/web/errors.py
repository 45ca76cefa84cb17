"""The app's answers to errors that are not bugs, for every route (installed by
`paywall.app.create_app`):

- the database busy or unreachable (a SQLite write lock held past `KP_DB_BUSY_TIMEOUT`, a
  PostgreSQL `lock_timeout`, no pooled connection or database thread in time, connection
  refused or lost): 503 with `Retry-After` and one `db.unavailable` log line, never a 500 or
  a 30-second wait. The webhook gets it too, so Stripe retries the event later;
- a request the paywall cannot read (`BadInput`): 400 (415 for a body type the route does
  not take) with the reason in the answer.

The answer fits the asker: JSON for scripts (and every `/api/` path that is not asked for
HTML), the site's page shell for browsers, plain text otherwise.
"""

from __future__ import annotations

import math

from sqlalchemy import exc as sa_exc
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ExceptionHandler

from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import DatabaseBusy
from paywall.runtime.forms import BadInput
from paywall.runtime.lang import preferred_lang, t
from paywall.runtime.logs import get_logger, kv
from paywall.runtime.pages import NO_STORE, esc, render_page

log = get_logger("paywall.web.errors")

# What says "the database cannot serve this now": lock, pool and thread waits that timed
# out, and connections that failed or were lost (SQLite's "database is locked" and
# PostgreSQL's lock_timeout both arrive as OperationalError).
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
    DatabaseBusy,
)


def unavailable_reason(exc: BaseException) -> str:
    """A short name for the log: locked, lock-timeout, pool-timeout, threads-busy, …"""
    if isinstance(exc, DatabaseBusy):
        return "threads-busy"
    if isinstance(exc, sa_exc.TimeoutError):
        return "pool-timeout"
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    text = str(orig or exc).lower()
    if sqlstate == "55P03" or "lock timeout" in text:
        return "lock-timeout"
    if sqlstate == "57014":
        return "statement-timeout"
    if "database is locked" in text or "database table is locked" in text:
        return "locked"
    if isinstance(exc, sa_exc.DisconnectionError) or getattr(exc, "connection_invalidated", False):
        return "connection-lost"
    if "connect" in text or "connection" in text or "server closed" in text:
        return "connection"
    return "operational"


def retry_after(pw: Paywall) -> str:
    return str(max(1, math.ceil(pw.settings.db_busy_timeout)))


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return True
    return request.url.path.startswith("/api/") and not wants_html(request)


def error_response(
    pw: Paywall, request: Request, status: int, title: str, message: str
) -> Response:
    headers = {"Cache-Control": NO_STORE}
    if wants_json(request):
        return JSONResponse({"ok": False, "error": message}, status_code=status, headers=headers)
    if wants_html(request):
        lang = preferred_lang(pw, request)
        body = f'<p class="kp-error">{esc(message)}</p>'
        return render_page(pw, request, title, body, lang, status)
    return PlainTextResponse(f"{message}\n", status_code=status, headers=headers)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    pw: Paywall = request.app.state.paywall
    reason = unavailable_reason(exc)
    # The driver's first line only: SQLAlchemy's str() appends the statement's parameters.
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    log.warning(
        kv(
            "db.unavailable",
            method=request.method,
            path=request.url.path[:300],
            reason=reason,
            error=type(exc).__name__,
            detail=(detail[0] if detail else type(exc).__name__)[:200],
        )
    )
    lang = preferred_lang(pw, request)
    response = error_response(pw, request, 503, t(lang, "error.busy_title"), t(lang, "error.busy"))
    response.headers["Retry-After"] = retry_after(pw)
    return response


async def bad_input(request: Request, exc: Exception) -> Response:
    pw: Paywall = request.app.state.paywall
    status = exc.status if isinstance(exc, BadInput) else 400
    log.info(kv("http.bad_input", path=request.url.path[:300], status=status, reason=str(exc)))
    lang = preferred_lang(pw, request)
    message = t(lang, "error.input", detail=str(exc))
    return error_response(pw, request, status, t(lang, "error.input_title"), message)


def exception_handlers() -> dict[type[Exception], ExceptionHandler]:
    """For `Starlette(exception_handlers=…)`."""
    handlers: dict[type[Exception], ExceptionHandler] = dict.fromkeys(
        DATABASE_UNAVAILABLE, database_unavailable
    )
    handlers[BadInput] = bad_input
    return handlers
