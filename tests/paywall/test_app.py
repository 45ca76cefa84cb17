"""The assembled app: health, migrations on start, and `kp serve` with zero configuration."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect
from stripe_local.asgi_thread import ServerThread, free_port

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_healthz_ok(app_server) -> None:
    r = httpx.get(app_server.url + "/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}
    assert r.headers["cache-control"] == "no-store"


def test_healthz_503_when_database_unreachable(app_server) -> None:
    pw = app_server.pw
    healthy = pw.engine
    pw.engine = create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none",
        connect_args={"connect_timeout": 2},
    )
    try:
        r = httpx.get(app_server.url + "/healthz", timeout=10)
        assert r.status_code == 503
        assert r.json() == {"status": "error", "database": "unreachable"}
    finally:
        pw.engine.dispose()
        pw.engine = healthy
    assert httpx.get(app_server.url + "/healthz").status_code == 200


def test_app_applies_migrations_on_start(settings, server_port: int, db_url: str) -> None:
    """An empty database (no `kp db upgrade`) gets the schema when the app starts."""
    from paywall.app import create_app

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        assert "members" not in inspect(engine).get_table_names()
        thread = ServerThread(create_app(settings), port=server_port).start()
        try:
            names = set(inspect(engine).get_table_names())
            assert {"members", "sessions", "login_tokens", "alembic_version"} <= names
            assert httpx.get(thread.url + "/healthz").json()["database"] == "ok"
        finally:
            thread.stop()
    finally:
        engine.dispose()


@SQLITE_ONLY
def test_checkout_without_stripe_explains_instead_of_crashing(app_server) -> None:
    r = app_server.client().post("/api/checkout", data={"course": "demo", "from": "/"})
    assert r.status_code in (200, 503)
    assert "STRIPE_SECRET_KEY" in r.text
    assert r.headers["content-type"].startswith("text/html")


@SQLITE_ONLY
def test_unexpected_errors_are_500_without_details(app_server, monkeypatch) -> None:
    import paywall.web.sign_in_routes as routes_auth

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail token=abc")

    monkeypatch.setattr(routes_auth, "me_payload", boom)
    r = app_server.client().get("/api/me")
    assert r.status_code == 500
    assert "secret internal detail" not in r.text


# ---------------------------------------------------------------- kp serve, zero config


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"kp serve exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("kp serve did not become healthy")


def clean_env(project: Path) -> dict[str, str]:
    """The user's environment without any KP_/STRIPE_ setting: nothing configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KP_", "STRIPE_", "SMTP"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_kp_serve_works_with_zero_configuration(built_site: Path) -> None:
    """In a built project dir with no settings: SQLite + secret key in var/, mail to the
    outbox and the console, the public site, sign-in, and the checkout page explaining
    that Stripe is not configured."""
    port = free_port()
    kp = Path(sys.executable).parent / "kp"
    proc = subprocess.Popen(
        [str(kp), "serve", "--port", str(port)],
        cwd=built_site,
        env=clean_env(built_site),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        var = built_site / "var"
        assert (var / "paywall.sqlite3").is_file()
        assert stat.S_IMODE((var / "secret_key").stat().st_mode) == 0o600
        with httpx.Client(base_url=url, headers={"Origin": url}) as c:
            assert "Welcome" in c.get("/").text
            assert c.get("/courses/demo/02-paid/").status_code == 200
            r = c.post("/api/login", data={"email": "zero@example.com", "next": "/account/"})
            assert r.status_code == 200
            outbox = list((var / "outbox").glob("*.eml"))
            assert len(outbox) == 1
            checkout = c.post("/api/checkout", data={"course": "demo"})
            assert checkout.status_code != 500
            assert "STRIPE_SECRET_KEY" in checkout.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert f"listening on http://127.0.0.1:{port}" in output
    assert "/api/login/callback?token=" in output  # the e-mail, echoed to the console
    assert "Stripe:   not configured" in output
    token_lines = [ln for ln in output.splitlines() if "level=" in ln and "token=" in ln]
    assert all("token=[redacted]" in ln for ln in token_lines)
    assert "http.request method=POST path=/api/login status=200" in output


def test_kp_serve_with_unreachable_database_fails_with_one_clear_line(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(tmp_path)
    env["KP_DATABASE_URL"] = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/nodb"
    kp = Path(sys.executable).parent / "kp"
    result = subprocess.run(
        [str(kp), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Error: cannot apply database migrations to postgresql" in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
