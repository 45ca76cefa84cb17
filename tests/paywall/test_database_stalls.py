"""The database never stalls what does not need it (issue "Money is never lost or doubled",
item 5): with a write lock held by someone else, public pages and assets answer at once, and
a request that needs the database gets 503 with Retry-After within about
`KP_DB_BUSY_TIMEOUT`, not a 500 after 30 s. SQLite (`BEGIN IMMEDIATE` from another
connection) and PostgreSQL (`LOCK TABLE … IN ACCESS EXCLUSIVE MODE`, `lock_timeout`)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import anyio
import httpx
import psycopg
import pytest
from stripe_local.asgi_thread import free_port

from kp_contract.settings import load_settings
from paywall.database.engine import make_engine, make_sessionmaker

from .conftest import WEBHOOK_SECRET, signed

BUSY = 2.0  # KP_DB_BUSY_TIMEOUT for these tests
WAITING = 60  # more database-bound requests than any thread pool here has threads
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"KP_DB_BUSY_TIMEOUT": BUSY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


@contextmanager
def write_lock_held(db_url: str) -> Iterator[None]:
    """Another connection holds the database's write lock (SQLite) or an ACCESS EXCLUSIVE
    lock on the tables sign-in and the webhook use (PostgreSQL) until the block ends."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    with psycopg.connect(db_url, autocommit=False) as pg:
        pg.execute("LOCK TABLE login_tokens, stripe_events IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            pg.rollback()


def _client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Origin": base}, timeout=60)


def _login(client: httpx.Client, n: int) -> tuple[int, str | None, float, str]:
    start = time.perf_counter()
    r = client.post("/api/login", data={"email": f"stalled{n}@example.com"})
    return r.status_code, r.headers.get("retry-after"), time.perf_counter() - start, r.text


def _timed_get(base: str, path: str) -> float:
    start = time.perf_counter()
    r = httpx.get(base + path, timeout=30)
    assert r.status_code == 200, (path, r.status_code)
    return time.perf_counter() - start


def test_public_pages_answer_while_database_requests_wait_on_a_lock(
    app_server, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    base = app_server.url
    caplog.set_level(logging.WARNING, logger="paywall")
    clients = [_client(base) for _ in range(WAITING)]  # made first: each loads CA certificates
    with write_lock_held(db_url), ThreadPoolExecutor(WAITING) as pool:
        logins: list[Future[tuple[int, str | None, float, str]]] = [
            pool.submit(_login, client, n) for n, client in enumerate(clients)
        ]
        time.sleep(0.5)  # every sign-in is in, waiting on the lock (or for a database thread)
        page_times = [_timed_get(base, p) for p in ("/", "/articles/hello/", "/assets/site.css")]
        still_waiting = sum(not f.done() for f in logins)
        results = [f.result() for f in logins]
    print(f"static pages while locked: {', '.join(f'{t * 1000:.0f} ms' for t in page_times)}")
    slowest = max(r[2] for r in results)
    print(f"sign-ins: {[r[0] for r in results].count(503)} x 503, slowest {slowest:.2f} s")
    assert still_waiting >= WAITING // 2, "the sign-ins were waiting while pages were served"
    assert max(page_times) < 1.0
    for status, retry_after, seconds, text in results:
        assert status == 503, text[:300]
        assert retry_after is not None and int(retry_after) >= 1
        assert seconds < 2 * BUSY + 2  # a lock wait, plus at most one wait for a thread
    assert "db.unavailable" in caplog.text
    # The lock gone, the same requests work again.
    assert _login(clients[0], 0)[0] == 200
    for client in clients:
        client.close()


def test_a_sign_in_against_a_held_lock_is_503_within_the_busy_timeout(
    app_server, db_url: str
) -> None:
    base = app_server.url
    client = app_server.client()
    with write_lock_held(db_url):
        status, retry_after, seconds, text = _login(client, 1)
        browser = httpx.post(
            base + "/api/login",
            data={"email": "page@example.com"},
            headers={"Origin": base, "Accept": "text/html"},
            timeout=60,
        )
    print(f"sign-in against a held lock: {status} after {seconds:.2f} s")
    assert status == 503 and retry_after == str(int(BUSY))
    assert BUSY * 0.8 < seconds < BUSY + 2
    assert "busy" in text.lower()
    assert browser.status_code == 503 and "<html" in browser.text
    assert "try again in a few seconds" in browser.text


def test_a_webhook_against_a_held_lock_is_503_with_retry_after(
    app_server, db_url: str, stripe_events
) -> None:
    """Stripe retries a 5xx: the event is processed later, nothing is lost."""
    event = stripe_events.checkout_session(email="locked@example.com")
    body, headers = signed(event)
    with write_lock_held(db_url):
        start = time.perf_counter()
        r = httpx.post(app_server.url + "/api/stripe/webhook", content=body, headers=headers)
        seconds = time.perf_counter() - start
    assert r.status_code == 503 and r.headers.get("retry-after"), r.text
    assert seconds < BUSY + 2
    again = httpx.post(app_server.url + "/api/stripe/webhook", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "processed"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_unreachable_database_is_503_not_500(app_server) -> None:
    pw = app_server.pw
    healthy = pw.engine, pw.sessions
    unreachable = load_settings(
        _env_file=None,
        KP_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/none",
        KP_DB_BUSY_TIMEOUT=BUSY,
    )
    pw.engine = make_engine(unreachable)
    pw.sessions = make_sessionmaker(pw.engine)
    try:
        client = app_server.client()
        r = client.post("/api/login", data={"email": "nobody@example.com"})
        assert r.status_code == 503 and r.headers["retry-after"], r.text
        client.cookies.set("kp_session", "x" * 40)
        me = client.get("/api/me")
        assert me.status_code == 503 and me.json()["ok"] is False
        assert client.get("/articles/hello/").status_code == 200
    finally:
        pw.engine.dispose()
        pw.engine, pw.sessions = healthy


def test_database_threads_refuse_a_caller_after_waiting_the_busy_timeout() -> None:
    from paywall.runtime.db_threads import DatabaseBusy, DatabaseThreads

    threads = DatabaseThreads(total=2, wait=0.3)
    release = threading.Event()
    outcomes: list[str] = []

    async def main() -> None:
        async def occupy() -> None:
            await threads.run(release.wait, 5)

        async with anyio.create_task_group() as tg:
            tg.start_soon(occupy)
            tg.start_soon(occupy)
            await anyio.sleep(0.1)
            assert threads.busy == 2
            start = time.perf_counter()
            try:
                await threads.run(lambda: None)
            except DatabaseBusy as exc:
                outcomes.append(f"busy after {time.perf_counter() - start:.1f} s: {exc}")
            release.set()
        assert threads.busy == 0
        assert await threads.run(lambda x: x + 1, 41) == 42

    anyio.run(main)
    assert len(outcomes) == 1 and "busy after 0.3 s" in outcomes[0], outcomes


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_engine_waits_the_configured_busy_timeout(settings) -> None:
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            from sqlalchemy import text

            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == int(BUSY * 1000)
        assert engine.pool.timeout() == BUSY  # type: ignore[attr-defined]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_sessions_have_a_lock_timeout(pg_database: str) -> None:
    engine = make_engine(
        load_settings(_env_file=None, KP_DATABASE_URL=pg_database, KP_DB_BUSY_TIMEOUT=BUSY)
    )
    try:
        with engine.connect() as conn:
            from sqlalchemy import text

            assert conn.execute(text("SHOW lock_timeout")).scalar() == f"{int(BUSY)}s"
    finally:
        engine.dispose()


@contextmanager
def session_writes_locked(db_url: str) -> Iterator[None]:
    """Another connection holds the write lock (SQLite) or an EXCLUSIVE lock on `sessions`
    (PostgreSQL: reads still go on, writes wait): a member's `last_seen_at` cannot be written."""
    if db_url.startswith("sqlite"):
        with write_lock_held(db_url):
            yield
        return
    with psycopg.connect(db_url, autocommit=False) as pg:
        pg.execute("LOCK TABLE sessions IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            pg.rollback()


def test_a_signed_in_reader_is_served_while_the_last_seen_write_cannot_be_made(
    app_server, db_url: str, grant_access
) -> None:
    """Noting when a session was last used is bookkeeping: with the database refusing
    writes, a member's page and `/api/me` still answer (after the lock wait), not 503."""
    from .conftest import CANARY

    grant_access("reader@example.com", "course:demo")
    client = app_server.client()
    app_server.login(client, "reader@example.com")
    app_server.clock.advance(minutes=10)  # past LAST_SEEN_RESOLUTION: a write is due
    with session_writes_locked(db_url):
        me = client.get("/api/me")
        lesson = client.get("/courses/demo/02-paid/")
    assert me.status_code == 200 and me.json()["email"] == "reader@example.com"
    assert lesson.status_code == 200 and CANARY in lesson.text
