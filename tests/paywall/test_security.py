"""CSRF origin checks, security headers, rate-limit arithmetic, secret key, log redaction."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import stat
from urllib.parse import parse_qs, urlsplit

import pytest

from kp_contract.settings import load_settings
from paywall.runtime.logs import KeyValueFormatter, RedactingFilter, kv, redact
from paywall.runtime.rate_limits import RateLimit
from paywall.runtime.secret import SecretKeyError, load_secret_key
from paywall.web.security import origin_of

from .conftest import open_magic_link

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
PAID_LESSON = "/courses/demo/02-paid/"


# ---------------------------------------------------------------- CSRF


@SQLITE_ONLY
def test_unsafe_request_without_origin_or_referer_is_403_naming_the_header(app_server) -> None:
    c = app_server.client(headers={"Origin": ""})
    del c.headers["Origin"]
    r = c.post("/api/login", data={"email": "a@example.com"})
    assert r.status_code == 403
    assert "Origin" in r.text
    assert app_server.mailer.sent == []


@SQLITE_ONLY
def test_cross_site_origin_is_rejected(app_server) -> None:
    for origin in ("https://evil.com", "null", "http://127.0.0.1.evil.com", "http://localhost:1"):
        c = app_server.client(headers={"Origin": origin})
        for path in ("/api/login", "/api/logout", "/api/checkout", "/api/billing-portal"):
            r = c.post(path, data={"email": "a@example.com", "course": "demo"})
            assert r.status_code == 403, (origin, path)
            assert "Origin header" in r.text
    assert app_server.mailer.sent == []


@SQLITE_ONLY
def test_referer_is_checked_when_origin_is_absent(app_server) -> None:
    c = app_server.client()
    del c.headers["Origin"]
    bad = c.post(
        "/api/login", data={"email": "a@example.com"}, headers={"Referer": "https://evil.com/x"}
    )
    assert bad.status_code == 403 and "Referer header" in bad.text
    good = c.post(
        "/api/login",
        data={"email": "a@example.com"},
        headers={"Referer": app_server.url + "/courses/demo/"},
    )
    assert good.status_code == 200


@SQLITE_ONLY
def test_same_host_other_scheme_via_proxy_is_accepted(app_server) -> None:
    """Behind a TLS proxy the browser says https://host while KP_BASE_URL may say http."""
    c = app_server.client(headers={"Origin": app_server.url.replace("http://", "HTTP://")})
    assert c.post("/api/login", data={"email": "a@example.com"}).status_code == 200


@SQLITE_ONLY
def test_webhook_is_exempt_from_the_origin_check(app_server) -> None:
    c = app_server.client()
    del c.headers["Origin"]
    r = c.post("/api/stripe/webhook", content=b"{}")
    # judged by its Stripe-Signature instead (here: no webhook secret configured → 503)
    assert r.status_code != 403
    assert r.status_code in (400, 503)


@SQLITE_ONLY
def test_safe_methods_need_no_origin(app_server) -> None:
    c = app_server.client(headers={"Origin": "https://evil.com"})
    assert c.get("/api/me").status_code == 200


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://Example.com:80/x", "http://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("https://example.com:8443/", "https://example.com:8443"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
        ("javascript:alert(1)", None),
        ("null", None),
        ("http://", None),
        ("http://x:99999/", None),
    ],
)
def test_origin_of(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


# ---------------------------------------------------------------- headers


@SQLITE_ONLY
def test_security_headers_everywhere(app_server) -> None:
    for path in ("/", "/assets/site.css", "/nope", "/api/me", "/account/", PAID_LESSON):
        r = app_server.client().get(path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin", path
        assert r.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
        assert "strict-transport-security" not in r.headers  # plain http base URL


@SQLITE_ONLY
def test_rejections_carry_security_headers_too(app_server) -> None:
    r = app_server.client(headers={"Origin": "https://evil.com"}).post("/api/logout")
    assert r.status_code == 403
    assert r.headers["x-frame-options"] == "DENY"


def test_hsts_and_secure_cookie_when_base_url_is_https(tmp_path) -> None:
    from starlette.responses import Response

    from paywall.app import make_paywall
    from paywall.members.sign_in import set_session_cookie
    from paywall.runtime.mailer import OutboxMailer
    from paywall.web.security import security_headers

    settings = load_settings(
        _env_file=None,
        KP_PROJECT_DIR=tmp_path,
        KP_BASE_URL="https://shop.example.com",
        KP_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    pw = make_paywall(settings, mailer=OutboxMailer(tmp_path / "out", "x@example.com"))
    response = Response()
    set_session_cookie(pw, response, "tok")
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert (b"strict-transport-security", b"max-age=31536000") in security_headers(https=True)
    pw.engine.dispose()


# ---------------------------------------------------------------- rate limits


def test_rate_limit_retry_after() -> None:
    limit = RateLimit(limit=3, window=dt.timedelta(minutes=10))
    now = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
    times = [now - dt.timedelta(minutes=m) for m in (9, 5, 1)]
    assert limit.retry_after(times[:2], now) is None
    assert limit.retry_after(times, now) == 60  # the oldest leaves the window in 1 minute
    old = [now - dt.timedelta(minutes=11)] * 5
    assert limit.retry_after(old, now) is None


# ---------------------------------------------------------------- secret key


def test_generated_secret_key_is_stable_and_private(tmp_path) -> None:
    settings = load_settings(_env_file=None, KP_PROJECT_DIR=tmp_path, KP_SECRET_KEY=None)
    first = load_secret_key(settings)
    path = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(first) >= 32
    assert load_secret_key(settings) == first
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temp files left


def test_configured_secret_key_wins_and_must_be_long(tmp_path) -> None:
    good = "k" * 40
    settings = load_settings(_env_file=None, KP_PROJECT_DIR=tmp_path, KP_SECRET_KEY=good)
    assert load_secret_key(settings) == good.encode()
    assert not (tmp_path / "var" / "secret_key").exists()
    short = load_settings(_env_file=None, KP_PROJECT_DIR=tmp_path, KP_SECRET_KEY="short")
    with pytest.raises(SecretKeyError, match="KP_SECRET_KEY is 5 characters"):
        load_secret_key(short)


# ---------------------------------------------------------------- logs


@pytest.mark.parametrize(
    ("line", "leak"),
    [
        ("GET /api/login/callback?token=abcDEF123_-x", "abcDEF123_-x"),
        ("cookie kp_session=s3cr3tvalue; other=1", "s3cr3tvalue"),
        ("key sk_test_51Habcdefghijkl used", "51Habcdefghijkl"),
        ("secret whsec_abcdef0123456789", "abcdef0123456789"),
        ("Stripe-Signature: t=1700000000,v1=deadbeefcafe", "deadbeefcafe"),
        ("password=hunter2 user=x", "hunter2"),
        ("Authorization: Bearer eyJhbGciOi.abc.def", "eyJhbGciOi"),
        ("mail to alice.smith@example.com", "alice.smith@"),
    ],
)
def test_redact(line: str, leak: str) -> None:
    assert leak not in redact(line)


def test_kv_quotes_values() -> None:
    assert kv("evt", a=1, b="two words", c=None, d="") == 'evt a=1 b="two words" c=- d=""'


@SQLITE_ONLY
def test_server_logs_carry_no_tokens_emails_or_bodies(app_server) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger("paywall")
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        c = app_server.client()
        c.post("/api/login", data={"email": "private.person@example.com", "next": "/"})
        link = app_server.outbox.link("private.person@example.com")
        open_magic_link(c, link)
        c.get("/api/me")
        c.post("/api/logout")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    logs = stream.getvalue()
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert len(token) > 20
    assert "http.request method=POST path=/api/login/callback status=303" in logs
    assert "auth.link_sent" in logs and "auth.signed_in" in logs
    assert token not in logs
    assert "private.person@" not in logs
    assert "It works once" not in logs  # no e-mail bodies
    for line in logs.splitlines():
        assert line.startswith("ts=") and " level=" in line and " logger=" in line
