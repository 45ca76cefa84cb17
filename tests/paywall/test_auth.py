"""Magic-link sign-in, sessions and identity endpoints over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from paywall.database.models import LoginToken, Member, WebSession
from paywall.members.sign_in import safe_next_url

from .conftest import confirm_fields, open_magic_link

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def test_magic_link_signs_in_creates_and_confirms_member(app_server, db) -> None:
    c = app_server.client()
    r = c.post("/api/login", data={"email": " New@Example.com ", "next": "/courses/demo/"})
    assert r.status_code == 200
    assert "Check your inbox" in r.text
    assert db.scalar(select(Member).where(Member.email == "new@example.com")) is None
    link = app_server.outbox.link("new@example.com")
    assert link.startswith(app_server.url + "/api/login/callback?token=")

    r = open_magic_link(c, link)
    assert r.status_code == 303
    assert r.headers["location"] == "/courses/demo/"
    member = db.scalar(select(Member).where(Member.email == "new@example.com"))
    assert member is not None
    assert member.confirmed_at == app_server.clock()
    me = c.get("/api/me").json()
    assert me == {
        "authenticated": True,
        "email": "new@example.com",
        "entitlements": ["member"],
        "lang": "en",
    }


def test_session_cookie_attributes_on_http(app_server) -> None:
    c = app_server.client()
    r = app_server.login(c, "cookie@example.com")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("kp_session=")
    attrs = {a.strip().lower() for a in cookie.split(";")}
    assert "httponly" in attrs
    assert "samesite=lax" in attrs
    assert "path=/" in attrs
    assert "secure" not in attrs  # base URL is plain http
    assert r.headers["referrer-policy"] == "same-origin"  # the token never leaves the site
    assert r.headers["cache-control"] == "private, no-store"


def test_tokens_are_stored_hashed(app_server, db) -> None:
    c = app_server.client()
    c.post("/api/login", data={"email": "hash@example.com"})
    token = token_of(app_server.outbox.link("hash@example.com"))
    row = db.scalar(select(LoginToken).where(LoginToken.email == "hash@example.com"))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr([row.token_hash, row.next_url, row.source, row.ip_hash])
    app_server.login(c, "hash@example.com")
    cookie = c.cookies.get("kp_session")
    sessions = db.scalars(select(WebSession.token_hash)).all()
    assert hashlib.sha256(cookie.encode()).hexdigest() in sessions
    assert cookie not in sessions


def test_magic_link_works_once(app_server) -> None:
    c = app_server.client()
    c.post("/api/login", data={"email": "once@example.com"})
    link = app_server.outbox.link("once@example.com")
    assert open_magic_link(c, link).status_code == 303
    other = app_server.client()
    again = open_magic_link(other, link)
    assert again.status_code == 400
    assert "kp_session" not in again.headers.get("set-cookie", "")
    assert other.get("/api/me").json()["authenticated"] is False


def test_magic_link_expires_after_15_minutes(app_server) -> None:
    c = app_server.client()
    c.post("/api/login", data={"email": "slow@example.com"})
    link = app_server.outbox.link("slow@example.com")
    app_server.clock.advance(minutes=15)
    r = open_magic_link(c, link)
    assert r.status_code == 400
    assert "expired" in r.text


def test_link_used_just_before_expiry_works(app_server) -> None:
    c = app_server.client()
    c.post("/api/login", data={"email": "quick@example.com"})
    app_server.clock.advance(minutes=14, seconds=59)
    assert open_magic_link(c, app_server.outbox.link("quick@example.com")).status_code == 303


@SQLITE_ONLY
@pytest.mark.parametrize("token", ["", "nope", "x" * 500])
def test_unknown_tokens_are_rejected(app_server, token: str) -> None:
    r = app_server.client().get("/api/login/callback", params={"token": token})
    assert r.status_code == 400
    assert "set-cookie" not in r.headers


def test_same_answer_for_known_and_unknown_addresses(app_server, db) -> None:
    c = app_server.client()
    app_server.login(c, "known@example.com")
    anon = app_server.client()
    known = anon.post("/api/login", data={"email": "known@example.com", "next": "/"})
    unknown = anon.post("/api/login", data={"email": "unknown@example.com", "next": "/"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("known@", "X@") == unknown.text.replace("unknown@", "X@")
    assert set(known.headers) == set(unknown.headers)
    as_json = {"Accept": "application/json"}
    kj = anon.post("/api/login", data={"email": "known@example.com"}, headers=as_json).json()
    uj = anon.post("/api/login", data={"email": "unknown@example.com"}, headers=as_json).json()
    assert kj["ok"] is uj["ok"] is True
    # both received a working link; only the wording differs (sign in vs confirm)
    assert app_server.mailer.to("known@example.com")[-1].subject.startswith("Sign in")
    assert app_server.mailer.to("unknown@example.com")[-1].subject.startswith("Confirm")


@SQLITE_ONLY
@pytest.mark.parametrize(
    "bad", ["", "not-an-email", "a@b", "a b@example.com", "x" * 400 + "@e.com"]
)
def test_invalid_email_is_a_400_naming_the_field(app_server, bad: str) -> None:
    c = app_server.client()
    r = c.post("/api/login", data={"email": bad})
    assert r.status_code == 400
    assert "email" in r.text
    j = c.post("/api/login", data={"email": bad}, headers={"Accept": "application/json"})
    assert j.status_code == 400 and j.json()["error"].startswith("email:")
    assert app_server.mailer.sent == []


def test_json_body_is_accepted(app_server) -> None:
    c = app_server.client()
    r = c.post(
        "/api/login",
        json={"email": "js@example.com", "next": "/x/"},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200 and r.json()["ok"] is True
    assert open_magic_link(c, app_server.outbox.link("js@example.com")).headers["location"] == "/x/"


# ---------------------------------------------------------------- rate limits


def test_rate_limit_per_address(app_server) -> None:
    c = app_server.client()
    for i in range(5):
        assert c.post("/api/login", data={"email": "spam@example.com"}).status_code == 200, i
    r = c.post("/api/login", data={"email": "spam@example.com"})
    assert r.status_code == 429
    retry = int(r.headers["retry-after"])
    assert 0 < retry <= 3600
    assert len(app_server.mailer.to("spam@example.com")) == 5
    # the limit is per address: another address from the same client still works
    assert c.post("/api/login", data={"email": "other@example.com"}).status_code == 200
    app_server.clock.advance(seconds=retry)
    assert c.post("/api/login", data={"email": "spam@example.com"}).status_code == 200


def test_rate_limit_per_ip(app_server) -> None:
    """uvicorn trusts X-Forwarded-For from loopback (as behind a local nginx): two clients."""
    attacker = app_server.client(headers={"X-Forwarded-For": "203.0.113.7"})
    for i in range(20):
        r = attacker.post("/api/login", data={"email": f"victim{i}@example.com"})
        assert r.status_code == 200, i
    r = attacker.post("/api/login", data={"email": "victim99@example.com"})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    bystander = app_server.client(headers={"X-Forwarded-For": "198.51.100.2"})
    assert bystander.post("/api/login", data={"email": "ok@example.com"}).status_code == 200


# ---------------------------------------------------------------- redirects


OPEN_REDIRECTS = [
    "//evil.com",
    "//evil.com/path",
    "https://evil.com",
    "http://evil.com/",
    "/\\evil.com",
    "\\\\evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,hi",
    "https:evil.com",
    "//127.0.0.1:1/",
    " //evil.com",
]


@SQLITE_ONLY
def test_open_redirects_are_refused(app_server) -> None:
    for i, next_url in enumerate(OPEN_REDIRECTS):
        address = f"redir{i}@example.com"
        c = app_server.client()
        c.post("/api/login", data={"email": address, "next": next_url})
        r = open_magic_link(c, app_server.outbox.link(address))
        assert r.status_code == 303
        assert r.headers["location"] == "/", next_url


@pytest.mark.parametrize("next_url", OPEN_REDIRECTS)
def test_safe_next_url_refuses_off_site_targets(next_url: str) -> None:
    assert safe_next_url(next_url, "http://127.0.0.1:8000") == "/"


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/account/", "/account/"),
        ("/courses/demo/02-paid/?x=1#top", "/courses/demo/02-paid/?x=1#top"),
        ("{base}/courses/demo/", "/courses/demo/"),
        ("", "/"),
    ],
)
def test_same_site_next_is_kept(app_server, next_url: str, expected: str) -> None:
    c = app_server.client()
    c.post(
        "/api/login", data={"email": "n@example.com", "next": next_url.format(base=app_server.url)}
    )
    assert (
        open_magic_link(c, app_server.outbox.link("n@example.com")).headers["location"] == expected
    )


# ---------------------------------------------------------------- sessions


def test_logout_revokes_the_session_row_and_clears_cookie(app_server, db) -> None:
    c = app_server.client()
    app_server.login(c, "bye@example.com")
    cookie = c.cookies.get("kp_session")
    r = c.post("/api/logout")
    assert r.status_code == 303 and r.headers["location"] == "/"
    set_cookie = r.headers["set-cookie"]
    assert set_cookie.startswith('kp_session=""') or "max-age=0" in set_cookie.lower()
    row = db.scalar(
        select(WebSession).where(
            WebSession.token_hash == hashlib.sha256(cookie.encode()).hexdigest()
        )
    )
    assert row.revoked_at is not None
    replay = app_server.client(cookies={"kp_session": cookie})
    assert replay.get("/api/me").json()["authenticated"] is False


def test_logout_json_and_without_session(app_server) -> None:
    c = app_server.client()
    r = c.post("/api/logout", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json() == {"ok": True}


def test_session_expires_after_30_days(app_server) -> None:
    c = app_server.client()
    app_server.login(c, "month@example.com")
    app_server.clock.advance(days=29)
    assert c.get("/api/me").json()["authenticated"] is True
    app_server.clock.advance(days=1, seconds=1)
    assert c.get("/api/me").json()["authenticated"] is False


def test_signing_in_again_replaces_the_old_session(app_server, db) -> None:
    c = app_server.client()
    app_server.login(c, "twice@example.com")
    first = c.cookies.get("kp_session")
    app_server.login(c, "twice@example.com")
    assert c.cookies.get("kp_session") != first
    revoked = db.scalars(select(WebSession.revoked_at)).all()
    assert sorted(r is None for r in revoked) == [False, True]


def test_forged_cookie_is_anonymous(app_server) -> None:
    c = app_server.client(cookies={"kp_session": "forged-token-value"})
    assert c.get("/api/me").json()["authenticated"] is False
    assert c.get("/api/auth", params={"uri": "/courses/demo/02-paid/"}).status_code == 401


# ---------------------------------------------------------------- /api/me and /api/auth


def test_me_anonymous(app_server) -> None:
    r = app_server.client().get("/api/me")
    assert r.status_code == 200
    assert r.json() == {"authenticated": False, "email": None, "entitlements": [], "lang": "en"}
    assert r.headers["cache-control"] == "private, no-store"


def test_me_lists_active_entitlements(app_server, grant_access) -> None:
    grant_access("me@example.com", "course:demo", "purchase", stripe_object_id="cs_x")
    grant_access("me@example.com", "tier:pro", "subscription", stripe_status="active")
    c = app_server.client()
    app_server.login(c, "me@example.com")
    assert c.get("/api/me").json()["entitlements"] == ["course:demo", "member", "tier:pro"]


def test_auth_endpoint_for_nginx(app_server, grant_access) -> None:
    anon = app_server.client()

    def status(client, uri: str) -> int:  # noqa: ANN001
        return client.get("/api/auth", params={"uri": uri}).status_code

    assert status(anon, "/articles/hello/") == 204
    assert status(anon, "/courses/demo/02-paid/") == 401
    assert status(anon, "/courses/demo/02-paid/index.html") == 401
    assert status(anon, "/courses/demo/02-paid?utm=1") == 401
    assert status(anon, "/courses/demo/%30%32-paid/") == 401
    reader = app_server.client()
    app_server.login(reader, "reader@example.com")
    assert status(reader, "/courses/demo/02-paid/") == 403
    assert status(reader, "/members/") == 204
    grant_access("reader@example.com", "course:demo")
    assert status(reader, "/courses/demo/02-paid/") == 204
    assert status(reader, "/courses/pro-course/01-lesson/") == 403


@SQLITE_ONLY
@pytest.mark.parametrize(
    "uri", ["", "/courses/demo/01-intro/../02-paid/", "/courses/demo/%2e%2e/x", "/a%2fb", "/a\\b"]
)
def test_auth_endpoint_refuses_unsafe_uris(app_server, uri: str) -> None:
    r = app_server.client().get("/api/auth", params={"uri": uri})
    assert r.status_code == 400


def test_send_login_email_api_for_purchases(app_server, pw) -> None:
    """The interface the webhook uses: a purchase e-mail with a working link."""
    from paywall.members.sign_in import send_login_email

    send_login_email(pw, "Buyer@Example.com", "/courses/demo/", reason="purchase")
    mail = app_server.mailer.to("buyer@example.com")[-1]
    assert "purchase" in mail.subject and "confirmed" in mail.subject
    c = app_server.client()
    r = open_magic_link(c, app_server.outbox.link("buyer@example.com"))
    assert r.headers["location"] == "/courses/demo/"


def test_login_link_is_committed_before_the_mail_leaves(pw, monkeypatch) -> None:
    """A link clicked the moment it arrives must work: the token row is visible to another
    connection (another worker) when the mailer is called."""
    from paywall.database.models import LoginToken
    from paywall.members.sign_in import send_login_email

    seen: list[int] = []

    def send(to, subject, text, html=None, headers=None) -> None:
        with pw.sessions() as other:
            rows = other.scalars(select(LoginToken).where(LoginToken.email == to)).all()
            seen.append(len(rows))

    monkeypatch.setattr(pw.mailer, "send", send)
    send_login_email(pw, "fast@example.com", "/", reason="purchase")
    assert seen == [1]


def test_login_mail_has_no_html_injection(app_server) -> None:
    c = app_server.client()
    r = c.post("/api/login", data={"email": '"<script>"@example.com'})
    assert "<script>" not in r.text
    assert re.search(r"&lt;script&gt;|&quot;", r.text) or r.status_code == 400


@SQLITE_ONLY
def test_auth_endpoint_reads_x_original_uri(app_server) -> None:
    c = app_server.client()
    r = c.get("/api/auth", headers={"X-Original-URI": "/courses/demo/02-paid/"})
    assert r.status_code == 401
    assert c.get("/api/auth", headers={"X-Original-URI": "/"}).status_code == 204
    assert c.get("/api/auth").status_code == 400


def test_concurrent_clicks_on_one_link_sign_in_once(app_server, count_rows) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    app_server.client().post("/api/login", data={"email": "race@example.com"})
    link = app_server.outbox.link("race@example.com")

    def click(_: int) -> int:
        with httpx.Client(timeout=30) as c:
            return open_magic_link(c, link).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(click, range(8)))
    assert statuses == [303] + [400] * 7
    assert count_rows("sessions") == 1
    assert count_rows("members") == 1


# ---------------------------------------------------------------- links used against the reader


def ask_for_link(app_server, client, address: str) -> str:
    r = client.post("/api/login", data={"email": address, "next": "/account/"})
    assert r.status_code == 200, r.text[:300]
    return app_server.outbox.link(address)


def test_opening_a_link_never_consumes_it(app_server) -> None:
    """A mail scanner (or anyone) fetching the link gets a page with a button; the link
    still works for its owner afterwards."""
    owner = app_server.client()
    link = ask_for_link(app_server, owner, "scanned@example.com")
    scanner = httpx.Client(timeout=15, follow_redirects=False)
    for _ in range(3):
        page = scanner.get(link)
        assert page.status_code == 200
        assert "Sign in as scanned@example.com?" in page.text
        assert "document.getElementById('kp-confirm').submit()" not in page.text  # not here
        assert "kp_session" not in page.headers.get("set-cookie", "")
    scanner.close()
    assert open_magic_link(owner, link).status_code == 303
    assert owner.get("/api/me").json()["email"] == "scanned@example.com"


def test_the_browser_that_asked_signs_in_by_itself(app_server) -> None:
    c = app_server.client()
    link = ask_for_link(app_server, c, "asker@example.com")
    page = c.get(link)
    assert page.status_code == 200
    assert "document.getElementById('kp-confirm').submit()" in page.text
    assert "Sign in as" not in page.text  # no question for the browser that asked
    assert "no-store" in page.headers["cache-control"]
    assert c.get("/api/me").json()["authenticated"] is False  # the GET alone signed nobody in


def test_a_signed_in_member_is_never_switched_silently(app_server) -> None:
    """Login CSRF: someone sends a signed-in member their own valid link. Opening it asks
    first (naming both accounts); the member stays who they were unless they confirm."""
    victim = app_server.client()
    app_server.login(victim, "victim@example.com")
    attacker = app_server.client()
    link = ask_for_link(app_server, attacker, "attacker@example.com")

    page = victim.get(link)
    assert page.status_code == 200
    assert "You are signed in as victim@example.com" in page.text
    assert "attacker@example.com" in page.text
    assert "document.getElementById('kp-confirm').submit()" not in page.text
    assert victim.get("/api/me").json()["email"] == "victim@example.com"
    # the attacker's link was not used up by the victim's visit
    assert open_magic_link(attacker, link).status_code == 303
    assert attacker.get("/api/me").json()["email"] == "attacker@example.com"


def test_the_confirmation_needs_its_form_value_and_this_site(app_server) -> None:
    c = app_server.client()
    link = ask_for_link(app_server, c, "forms@example.com")
    token = token_of(link)
    assert c.post("/api/login/callback", data={"token": token}).status_code == 400
    forged = {"token": token, "confirm": "0" * 64}
    assert c.post("/api/login/callback", data=forged).status_code == 400
    fields = confirm_fields(c.get(link).text)
    assert fields is not None
    cross = c.post("/api/login/callback", data=fields, headers={"Origin": "https://evil.test"})
    assert cross.status_code == 403
    assert c.get("/api/me").json()["authenticated"] is False
    assert c.post("/api/login/callback", data=fields).status_code == 303  # still unused


def test_a_link_that_never_existed_is_invalid_not_expired(app_server) -> None:
    """Issue 16: a link cut short by a mail program (or mistyped) said "expired"."""
    c = app_server.client()
    c.post("/api/login", data={"email": "cut@example.com"})
    link = app_server.outbox.link("cut@example.com")
    token = token_of(link)
    cut = open_magic_link(c, link.replace(token, token[:-5]))
    assert cut.status_code == 400 and "kp_session" not in cut.headers.get("set-cookie", "")
    assert "Sign-in link not valid" in cut.text and "expired" not in cut.text.lower()
    # A guess gets exactly the same page: nothing to learn about real links.
    guess = open_magic_link(c, link.replace(token, "A" * len(token)))
    assert guess.text == cut.text
    assert open_magic_link(c, link).status_code == 303, "the whole link still works"


def test_a_used_link_says_used_and_an_old_one_expired(app_server) -> None:
    c = app_server.client()
    c.post("/api/login", data={"email": "twice@example.com"})
    used = app_server.outbox.link("twice@example.com")
    assert open_magic_link(c, used).status_code == 303
    again = open_magic_link(app_server.client(), used)
    assert again.status_code == 400 and "Sign-in link already used" in again.text
    c.post("/api/login", data={"email": "late@example.com"})
    late = app_server.outbox.link("late@example.com")
    app_server.clock.advance(minutes=16)
    old = open_magic_link(app_server.client(), late)
    assert old.status_code == 400 and "Sign-in link expired" in old.text
    assert "already used" not in old.text and "twice@example.com" not in again.text


def test_link_pages_in_chinese(app_server) -> None:
    c = app_server.client()
    c.post("/api/login", data={"email": "zh@example.com", "lang": "zh"})
    link = app_server.outbox.link("zh@example.com")
    token = token_of(link)
    page = open_magic_link(c, link.replace(token, token[:-3]))
    assert page.status_code == 400 and "登录链接无效" in page.text
