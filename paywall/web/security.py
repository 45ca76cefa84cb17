"""Request-level protections: same-origin check for unsafe requests (CSRF) and security
headers. (Rate limits, which sign-in applies too, are in `paywall.runtime.rate_limits`.)
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paywall.runtime.logs import get_logger, kv

log = get_logger("paywall.web.security")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Verified by its Stripe-Signature instead: Stripe sends no Origin. The newsletter's one-click
# unsubscribe (RFC 8058) is POSTed by mail providers, also without Origin; its signed token
# is the proof instead.
ORIGIN_EXEMPT_PATHS = frozenset({"/api/stripe/webhook", "/api/newsletter/unsubscribe"})


class OriginRejected(Exception):
    """An unsafe request whose Origin/Referer is not this site; `header` names the culprit."""

    def __init__(self, header: str, detail: str) -> None:
        super().__init__(f"{header}: {detail}")
        self.header = header
        self.detail = detail


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL (lower case, default ports dropped), or None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    suffix = "" if port in (None, default) else f":{port}"
    return f"{parts.scheme}://{host}{suffix}"


def allowed_origins(request: Request, base_url: str) -> set[str]:
    """KP_BASE_URL's origin, plus the request's own scheme+host when it names the same host
    (e.g. the site reached over plain http on the configured host behind a proxy)."""
    base = origin_of(base_url)
    allowed = {base} if base else set()
    host_header = request.headers.get("host", "")
    own = origin_of(f"{request.url.scheme}://{host_header}") if host_header else None
    if own and base and urlsplit(own).hostname == urlsplit(base).hostname:
        allowed.add(own)
    return allowed


def check_origin(request: Request) -> None:
    """Raise `OriginRejected` unless Origin (or Referer when Origin is absent) is this site."""
    base_url = request.app.state.paywall.settings.base_url
    allowed = allowed_origins(request, base_url)
    origin = request.headers.get("origin")
    if origin is not None:
        if origin_of(origin) not in allowed:
            raise OriginRejected("Origin", f"{origin!r} is not this site ({base_url})")
        return
    referer = request.headers.get("referer")
    if referer is None:
        raise OriginRejected(
            "Origin", "missing (and no Referer either) on a state-changing request"
        )
    if origin_of(referer) not in allowed:
        raise OriginRejected("Referer", f"{origin_of(referer) or referer!r} is not this site")


class OriginCheckMiddleware:
    """Applies `check_origin` to every unsafe method except the webhook; 403 names the header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        if scope["path"] in ORIGIN_EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            check_origin(request)
        except OriginRejected as exc:
            log.warning(kv("csrf.rejected", path=scope["path"], header=exc.header))
            response = PlainTextResponse(
                f"Forbidden: cross-site request rejected ({exc.header} header: {exc.detail}).",
                status_code=403,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def security_headers(https: bool) -> list[tuple[bytes, bytes]]:
    headers = {
        "x-content-type-options": "nosniff",
        "referrer-policy": "strict-origin-when-cross-origin",
        "x-frame-options": "DENY",
        # Only framing is restricted: the built theme relies on inline scripts, and checkout
        # forms redirect to Stripe's (or the local test server's) origin.
        "content-security-policy": "frame-ancestors 'none'",
        "cross-origin-opener-policy": "same-origin",
    }
    if https:
        headers["strict-transport-security"] = "max-age=31536000"
    return [(k.encode(), v.encode()) for k, v in headers.items()]


class SecurityHeadersMiddleware:
    """Adds nosniff, Referrer-Policy, frame denial (XFO + frame-ancestors) to every response,
    unless the handler set its own value (e.g. `no-referrer` on the magic-link callback)."""

    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app = app
        self.headers = security_headers(https)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)
