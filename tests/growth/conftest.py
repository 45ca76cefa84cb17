"""Growth fixtures: the paywall's fixtures (databases on SQLite and PostgreSQL, the hand-made
build, the app over loopback, the outbox, the local Stripe server) re-exported from
tests/paywall/conftest.py, plus a build whose manifest carries growth rules and articles, and
helpers to sign members up through invite links.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import importlib.util
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from stripe_local.asgi_thread import free_port

from kp_contract.growth import GrowthManifest
from kp_contract.manifest import read_manifest, write_manifest

PAYWALL_CONFTEST = Path(__file__).resolve().parents[1] / "paywall" / "conftest.py"


def _paywall_fixtures() -> ModuleType:
    """tests/paywall/conftest.py as a module (importlib import mode puts no test directory
    on sys.path), so its fixtures and helpers serve these tests too."""
    spec = importlib.util.spec_from_file_location("kp_tests_paywall_fixtures", PAYWALL_CONFTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


paywall_fixtures = _paywall_fixtures()
# Fixtures pytest finds by name in this conftest.
pg_database = paywall_fixtures.pg_database
db_url = paywall_fixtures.db_url
server_port = paywall_fixtures.server_port
base_url = paywall_fixtures.base_url
settings_overrides = paywall_fixtures.settings_overrides
settings = paywall_fixtures.settings
clock = paywall_fixtures.clock
mailer = paywall_fixtures.mailer
pw = paywall_fixtures.pw
db = paywall_fixtures.db
outbox = paywall_fixtures.outbox
app_server = paywall_fixtures.app_server
count_rows = paywall_fixtures.count_rows
grant_access = paywall_fixtures.grant_access
stripe_events = paywall_fixtures.stripe_events
deliver = paywall_fixtures.deliver
local_stripe = paywall_fixtures.local_stripe
stripe_settings = paywall_fixtures.stripe_settings

CANARY = paywall_fixtures.CANARY
PRO_CANARY = paywall_fixtures.PRO_CANARY
MEMBERS_CANARY = paywall_fixtures.MEMBERS_CANARY
WEBHOOK_SECRET = paywall_fixtures.WEBHOOK_SECRET
AppServer = paywall_fixtures.AppServer

ARTICLE = "/articles/hello/"
ZH_ARTICLE = "/zh/articles/ni-hao/"
OLD_ARTICLE = "/articles/old-news/"
GROWTH = {
    "true_fans_goal": 10,
    "referral_rewards": [
        {"invites": 3, "course": "demo"},
        {"invites": 5, "tier": "pro", "days": 30},
    ],
}


def growth_articles(today: dt.date) -> list[dict[str, Any]]:
    return [
        {
            "url": ARTICLE,
            "title": "Hello free",
            "date": today - dt.timedelta(days=1),
            "lang": "en",
            "summary": "Why a community beats a mailing list.",
        },
        {
            "url": ZH_ARTICLE,
            "title": "你好社群",
            "date": today - dt.timedelta(days=2),
            "lang": "zh",
            "summary": "社群比邮件列表更有温度。",
        },
        {
            "url": OLD_ARTICLE,
            "title": "Old news",
            "date": today - dt.timedelta(days=90),
            "lang": "en",
            "summary": "Published long ago.",
        },
        {
            "url": "/members/",
            "title": "Members corner",
            "date": today,
            "lang": "en",
            "summary": "Teaser of the members' corner.",
            "access": "members",
        },
    ]


@pytest.fixture
def built_site(tmp_path: Path) -> Path:
    """The paywall tests' hand-made build, plus: growth rules and articles in the manifest
    (3 invites → course demo; 5 → Pro for 30 days; goal 10 true fans), a Chinese article
    page and an old article."""
    project = paywall_fixtures.make_built_site(tmp_path / "project")
    site = project / "site"
    for url, title in ((ZH_ARTICLE, "你好社群"), (OLD_ARTICLE, "Old news")):
        page = site / url.strip("/") / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(paywall_fixtures._page(title, f"<h1>{title}</h1>"), encoding="utf-8")
    manifest_path = project / "private" / "manifest.json"
    manifest = read_manifest(manifest_path)
    growth = GrowthManifest.model_validate(
        {**GROWTH, "articles": growth_articles(dt.datetime.now(dt.UTC).date())}
    )
    write_manifest(manifest.model_copy(update={"growth": growth}), manifest_path)
    return project


# ---------------------------------------------------------------- sign-up helpers


@pytest.fixture
def sign_up(app_server: Any) -> Callable[..., httpx.Client]:
    """`sign_up(email, ref=None, source="/articles/hello/")`: ask for a magic link from a
    page (with an invite code) and follow it; returns the signed-in client."""

    def run(
        email: str, ref: str | None = None, source: str | None = ARTICLE, **extra: str
    ) -> httpx.Client:
        client = app_server.client()
        data = {"email": email, "next": "/account/", **extra}
        if ref is not None:
            data["ref"] = ref
        if source is not None:
            data["from"] = source
        r = client.post("/api/login", data=data)
        assert r.status_code == 200, r.text[:300]
        r = paywall_fixtures.open_magic_link(client, app_server.outbox.link(email))
        assert r.status_code == 303, r.text[:300]
        return client

    return run


@pytest.fixture
def ask_link(app_server: Any) -> Callable[..., str]:
    """`ask_link(email, ref=None)`: request a magic link (not followed); returns it."""

    def run(email: str, ref: str | None = None, **extra: str) -> str:
        data = {"email": email, "next": "/account/", "from": ARTICLE, **extra}
        if ref is not None:
            data["ref"] = ref
        r = app_server.client().post("/api/login", data=data)
        assert r.status_code == 200, r.text[:300]
        return app_server.outbox.link(email)

    return run


# ---------------------------------------------------------------- a real SMTP server


@dataclass
class Inbox:
    messages: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802, ANN201
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if str(m["To"]).lower() == address]


@dataclass
class Smtp:
    inbox: Inbox
    port: int
    controller: Controller

    def restart(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    inbox = Inbox()
    port = free_port()
    server = Smtp(inbox, port, Controller(inbox, hostname="127.0.0.1", port=port))
    server.controller.start()
    yield server
    server.controller.stop()


def text_of(msg: email.message.EmailMessage) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def html_of(msg: email.message.EmailMessage) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


def unsubscribe_link(msg: email.message.EmailMessage) -> str:
    match = re.fullmatch(r"<(http[^>]+)>", str(msg["List-Unsubscribe"]))
    assert match, msg["List-Unsubscribe"]
    return match.group(1)


# ---------------------------------------------------------------- the kp command


@pytest.fixture
def cli_env(settings: Any, pw: Any) -> dict[str, str | None]:
    """The environment `kp` sees: the test project and database (pw has migrated it)."""
    return {
        "KP_PROJECT_DIR": str(settings.project_dir),
        "KP_DATABASE_URL": settings.database_url,
        "KP_SECRET_KEY": settings.secret_key.get_secret_value(),
        "KP_BASE_URL": settings.base_url,
        "KP_ADMIN_EMAILS": settings.admin_emails,
        "KP_SMTP_HOST": settings.smtp_host,
        "KP_SMTP_PORT": str(settings.smtp_port),
        "STRIPE_SECRET_KEY": (
            settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else None
        ),
        "STRIPE_API_BASE": settings.stripe_api_base,
        "STRIPE_WEBHOOK_SECRET": None,
    }


@pytest.fixture
def kp(cli_env: dict[str, str | None]) -> Callable[..., Result]:
    """`kp("stats")`: the real `kp` command group with the test settings."""
    from kp.cli import main

    def run(*args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(main, list(args), env=cli_env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, f"kp {' '.join(args)}: {result.output}"
        return result

    return run
