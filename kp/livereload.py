"""Live reload for `kp serve --watch`: open pages reload themselves when a new build lands.

An ASGI middleware wrapped around the paywall app only in watch mode, so nothing here exists
in production and the built files never change (site/ stays byte-identical to `kp build`):

- every HTML answer to a GET gets one `<script src="/__kp/livereload.js" data-kp-build=…>`
  before `</body>`, naming the build it was rendered from, and is sent `no-store` without
  validators, so a reloaded page is always the new one (never a cached copy naming an old
  build, which would reload forever);
- `GET /__kp/reload?since=<build>` is a long poll: it answers at once with the current build
  id when it differs from `since`, otherwise when the next build is swapped in (or after
  `POLL_SECONDS`, and the script asks again). It serves no content, only that id;
- build ids start with a random per-process prefix, so a page open while the server was
  restarted reloads too. The script retries every second while the server is down.

The script is a same-origin file rather than inline code, so it keeps working under a
`script-src 'self'` Content-Security-Policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

RELOAD_PATH = "/__kp/reload"
SCRIPT_PATH = "/__kp/livereload.js"
POLL_SECONDS = 20.0
_CONDITIONAL = (b"if-none-match", b"if-modified-since")

SCRIPT = b"""\
(() => {
  const me = document.currentScript;
  const since = me ? me.dataset.kpBuild : "";
  const pause = (ms) => new Promise((done) => setTimeout(done, ms));
  (async () => {
    for (;;) {
      try {
        const r = await fetch("/__kp/reload?since=" + encodeURIComponent(since),
                              {cache: "no-store"});
        if (r.ok) {
          if ((await r.json()).build !== since) { location.reload(); return; }
          continue;
        }
      } catch (e) { /* the server is restarting: try again */ }
      await pause(1000);
    }
  })();
})();
"""


class ReloadHub:
    """The id of the build being served; `publish()` (from the watcher's thread) wakes every
    long poll waiting on the event loop."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._count = 0
        self._closed = False
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def build_id(self) -> str:
        return f"{self._prefix}.{self._count}"

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self) -> str:
        """A new build was swapped in: give it an id and tell the waiting pages."""
        with self._lock:
            self._count += 1
            self._wake_all()
            return self.build_id

    def close(self) -> None:
        """The server is stopping: end every long poll now (uvicorn waits for them)."""
        with self._lock:
            self._closed = True
            self._wake_all()

    def _wake_all(self) -> None:
        for loop, event in self._waiters:
            # A closed loop raises RuntimeError: nobody is waiting there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    async def wait_for_change(self, since: str, timeout: float) -> str:
        """The current build id once it differs from `since` (or after `timeout`)."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            if self.build_id != since or self._closed:
                return self.build_id
            self._waiters.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
        finally:
            with self._lock:
                self._waiters.discard(waiter)
        return self.build_id


def inject(html: bytes, snippet: bytes) -> bytes:
    """`snippet` before the last `</body>`, or at the end when there is none."""
    at = html.lower().rfind(b"</body>")
    if at < 0:
        return html + snippet
    return html[:at] + snippet + html[at:]


async def _send_simple(
    send: Send, status: int, body: bytes, content_type: str, allow: str | None = None
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if allow:
        headers.append((b"allow", allow.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class LiveReloadMiddleware:
    """Serves the two `/__kp/` endpoints and adds the reload script to HTML pages."""

    def __init__(self, app: ASGIApp, hub: ReloadHub, poll_seconds: float = POLL_SECONDS) -> None:
        self.app = app
        self.hub = hub
        self.poll_seconds = poll_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in (RELOAD_PATH, SCRIPT_PATH):
            await self._endpoint(scope, send)
            return
        if scope["method"] not in ("GET", "HEAD"):  # a reload must never re-send a form
            await self.app(scope, receive, send)
            return
        snippet = (
            f'<script src="{SCRIPT_PATH}" data-kp-build="{self.hub.build_id}"></script>'
        ).encode()
        await self.app(_fresh(scope), receive, _Injector(send, snippet, scope["method"]))

    async def _endpoint(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _send_simple(send, 405, b"", "text/plain", allow="GET, HEAD")
            return
        if scope["path"] == SCRIPT_PATH:
            await _send_simple(send, 200, SCRIPT, "text/javascript; charset=utf-8")
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        since = query.get("since", [None])[0]
        build = self.hub.build_id
        if since is not None:
            build = await self.hub.wait_for_change(since, self.poll_seconds)
        status = 503 if self.hub.closed else 200  # stopping: the script backs off
        body = json.dumps({"build": build}).encode()
        await _send_simple(send, status, body, "application/json")


def _fresh(scope: Scope) -> Scope:
    """The request without validators (so pages are never answered 304 from a copy that
    lacks the script) and without `pathsend` (the body must pass through `_Injector`)."""
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _CONDITIONAL]
    extensions = {k: v for k, v in scope.get("extensions", {}).items() if "pathsend" not in k}
    return {**scope, "headers": headers, "extensions": extensions}


class _Injector:
    """The `send` of one response: HTML bodies are collected and sent with the script added;
    everything else passes through, asset caching lowered to `no-cache` (edits show up)."""

    def __init__(self, send: Send, snippet: bytes, method: str) -> None:
        self.send = send
        self.snippet = snippet
        self.head = method == "HEAD"
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._start(message)
        elif message["type"] == "http.response.body" and self.start is not None:
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._finish()
        else:
            await self.send(message)

    async def _start(self, message: Message) -> None:
        headers = MutableHeaders(scope=message)
        is_html = headers.get("content-type", "").startswith("text/html")
        if not is_html or "content-encoding" in headers or message["status"] in (204, 304):
            if "max-age" in headers.get("cache-control", ""):
                headers["cache-control"] = "no-cache"
            await self.send(message)
            return
        for name in ("etag", "last-modified"):
            if name in headers:
                del headers[name]
        headers["cache-control"] = "no-store"
        self.start = message

    async def _finish(self) -> None:
        assert self.start is not None
        headers = MutableHeaders(scope=self.start)
        body = b""
        if not self.head:
            body = inject(b"".join(self.chunks), self.snippet)
            headers["content-length"] = str(len(body))
        elif "content-length" in headers:  # what the GET would carry
            headers["content-length"] = str(int(headers["content-length"]) + len(self.snippet))
        await self.send(self.start)
        await self.send({"type": "http.response.body", "body": body})
