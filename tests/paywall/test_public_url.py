"""One public URL, paywall side: the sign-in e-mail's link, the invite link on /account/,
Stripe Checkout's success and cancel URLs, the billing portal's return URL, the newsletter's
unsubscribe link and the CSRF origin check are all made from one URL: KP_BASE_URL when it
is set (even when the manifest names another), else the `site_url` the build wrote into the
manifest. Real HTTP, the official SDK against the local Stripe test server, SQLite and
PostgreSQL.

The public URL names a host the test never connects to (shop.example.com, on the app's
port): what the app answers then shows which URL it made a link from."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from kp_contract.manifest import read_manifest, write_manifest
from kp_contract.settings import Settings, load_settings
from paywall.billing.stripe_sync import sync_catalog

from .conftest import confirm_fields

pytestmark = pytest.mark.timeout(120)

LESSON = "/courses/demo/02-paid/"
OTHER_BUILD = "http://127.0.0.1:8000/"  # mkdocs.yml's site_url, and the setting's default


@pytest.fixture(params=["manifest", "KP_BASE_URL"])
def source(request: pytest.FixtureRequest) -> str:
    """Where the public URL comes from: the build's manifest (KP_BASE_URL unset), or
    KP_BASE_URL over a manifest that names another URL."""
    return str(request.param)


@pytest.fixture
def public_url(server_port: int) -> str:
    return f"http://shop.example.com:{server_port}"


@pytest.fixture
def settings(
    built_site: Path,
    db_url: str,
    public_url: str,
    source: str,
    stripe_settings: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    monkeypatch.delenv("KP_BASE_URL", raising=False)
    path = built_site / "private" / "manifest.json"
    built_for = f"{public_url}/" if source == "manifest" else OTHER_BUILD
    write_manifest(read_manifest(path).model_copy(update={"site_url": built_for}), path)
    values: dict[str, Any] = {
        "KP_PROJECT_DIR": built_site,
        "KP_DATABASE_URL": db_url,
        "KP_SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "KP_SMTP_HOST": None,
        **stripe_settings,
    }
    if source == "KP_BASE_URL":
        values["KP_BASE_URL"] = public_url
    return load_settings(_env_file=None, **values)


@pytest.fixture
def shop(app_server, local_stripe):
    sync_catalog(local_stripe.client(), app_server.pw.manifest())
    return app_server


def sign_in(shop, client, address: str, public_url: str) -> str:
    """Ask for a link, open it on the app (the link names the public host); the link."""
    asked = client.post("/api/login", data={"email": address, "next": "/account/"})
    assert asked.status_code == 200, asked.text[:300]
    link = shop.outbox.link(address)
    page = client.get(link.removeprefix(public_url))
    fields = confirm_fields(page.text)
    assert fields is not None, page.text[:500]
    assert client.post("/api/login/callback", data=fields).status_code == 303
    return link


def test_every_link_is_made_from_the_public_url(shop, local_stripe, public_url):
    assert shop.settings.base_url == public_url
    browser = shop.client(headers={"Origin": public_url})

    link = sign_in(shop, browser, "reader@example.com", public_url)
    assert link.startswith(f"{public_url}/api/login/callback?token=")

    account = browser.get("/account/")
    invite = re.search(r'value="(http[^"]+\?ref=[a-z0-9]+)"', account.text)
    assert invite is not None, account.text[:800]
    assert invite.group(1).startswith(f"{public_url}/?ref=")

    checkout = browser.post("/api/checkout", data={"course": "demo", "from": LESSON})
    assert checkout.status_code == 303, checkout.text[:300]
    cs = checkout.headers["location"].rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    session = local_stripe.client().v1.checkout.sessions.retrieve(cs)
    assert session.success_url.startswith(f"{public_url}/checkout/success?session_id=")
    assert session.cancel_url == f"{public_url}{LESSON}"
    assert local_stripe.pay(cs).startswith(f"{public_url}/checkout/success?session_id={cs}")

    portal = browser.post("/api/billing-portal")
    assert portal.status_code == 303, portal.text[:300]
    portal_id = portal.headers["location"].rsplit("/", 1)[-1]
    with local_stripe.store.lock:
        portal_session = local_stripe.store.get("billing_portal.session", portal_id)
    assert portal_session["return_url"] == f"{public_url}/account/"

    from paywall.growth.newsletter import unsubscribe_url
    from paywall.members.records import find_member

    with shop.pw.sessions() as db:
        member = find_member(db, "reader@example.com")
        assert member is not None
        assert unsubscribe_url(shop.pw, member).startswith(
            f"{public_url}/api/newsletter/unsubscribe?token="
        )


def test_the_csrf_origin_is_the_public_url(app_server, public_url):
    form = {"email": "origin@example.com", "next": "/"}
    same_site = app_server.client(headers={"Origin": public_url})
    assert same_site.post("/api/login", data=form).status_code == 200
    # The address the app listens on, and the URL mkdocs.yml names, are other sites.
    for other in (app_server.url, OTHER_BUILD.rstrip("/")):
        foreign = app_server.client(headers={"Origin": other})
        refused = foreign.post("/api/login", data=form)
        assert refused.status_code == 403, (other, refused.text[:300])
