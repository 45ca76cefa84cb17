"""Shared paywall fixtures: databases (SQLite + PostgreSQL), a hand-made build, settings, and
the app served over real loopback HTTP with a movable clock and a recording mailer; then,
in the second part, signed Stripe events and the local Stripe test server.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from sqlalchemy import text
from stripe_local.asgi_thread import ServerThread, free_port

from kp_contract.manifest import (
    SHELL_BODY,
    SHELL_TITLE,
    Course,
    GatedPage,
    Manifest,
    Price,
    Tier,
    write_manifest,
)
from kp_contract.settings import Settings, load_settings
from paywall.app import make_paywall
from paywall.runtime.context import Paywall
from paywall.runtime.mailer import OutboxMailer

PG_HOST = "127.0.0.1"
PG_PORT = 5432
CANARY = "CANARY-PAID-7f3a"
PRO_CANARY = "CANARY-PRO-91c2"
MEMBERS_CANARY = "CANARY-MEMBERS-55d0"
UNLISTED_PRIVATE = "PRIVATE-UNLISTED-0b9e"
OUTSIDE_SECRET = "OUTSIDE-SECRET-d41d"
TEASER_MARK = "kp-paywall"
LINK_RE = re.compile(
    r"https?://[^\s\"'<>]+/api/login/callback\?token=[A-Za-z0-9_\-]+(&lang=[a-z]{2})?"
)


# ---------------------------------------------------------------- databases


def _pg_admin_connect(dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user="postgres",
        dbname=dbname,
        autocommit=True,
        connect_timeout=3,
    )


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped at the end)."""
    try:
        admin = _pg_admin_connect()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} ({exc})")
    name = f"kp_test_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with _pg_admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reset_pg_schema(url: str) -> None:
    """Empty the database: every table (and alembic_version) gone, so migrations start clean."""
    dbname = url.rsplit("/", 1)[1]
    with _pg_admin_connect(dbname) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL: a tmp SQLite file, or the session's PostgreSQL database reset.

    Restrict a test to one backend with
    `@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)`.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'paywall.sqlite3'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")
        _reset_pg_schema(url)
        return url
    raise ValueError(f"db_url: unknown backend {request.param!r} (sqlite or postgresql)")


# ---------------------------------------------------------------- a hand-made build


PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/assets/site.css"></head>
<body><header>Demo Site</header><main>{body}</main></body></html>
"""


def _page(title: str, body: str, lang: str = "en") -> str:
    return PAGE.format(title=title, body=body, lang=lang)


def _teaser(title: str, intro: str, course: str | None) -> str:
    form = (
        f'<form method="post" action="/api/checkout"><input type="hidden" name="course" '
        f'value="{course}"><button>Buy</button></form>'
        if course
        else ""
    )
    return _page(
        title,
        f'<h1>{title}</h1><p>{intro}</p><div class="{TEASER_MARK}">This lesson is for '
        f'members. {form}<a href="/account/">Sign in</a></div>',
    )


def make_built_site(project: Path) -> Path:
    """Write site/, private/ and private/manifest.json as `kp build` would, by hand.

    Also plants files the server must never serve: an unlisted file in private/ and a secret
    next to the project (outside both roots).
    """
    site = project / "site"
    private = project / "private"
    files = {
        site / "index.html": _page("Home", "<h1>Welcome</h1>"),
        site / "404.html": _page("Not found", "<h1>Page not found</h1>"),
        site / "assets" / "site.css": "body { font-family: sans-serif; }\n",
        site / "assets" / "app.js": "console.log('kp');\n",
        site / "assets" / "logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
        site / "articles" / "hello" / "index.html": _page("Hello", "<h1>Hello free</h1>"),
        site / "courses" / "demo" / "index.html": _page("Demo course", "<h1>Demo $49</h1>"),
        site / "courses" / "demo" / "01-intro" / "index.html": _page(
            "Intro", "<h1>Intro</h1><p>free preview lesson</p>"
        ),
        site / "courses" / "demo" / "02-paid" / "index.html": _teaser(
            "Paid lesson", "The first paragraph is public.", "demo"
        ),
        site / "courses" / "pro-course" / "01-lesson" / "index.html": _teaser(
            "Pro lesson", "Pro teaser.", None
        ),
        site / "members" / "index.html": _teaser("Members corner", "Members teaser.", None),
        private / "courses" / "demo" / "02-paid" / "index.html": _page(
            "Paid lesson",
            f"<h1>Paid lesson</h1><p>The first paragraph is public.</p>"
            f"<p>{CANARY} the full paid text.</p>",
        ),
        private / "courses" / "pro-course" / "01-lesson" / "index.html": _page(
            "Pro lesson", f"<h1>Pro lesson</h1><p>{PRO_CANARY}</p>"
        ),
        private / "members" / "index.html": _page("Members", f"<p>{MEMBERS_CANARY}</p>"),
        private / "unlisted" / "index.html": _page("Unlisted", f"<p>{UNLISTED_PRIVATE}</p>"),
        private / "shells" / "en.html": _page(f"{SHELL_TITLE} - Demo Site", SHELL_BODY),
        project / "outside.txt": f"{OUTSIDE_SECRET}\n",
    }
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")

    demo_price = Price(amount=4900, currency="usd", display="$49", lookup_key="demo")
    month = Price(
        amount=900, currency="usd", display="$9", lookup_key="pro-month", interval="month"
    )
    year = Price(amount=9000, currency="usd", display="$90", lookup_key="pro-year", interval="year")
    manifest = Manifest(
        built_at=dt.datetime.now(dt.UTC),
        site_name="Demo Site",
        site_url="",
        courses={
            "demo": Course(
                slug="demo",
                title="Demo course",
                url="/courses/demo/",
                mode="payment",
                price=demo_price,
                lessons=["/courses/demo/01-intro/", "/courses/demo/02-paid/"],
            ),
            "pro-course": Course(
                slug="pro-course",
                title="Pro course",
                url="/courses/pro-course/",
                mode="subscription",
                price=month,
                tier="pro",
                lessons=["/courses/pro-course/01-lesson/"],
            ),
        },
        tiers={
            "pro": Tier(
                name="pro",
                title="Pro membership",
                prices={"month": month, "year": year},
                courses=["pro-course"],
            )
        },
        gated={
            "/courses/demo/02-paid/": GatedPage(
                url="/courses/demo/02-paid/",
                title="Paid lesson",
                private_file="courses/demo/02-paid/index.html",
                requires=["course:demo"],
                course="demo",
            ),
            "/courses/pro-course/01-lesson/": GatedPage(
                url="/courses/pro-course/01-lesson/",
                title="Pro lesson",
                private_file="courses/pro-course/01-lesson/index.html",
                requires=["course:pro-course", "tier:pro"],
                course="pro-course",
            ),
            "/members/": GatedPage(
                url="/members/",
                title="Members corner",
                private_file="members/index.html",
                requires=["member"],
            ),
        },
        shells={"en": "shells/en.html"},
    )
    write_manifest(manifest, private / "manifest.json")
    return project


@pytest.fixture
def built_site(tmp_path: Path) -> Path:
    """A project dir with site/, private/ (canary `CANARY-PAID-7f3a`) and the manifest."""
    return make_built_site(tmp_path / "project")


# ---------------------------------------------------------------- settings and runtime


@pytest.fixture
def server_port() -> int:
    """The loopback port the app will listen on (known early: KP_BASE_URL must name it)."""
    return free_port()


@pytest.fixture
def base_url(server_port: int) -> str:
    return f"http://127.0.0.1:{server_port}"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Extra settings (e.g. Stripe keys from a LocalStripe); override in a test module."""
    return {}


@pytest.fixture
def settings(
    built_site: Path, db_url: str, base_url: str, settings_overrides: dict[str, Any]
) -> Settings:
    values: dict[str, Any] = {
        "KP_PROJECT_DIR": built_site,
        "KP_DATABASE_URL": db_url,
        "KP_SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "KP_BASE_URL": base_url,
        # Keep the developer's environment (.env, SMTP, Stripe) out of the tests.
        "KP_SMTP_HOST": None,
        "STRIPE_SECRET_KEY": None,
        "STRIPE_WEBHOOK_SECRET": None,
        "STRIPE_API_BASE": None,
    }
    values.update(settings_overrides)
    return load_settings(_env_file=None, **values)


class TestClock:
    """A clock the test moves (`advance`) instead of sleeping; starts at real UTC now."""

    __test__ = False

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.current = (start or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self.current

    def advance(self, seconds: float = 0, **delta: float) -> dt.datetime:
        with self._lock:
            self.current += dt.timedelta(seconds=seconds, **delta)
            return self.current

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            self.current = when


@dataclass
class SentMail:
    to: str
    subject: str
    text: str
    html: str | None
    headers: dict[str, str]


class RecordingMailer(OutboxMailer):
    """The development outbox mailer (writes var/outbox) that also keeps messages in memory."""

    def __init__(self, outbox_dir: Path, sender: str) -> None:
        super().__init__(outbox_dir, sender, console=None)
        self.sent: list[SentMail] = []

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().send(to, subject, text, html, headers)
        self.sent.append(SentMail(to, subject, text, html, dict(headers or {})))

    def to(self, address: str) -> list[SentMail]:
        return [m for m in self.sent if m.to.lower() == address.lower()]


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
def mailer(settings: Settings) -> RecordingMailer:
    return RecordingMailer(settings.var_path / "outbox", settings.mail_from)


def migrate(settings: Settings) -> None:
    """Bring the schema to head with the real migrations (what `kp serve` does)."""
    from paywall.database.migrate import upgrade

    upgrade(settings)


@pytest.fixture
def pw(settings: Settings, clock: TestClock, mailer: RecordingMailer) -> Iterator[Paywall]:
    """The runtime context on a migrated, empty database."""
    migrate(settings)
    paywall = make_paywall(settings, mailer=mailer, clock=clock)
    try:
        yield paywall
    finally:
        paywall.engine.dispose()


@pytest.fixture
def db(pw: Paywall) -> Iterator[Any]:
    """A SQLAlchemy session on the test database (committed work is visible to the app)."""
    with pw.sessions() as session:
        yield session


# ---------------------------------------------------------------- outbox


class Outbox:
    """Reads var/outbox/*.eml like a developer would, to find what was mailed to whom."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def messages(self, to: str | None = None) -> list[email.message.EmailMessage]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to is None or str(msg["To"]).lower() == to.lower():
                found.append(msg)
        return found

    def latest(self, to: str) -> email.message.EmailMessage:
        msgs = self.messages(to)
        if not msgs:
            raise AssertionError(f"no e-mail to {to} in {self.directory}")
        return msgs[-1]

    @staticmethod
    def body(msg: email.message.EmailMessage) -> str:
        part = msg.get_body(preferencelist=("plain", "html"))
        assert part is not None, "message has no body"
        return part.get_content()

    def link(self, to: str) -> str:
        """The magic link in the latest message to `to`."""
        body = self.body(self.latest(to))
        match = LINK_RE.search(body)
        if match is None:
            raise AssertionError(f"no magic link in the latest e-mail to {to}:\n{body}")
        return match.group(0)


@pytest.fixture
def outbox(settings: Settings) -> Outbox:
    return Outbox(settings.var_path / "outbox")


CONFIRM_FORM = re.compile(r'<form[^>]*id="kp-confirm"[^>]*>(.*?)</form>', re.S)
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([a-z]+)" value="([^"]*)">')


def confirm_fields(page: str) -> dict[str, str] | None:
    """The fields of the sign-in confirmation form on a page, if it has one."""
    form = CONFIRM_FORM.search(page)
    if form is None:
        return None
    return {name: html.unescape(value) for name, value in HIDDEN_INPUT.findall(form.group(1))}


def open_magic_link(client: httpx.Client, link: str) -> httpx.Response:
    """Open a sign-in link as a reader does: GET shows the page (which, in the browser that
    asked for the link, submits its form by itself), the form's POST signs in. Returns the
    POST's answer (303 to `next` when it worked), or the GET's when it showed no form."""
    page = client.get(link)
    fields = confirm_fields(page.text) if page.status_code == 200 else None
    if fields is None:
        return page
    parts = urlsplit(link)
    origin = f"{parts.scheme}://{parts.netloc}"  # a browser's form post is same-origin
    return client.post(f"{origin}/api/login/callback", data=fields, headers={"Origin": origin})


# ---------------------------------------------------------------- the app over loopback


@dataclass
class AppServer:
    url: str
    pw: Paywall
    clock: TestClock
    mailer: RecordingMailer
    outbox: Outbox
    thread: ServerThread
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.pw.settings

    def client(self, **kwargs: Any) -> httpx.Client:
        """A browser-like client: same-site Origin on unsafe requests, no auto-redirects."""
        headers = {"Origin": self.url, **kwargs.pop("headers", {})}
        c = httpx.Client(
            base_url=self.url, follow_redirects=False, headers=headers, timeout=15, **kwargs
        )
        self.clients.append(c)
        return c

    def login(
        self, client: httpx.Client, email_address: str, next_url: str = "/"
    ) -> httpx.Response:
        """Ask for a magic link, take it from the outbox, follow it: `client` is signed in."""
        r = client.post("/api/login", data={"email": email_address, "next": next_url})
        assert r.status_code in (200, 303), f"POST /api/login: {r.status_code} {r.text[:300]}"
        link = self.outbox.link(email_address)
        r = open_magic_link(client, link)
        assert r.status_code == 303, f"callback: {r.status_code} {r.text[:300]}"
        return r


@pytest.fixture
def app_server(
    pw: Paywall, clock: TestClock, mailer: RecordingMailer, outbox: Outbox, server_port: int
) -> Iterator[AppServer]:
    """`create_app` served over real HTTP on 127.0.0.1 (lifespan runs the migrations)."""
    from paywall.app import create_app

    app = create_app(pw.settings, paywall=pw)
    thread = ServerThread(app, port=server_port).start()
    server = AppServer(thread.url, pw, clock, mailer, outbox, thread)
    try:
        yield server
    finally:
        for c in server.clients:
            c.close()
        thread.stop()


@pytest.fixture
def count_rows(pw: Paywall) -> Any:
    """`count_rows("sessions")`: how many rows a table holds right now."""

    def count(table: str) -> int:
        if not re.fullmatch(r"[a-z_]+", table):
            raise ValueError(f"count_rows: not a table name: {table!r}")
        with pw.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())  # noqa: S608

    return count


@pytest.fixture
def grant_access(pw: Paywall) -> Any:
    """`grant_access(email, key, source=..., valid_until=..., stripe_status=...)`: a member
    (created if new) holding an active entitlement, written through
    `paywall.members.entitlements`."""
    from paywall.members.entitlements import Desired, set_state
    from paywall.members.records import get_or_create_member

    def give(
        email_address: str,
        key: str,
        source: str = "complimentary",
        *,
        valid_until: dt.datetime | None = None,
        stripe_status: str | None = None,
        stripe_object_id: str = "",
        customer_id: str | None = None,
    ) -> int:
        with pw.sessions() as session:
            member = get_or_create_member(session, email_address, now=pw.now())
            if customer_id:
                member.stripe_customer_id = customer_id
            set_state(
                session,
                member,
                key,
                source,
                Desired(status="active", valid_until=valid_until, stripe_status=stripe_status),
                now=pw.now(),
                actor="test",
                stripe_object_id=stripe_object_id,
                reactivate=True,
            )
            session.commit()
            return member.id

    return give


@dataclass
class RawResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes


def raw_request(
    base: str, raw_path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> RawResponse:
    """Send a request line byte for byte (no client-side normalization of `..`, `%2e`, `\\`,
    NUL) and parse the answer: what an attacker's hand-made request looks like."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    lines = [f"{method} {raw_path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return RawResponse(int(status_line.split()[1]), parsed, body)


def _unchunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


@pytest.fixture
def raw_get(app_server: AppServer) -> Any:
    """`raw_get("/%2e%2e/x", headers)` against the running app, bypassing httpx's URL cleanup."""

    def get(raw_path: str, headers: dict[str, str] | None = None) -> RawResponse:
        return raw_request(app_server.url, raw_path, headers=headers)

    return get


# ---------------------------------------------------------------- payments
# Signed Stripe events built by hand (exact Stripe shapes and signatures), delivery over
# real HTTP, and the local Stripe test server for checkout / portal / sync tests.

import json as _json  # noqa: E402
import time as _time  # noqa: E402
from collections.abc import Callable  # noqa: E402

from stripe_local.signing import signature_header  # noqa: E402

WEBHOOK_SECRET = "whsec_test_payments_0123456789"


class StripeEvents:
    """Factory of Stripe event payloads (API shapes of the current version: subscription
    periods on items, invoice subscription under `parent`). Ids are unique per factory;
    `created` defaults to a clock that ticks one second per event, so the order they are
    made in is the order Stripe would have produced them."""

    def __init__(self) -> None:
        self._n = 0
        self.now = int(_time.time()) - 600

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_test{self._n:06d}{secrets.token_hex(4)}"

    def event(self, type_: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
        if created is None:
            self.now += 1
            created = self.now
        return {
            "id": self._id("evt"),
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": created,
            "livemode": False,
            "pending_webhooks": 1,
            "type": type_,
            "data": {"object": obj},
        }

    def checkout_session(
        self,
        *,
        email: str | None = "buyer@example.com",
        product: str | None = "course:demo",
        mode: str = "payment",
        payment_status: str = "paid",
        payment_intent: str | None = None,
        subscription: str | None = None,
        customer: str | None = None,
        member_id: int | None = None,
        type_: str = "checkout.session.completed",
        session_id: str | None = None,
        created: int | None = None,
    ) -> dict[str, Any]:
        meta = {"kp_product": product} if product else {}
        if member_id is not None:
            meta["kp_member_id"] = str(member_id)
        obj = {
            "id": session_id or self._id("cs"),
            "object": "checkout.session",
            "mode": mode,
            "status": "complete",
            "payment_status": payment_status,
            "payment_intent": payment_intent
            if payment_intent is not None or mode != "payment"
            else self._id("pi"),
            "subscription": subscription,
            "customer": customer or self._id("cus"),
            "customer_details": {"email": email} if email else None,
            "customer_email": None,
            "client_reference_id": str(member_id) if member_id is not None else None,
            "metadata": meta,
            "amount_total": 4900,
            "currency": "usd",
        }
        return self.event(type_, obj, created)

    def subscription(
        self,
        type_: str,
        *,
        sub_id: str,
        customer: str,
        status: str = "active",
        period_end: int | None = None,
        period_start: int | None = None,
        product: str | None = "tier:pro",
        cancel_at_period_end: bool = False,
        ended_at: int | None = None,
        created: int | None = None,
    ) -> dict[str, Any]:
        start = self.now - 60
        current_start = period_start if period_start is not None else start
        end = period_end if period_end is not None else current_start + 30 * 86400
        obj = {
            "id": sub_id,
            "object": "subscription",
            "customer": customer,
            "status": status,
            "start_date": start,
            "created": start,
            "cancel_at_period_end": cancel_at_period_end,
            "canceled_at": ended_at,
            "ended_at": ended_at,
            "metadata": {"kp_product": product} if product else {},
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": self._id("si"),
                        "object": "subscription_item",
                        "current_period_start": current_start,
                        "current_period_end": end,
                        "price": {"id": "price_pro_month", "lookup_key": "pro-month"},
                    }
                ],
            },
        }
        return self.event(type_, obj, created)

    def charge_refunded(
        self, *, payment_intent: str, amount: int = 4900, refunded: int = 4900
    ) -> dict[str, Any]:
        obj = {
            "id": self._id("ch"),
            "object": "charge",
            "payment_intent": payment_intent,
            "amount": amount,
            "amount_refunded": refunded,
            "refunded": refunded >= amount,
        }
        return self.event("charge.refunded", obj)

    def dispute(self, *, payment_intent: str, reason: str = "fraudulent") -> dict[str, Any]:
        obj = {
            "id": self._id("dp"),
            "object": "dispute",
            "charge": self._id("ch"),
            "payment_intent": payment_intent,
            "reason": reason,
            "status": "needs_response",
        }
        return self.event("charge.dispute.created", obj)


@pytest.fixture
def stripe_events() -> StripeEvents:
    return StripeEvents()


def signed(
    event: dict[str, Any] | str | bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers exactly as Stripe sends them."""
    if isinstance(event, dict):
        body = _json.dumps(event, separators=(",", ":")).encode()
    else:
        body = event.encode() if isinstance(event, str) else event
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature_header(body, secret, timestamp),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
    return body, headers


@pytest.fixture
def deliver() -> Callable[..., httpx.Response]:
    """`deliver(base_url, event)`: POST a signed event to /api/stripe/webhook (no Origin
    header, like Stripe). Extra keyword arguments go to `signed`."""

    def post(base: str, event: dict[str, Any] | str | bytes, **kwargs: Any) -> httpx.Response:
        body, headers = signed(event, **kwargs)
        with httpx.Client(timeout=30) as client:
            return client.post(f"{base}/api/stripe/webhook", content=body, headers=headers)

    return post


@pytest.fixture
def local_stripe(base_url: str) -> Iterator[Any]:
    """The local Stripe test server, delivering signed webhooks to the app's endpoint
    (`base_url` is known before the app starts). Delivery is synchronous: after `pay()`,
    `refund()`… returns, the app has processed the resulting events."""
    from stripe_local.server import LocalStripe

    with LocalStripe(
        webhook_url=f"{base_url}/api/stripe/webhook", webhook_secret=WEBHOOK_SECRET
    ) as ls:
        yield ls


@pytest.fixture
def stripe_settings(local_stripe: Any) -> dict[str, Any]:
    """Settings that point the official SDK at `local_stripe`; use as `settings_overrides`."""
    return {
        "STRIPE_SECRET_KEY": local_stripe.api_key,
        "STRIPE_API_BASE": local_stripe.url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
