"""Two real `kp serve` processes on one database, as two workers or hosts behind a proxy:
each caches sessions and entitlements, and a refund handled by one (a signed webhook) or a
sign-out on the other is in force on both within the documented bound
(`paywall.members.access_cache.CHECK_INTERVAL`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from stripe_local.asgi_thread import free_port

from paywall.members.access_cache import CHECK_INTERVAL

from .conftest import WEBHOOK_SECRET, migrate
from .test_app import clean_env, wait_healthy

CANARY = "CANARY-PAID-7f3a"
PAID = "/courses/demo/02-paid/"
SLACK = 1.5
"""Seconds allowed beyond the bound for a loaded 2-core machine (polling, the query)."""


@contextlib.contextmanager
def kp_serve(project: Path, db_url: str, log: Path, *, log_level: str = "WARNING") -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_env(project)
    env.update(
        KP_PROJECT_DIR=str(project),
        KP_DATABASE_URL=db_url,
        KP_SECRET_KEY="test-secret-key-not-for-production-0123456789",
        KP_BASE_URL=url,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        KP_LOG_LEVEL=log_level,
    )
    kp = Path(sys.executable).parent / "kp"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(kp), "serve", "--port", str(port)],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            wait_healthy(url, proc)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _lesson(url: str, cookie: str) -> str:
    return httpx.get(url + PAID, headers={"Cookie": cookie}, timeout=10).text


def _seconds_until(url: str, cookie: str, *, full: bool) -> float:
    """How long until `url` serves the full lesson (`full`) or the teaser to `cookie`."""
    start = time.monotonic()
    while (CANARY in _lesson(url, cookie)) is not full:
        if time.monotonic() - start > CHECK_INTERVAL + SLACK:
            shown = "teaser" if full else "full lesson"
            raise AssertionError(f"{url} still serves the {shown} after the bound")
        time.sleep(0.02)
    return time.monotonic() - start


def test_refund_on_one_process_and_sign_out_on_the_other_reach_both(
    settings, db_url: str, stripe_events, deliver, tmp_path: Path
) -> None:
    from paywall.app import make_paywall
    from paywall.members.records import get_or_create_member
    from paywall.members.sign_in import create_session

    migrate(settings)
    pw = make_paywall(settings)
    try:
        with pw.sessions() as db:
            member = get_or_create_member(db, "buyer@example.com", now=pw.now())
            cookie = f"kp_session={create_session(pw, db, member)}"
            other_cookie = f"kp_session={create_session(pw, db, member)}"
            db.commit()
    finally:
        pw.engine.dispose()
    project = settings.project_dir
    with (
        kp_serve(project, db_url, tmp_path / "a.log") as a,
        kp_serve(project, db_url, tmp_path / "b.log") as b,
    ):
        for url in (a, b):
            assert "kp-paywall" in _lesson(url, cookie)  # signed in, not entitled yet
        purchase = stripe_events.checkout_session(email="buyer@example.com")
        assert deliver(a, purchase).status_code == 200
        # Bought on A: A knows at once, B within the bound.
        assert CANARY in _lesson(a, cookie)
        _seconds_until(b, cookie, full=True)
        for _ in range(20):  # both now answer from their caches
            assert CANARY in _lesson(a, cookie) and CANARY in _lesson(b, other_cookie)

        intent = purchase["data"]["object"]["payment_intent"]
        refund = stripe_events.charge_refunded(payment_intent=intent)
        assert deliver(a, refund).status_code == 200
        assert CANARY not in _lesson(a, cookie)
        took = _seconds_until(b, cookie, full=False)
        assert took <= CHECK_INTERVAL + SLACK
        assert CANARY not in _lesson(b, other_cookie)

        # Granted again (a new purchase), then signed out on B: A refuses that cookie too.
        again = stripe_events.checkout_session(email="buyer@example.com")
        assert deliver(b, again).status_code == 200
        assert CANARY in _lesson(b, cookie)
        _seconds_until(a, cookie, full=True)
        out = httpx.post(b + "/api/logout", headers={"Cookie": cookie, "Origin": b}, timeout=10)
        assert out.status_code in (200, 303)
        took = _seconds_until(a, cookie, full=False)
        assert took <= CHECK_INTERVAL + SLACK
        assert CANARY in _lesson(a, other_cookie), "only the signed-out browser lost access"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_kp_serve_runs_on_uvloop(settings, db_url: str, tmp_path: Path) -> None:
    """`kp serve` asks uvicorn for its fast loop and parser ("auto"), both dependencies."""
    import httptools  # noqa: F401  (a dependency: uvicorn's "auto" parser picks it)

    log = tmp_path / "serve.log"
    with kp_serve(settings.project_dir, db_url, log, log_level="INFO"):
        pass
    started = [line for line in log.read_text().splitlines() if "app.started" in line]
    assert started and "loop=uvloop" in started[0], started
