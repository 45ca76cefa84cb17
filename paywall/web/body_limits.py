"""Request bodies bounded while they stream in.

Starlette reads a body whole (`request.body()`, `form()`, `json()`) before any handler can
look at its size, and a body sent chunked has no Content-Length to check first: unsigned
100 MB posts to the webhook used to be held in memory whole. `BodyLimitMiddleware` bounds
every route that reads one, the limit chosen by path (settings, README):

- `KP_MAX_WEBHOOK_BYTES` (1 MiB) for `POST /api/stripe/webhook`,
- `KP_MAX_BEACON_BYTES` (2 KiB) for the beacon, `POST /api/e`,
- `KP_MAX_BODY_BYTES` (64 KiB) for everything else (forms, JSON).

A declared Content-Length over the limit is refused at once, before a byte is read. A body
without one (chunked), or longer than it said, is counted as the app reads it: the read that
passes the limit raises `BodyTooLarge` in the app, nothing more is read, and the answer is
413 whatever the handler did with the exception. What was read is dropped with the request,
and the 413 says `Connection: close` so the server stops reading the rest.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kp_contract.settings import Settings
from paywall.runtime.logs import get_logger, kv

log = get_logger("paywall.web.body_limits")

WEBHOOK_PATH = "/api/stripe/webhook"
BEACON_PATH = "/api/e"
IMPORT_PATH = "/admin/members/import"
IMPORT_MAX_BYTES = 10 * 1024 * 1024
"""A members CSV uploaded on the members desk (admins only): larger than any form."""


class BodyTooLarge(Exception):
    """The request body passed its route's limit while it was being read (answered 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


def path_limits(settings: Settings) -> dict[str, int]:
    """The paths whose body limit is not `KP_MAX_BODY_BYTES` (also written into the nginx
    front by `kp deploy nginx`, so nginx lets through what the paywall takes)."""
    return {
        WEBHOOK_PATH: settings.max_webhook_bytes,
        BEACON_PATH: settings.max_beacon_bytes,
        IMPORT_PATH: max(settings.max_body_bytes, IMPORT_MAX_BYTES),
    }


def limits_from(settings: Settings) -> Callable[[str], int]:
    """The body limit in bytes for a request path."""
    default = settings.max_body_bytes
    by_path = path_limits(settings)

    def limit_for(path: str) -> int:
        return by_path.get(path, default)

    return limit_for


class BodyLimitMiddleware:
    """413 for a body over its route's limit: declared (at once) or streamed (as it is read)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = self.limit_for(path)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            log.warning(kv("http.body_too_large", path=path[:300], limit=limit, declared=declared))
            await _refuse(send, limit)
            return

        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:  # the app asks again after the refusal: nothing more is read
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the handler's own answer to a cut-off body is replaced by the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded:
            log.warning(kv("http.body_too_large", path=path[:300], limit=limit, streamed=received))
            if not started:
                await _refuse(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = f"Request body too large: the limit here is {limit} bytes.\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
