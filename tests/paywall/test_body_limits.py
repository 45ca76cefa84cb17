"""Request bodies are bounded while they stream: a declared Content-Length over the route's
limit is refused at once, a chunked body (no Content-Length) as soon as it passes it, with
413, and the server does not hold what was sent (issue "Money is never lost or doubled",
item 2: unsigned chunked posts to the webhook used to be read whole)."""

from __future__ import annotations

import gc
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import pytest

# No database is involved in refusing a body: SQLite only.
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

MIB = 1024 * 1024
WEBHOOK = "/api/stripe/webhook"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"STRIPE_WEBHOOK_SECRET": "whsec_test_body_limits_0123456789"}


def _status_value(name: str) -> int:
    """A VmRSS/VmHWM line of /proc/self/status, in bytes (the server is a thread of ours)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {name} in /proc/self/status")


def _reset_peak() -> bool:
    """Start VmHWM (peak RSS) afresh from the current RSS (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Chunks:
    """A body for httpx without a length (sent chunked): `total` bytes, counted as sent."""

    def __init__(self, total: int, chunk: bytes = b"x" * 65536) -> None:
        self.total = total
        self.chunk = chunk
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        while self.sent < self.total:
            self.sent += len(self.chunk)
            yield self.chunk


def _post_chunked(url: str, body: Chunks, **headers: str) -> httpx.Response:
    origin = urlsplit(url)._replace(path="").geturl()
    with httpx.Client(timeout=30, headers={"Origin": origin}) as c:
        return c.post(url, content=body, headers=headers)


def _declared_only(base: str, path: str, length: int, headers: dict[str, str]) -> tuple[int, float]:
    """Send request headers declaring `length` bytes and no body: (status, seconds)."""
    parts = urlsplit(base)
    lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", f"Origin: {base}"]
    lines += [f"{k}: {v}" for k, v in headers.items()] + [f"Content-Length: {length}"]
    start = time.perf_counter()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = sock.recv(65536).decode("latin-1")
    return int(head.split()[1]), time.perf_counter() - start


@SQLITE
@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (WEBHOOK, {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"}),
        ("/api/e", {"Content-Type": "text/plain"}),
        ("/api/login", FORM),
        ("/api/checkout", FORM),
        ("/api/newsletter/unsubscribe", FORM),
    ],
)
def test_a_declared_length_over_the_limit_is_refused_before_the_body(
    app_server, path: str, headers: dict[str, str]
) -> None:
    status, seconds = _declared_only(app_server.url, path, 200 * MIB, headers)
    assert status == 413
    assert seconds < 2, "answered without waiting for a body that was never sent"


@SQLITE
def test_a_chunked_webhook_body_is_refused_while_it_streams_and_not_kept(app_server) -> None:
    """50 MiB sent chunked to the webhook, unsigned: 413 once past 1 MiB; the server's
    memory neither peaks nor stays anywhere near the body's size."""
    url = app_server.url + WEBHOOK
    _post_chunked(url, Chunks(8 * 1024), **{"Content-Type": "application/json"})  # warm up
    gc.collect()
    before = _status_value("VmRSS")
    peak_known = _reset_peak()
    body = Chunks(50 * MIB)
    r = _post_chunked(url, body, **{"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert "limit" in r.text and str(1024 * 1024) in r.text
    gc.collect()
    after = _status_value("VmRSS")
    print(f"RSS before {before / MIB:.1f} MiB, after {after / MIB:.1f} MiB")
    print(f"the client sent {body.sent / MIB:.1f} MiB of 50 before the server closed")
    assert after - before < 10 * MIB
    if peak_known:
        peak = _status_value("VmHWM")
        print(f"peak RSS during the request {peak / MIB:.1f} MiB")
        assert peak - before < 10 * MIB
    assert body.sent < 20 * MIB, "the server stopped reading after the 413"
    # The server is fine afterwards.
    assert httpx.get(app_server.url + "/articles/hello/").status_code == 200


@SQLITE
@pytest.mark.parametrize(
    ("path", "size", "headers"),
    [
        ("/api/e", 64 * 1024, {"Content-Type": "text/plain"}),
        ("/api/login", 1 * MIB, FORM),
        ("/api/login", 1 * MIB, {"Content-Type": "application/json"}),
        ("/api/checkout", 1 * MIB, FORM),
        ("/api/logout", 1 * MIB, FORM),
        ("/api/newsletter", 1 * MIB, FORM),
        ("/api/billing-portal", 1 * MIB, {"Content-Type": "multipart/form-data; boundary=b"}),
    ],
)
def test_a_chunked_body_over_the_route_limit_is_413(
    app_server, path: str, size: int, headers: dict[str, str]
) -> None:
    r = _post_chunked(app_server.url + path, Chunks(size, b"a" * 8192), **headers)
    assert r.status_code == 413, (r.status_code, r.text[:200])
    assert "Request body too large" in r.text


@SQLITE
def test_a_chunked_body_within_the_limit_is_read_as_usual(app_server) -> None:
    body = b"email=chunked%40example.com&next=%2Farticles%2Fhello%2F"
    with app_server.client() as c:
        r = c.post("/api/login", content=iter([body[:10], body[10:]]), headers=FORM)
    assert r.status_code == 200, r.text[:300]
    assert app_server.mailer.to("chunked@example.com")


@SQLITE
def test_limits_come_from_the_settings(settings) -> None:
    from paywall.web.body_limits import limits_from

    limit_for = limits_from(
        settings.model_copy(
            update={"max_body_bytes": 5000, "max_webhook_bytes": 7000, "max_beacon_bytes": 300}
        )
    )
    assert limit_for(WEBHOOK) == 7000
    assert limit_for("/api/e") == 300
    assert limit_for("/api/login") == limit_for("/anything") == 5000
    defaults = limits_from(settings)
    assert (defaults(WEBHOOK), defaults("/api/e"), defaults("/api/login")) == (
        1024 * 1024,
        2048,
        64 * 1024,
    )


def test_a_handler_that_swallows_the_refusal_still_answers_413() -> None:
    """Whatever the app does with `BodyTooLarge`, the client gets 413 and no more is read."""
    from paywall.web.body_limits import BodyLimitMiddleware

    reads = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            while (await receive()).get("more_body"):
                pass
        except Exception:  # noqa: BLE001 - a careless handler
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/login", "headers": []}
    anyio.run(BodyLimitMiddleware(app, lambda _path: 4096), scope, receive, send)
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]
    assert reads == 5
