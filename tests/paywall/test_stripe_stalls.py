"""A Stripe that does not answer stalls only the requests that need it (issue "Money is never
lost or doubled"): calls to Stripe's API from requests run in a lane of their own
(`paywall.runtime.db_threads.run_stripe`), so with every checkout hanging on Stripe, public
pages still answer at once, and checkouts past the lane's size are answered 503 with
Retry-After within about `KP_DB_BUSY_TIMEOUT` instead of queueing for minutes.

"Stripe" here is a TCP server that accepts connections and never answers, like an API
behind a dead load balancer; it is closed at the end, which fails the hung calls at once."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from stripe_local.asgi_thread import free_port

from paywall.runtime.db_threads import STRIPE_THREADS

pytestmark = pytest.mark.timeout(120)

BUSY = 2.0
CHECKOUTS = 60  # more than the lane and than anyio's default 40 threads


class SilentServer:
    """Accepts every connection and reads nothing back: each call to it hangs."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock = socket.create_server(("127.0.0.1", self.port), backlog=256)
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        """Stop listening (shutdown wakes the blocked accept) and reset every connection."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(timeout=5)
        for conn in self.accepted:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


@pytest.fixture
def silent_stripe() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def settings_overrides(silent_stripe: SilentServer) -> dict[str, Any]:
    return {
        "KP_DB_BUSY_TIMEOUT": BUSY,
        "STRIPE_SECRET_KEY": "sk_test_silent",
        "STRIPE_API_BASE": f"http://127.0.0.1:{silent_stripe.port}",
    }


def _checkout(base: str) -> tuple[int, str | None, float]:
    start = time.perf_counter()
    r = httpx.post(
        base + "/api/checkout",
        data={"course": "demo"},
        headers={"Origin": base, "Accept": "text/html"},
        timeout=100,
    )
    return r.status_code, r.headers.get("retry-after"), time.perf_counter() - start


def test_checkouts_hanging_on_stripe_leave_pages_served_and_overflow_gets_503(
    app_server, silent_stripe: SilentServer
) -> None:
    base = app_server.url
    with ThreadPoolExecutor(CHECKOUTS) as pool:
        futures = [pool.submit(_checkout, base) for _ in range(CHECKOUTS)]
        time.sleep(0.5)  # the first ones are in, hanging on Stripe
        page_times = []
        for path in ("/", "/articles/hello/", "/assets/site.css"):
            start = time.perf_counter()
            assert httpx.get(base + path, timeout=30).status_code == 200
            page_times.append(time.perf_counter() - start)
        deadline = time.monotonic() + BUSY + 5
        while time.monotonic() < deadline:  # the overflow is answered; the lane still hangs
            if sum(f.done() for f in futures) >= CHECKOUTS - STRIPE_THREADS:
                break
            time.sleep(0.1)
        answered = [f for f in futures if f.done()]
        overflow = [f.result() for f in answered]
        hanging = CHECKOUTS - len(answered)
        silent_stripe.close()  # the hung calls fail now (connection reset)
        rest = [f.result() for f in futures if f not in answered]
    print(
        f"pages while Stripe hangs: {', '.join(f'{t * 1000:.0f} ms' for t in page_times)}; "
        f"{len(overflow)} answered while {hanging} hung"
    )
    assert max(page_times) < 1.0
    assert hanging == STRIPE_THREADS, "the lane holds exactly its own threads"
    assert len(overflow) == CHECKOUTS - STRIPE_THREADS
    for status, retry_after, seconds in overflow:
        assert status == 503 and retry_after == str(int(BUSY))
        assert seconds < BUSY + 3
    # Stripe gone for good: the hung checkouts end as the payment provider's error page.
    assert {status for status, _, _ in rest} == {502}
