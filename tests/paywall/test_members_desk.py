"""`/admin/members/` over real HTTP on SQLite and PostgreSQL: only admins see or do anything
(401/403 for every page and action, nothing changed), search and filters, a member's page,
comp with an end date and a note, end access, a sign-in link, sign out everywhere, CSV
export and import in `kp members`' format, and a refund through the local Stripe server
whose webhook ends the access; every action in the audit trail with the admin's address."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from sqlalchemy import select
from stripe_local.server import LocalStripe

from kp_contract.manifest import read_manifest
from paywall.billing.stripe_sync import sync_catalog
from paywall.database.models import Entitlement, Member
from paywall.members import csv_io
from paywall.members.audit import audit_lines
from paywall.members.records import find_member

from .test_app_purchase import start_checkout

pytestmark = pytest.mark.timeout(180)

ADMIN = "boss@example.com"
DESK = "/admin/members/"


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return {**stripe_settings, "KP_ADMIN_EMAILS": f"{ADMIN.upper()}, other-admin@example.com"}


@pytest.fixture
def admin(app_server):
    client = app_server.client()
    app_server.login(client, ADMIN)
    return client


def member_id(pw, email: str) -> int:
    with pw.sessions() as db:
        return find_member(db, email).id


def trail(pw, email: str) -> list[tuple[str, str, str | None]]:
    with pw.sessions() as db:
        lines = audit_lines(db, member_id=find_member(db, email).id)
    return [(x.actor, x.action, x.key) for x in lines]


def listed(page: str) -> list[str]:
    table = page.split('class="kp-desk-members"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<a href="/admin/members/\d+/\?lang=\w+">([^<]+)</a>', table)


def test_everyone_but_an_admin_gets_401_or_403_on_every_page_and_action(
    app_server, grant_access, count_rows
):
    target = grant_access("ann@example.com", "course:demo")
    with app_server.pw.sessions() as db:
        ent = db.scalar(select(Entitlement.id))
    member = f"{DESK}{target}/"
    gets = [DESK, f"{DESK}export.csv", member]
    posts = {
        f"{member}comp": {"key": "course:demo"},
        f"{member}end": {"entitlement": str(ent)},
        f"{member}refund": {"entitlement": str(ent)},
        f"{member}login-link": {},
        f"{member}sign-out": {},
    }
    stranger = app_server.client()
    reader = app_server.client()
    app_server.login(reader, "reader@example.com")
    audit_before = count_rows("audit_log")
    mails_before = len(app_server.mailer.sent)
    for client, status in ((stranger, 401), (reader, 403)):
        for path in gets:
            r = client.get(path)
            assert r.status_code == status, (path, r.status_code)
            assert "ann@example.com" not in r.text
        for path, data in posts.items():
            r = client.post(path, data=data)
            assert r.status_code == status, (path, r.status_code)
        r = client.post(
            f"{DESK}import", files={"file": ("m.csv", b"email\nnew@example.com\n", "text/csv")}
        )
        assert r.status_code == status
    assert "reader@example.com is not one of them" in reader.get(DESK).text
    assert count_rows("audit_log") == audit_before  # nothing done
    assert len(app_server.mailer.sent) == mails_before
    with app_server.pw.sessions() as db:
        assert db.get(Entitlement, ent).status == "active"
        assert find_member(db, "new@example.com") is None


def test_a_cross_site_form_post_is_refused_even_for_an_admin(app_server, admin, grant_access):
    target = grant_access("ann@example.com", "course:demo")
    r = admin.post(
        f"{DESK}{target}/comp",
        data={"key": "tier:pro"},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403 and "cross-site request rejected" in r.text
    assert ("admin:boss@example.com", "grant", "tier:pro") not in trail(
        app_server.pw, "ann@example.com"
    )


def test_search_and_filters(app_server, admin, grant_access, clock):
    grant_access("ann@example.com", "course:demo", source="purchase", stripe_object_id="pi_a")
    grant_access("bob@example.com", "tier:pro", source="subscription", stripe_object_id="sub_b")
    grant_access("cat@example.com", "course:demo", valid_until=clock() + dt.timedelta(days=1))
    with app_server.pw.sessions.begin() as db:
        find_member(db, "bob@example.com").flagged = "disputed dp_1"
    clock.advance(days=2)  # cat's comp has run out
    everyone = listed(admin.get(DESK).text)
    assert set(everyone) == {"ann@example.com", "bob@example.com", "cat@example.com", ADMIN}
    assert listed(admin.get(DESK, params={"email": "AN"}).text) == ["ann@example.com"]
    assert listed(admin.get(DESK, params={"key": "course:demo"}).text) == ["ann@example.com"]
    ended = admin.get(DESK, params={"key": "course:demo", "state": "ended"}).text
    assert listed(ended) == ["cat@example.com"]
    assert listed(admin.get(DESK, params={"source": "subscription"}).text) == ["bob@example.com"]
    assert listed(admin.get(DESK, params={"flagged": "1"}).text) == ["bob@example.com"]
    assert listed(admin.get(DESK, params={"state": "none"}).text) == [ADMIN]
    bad = admin.get(DESK, params={"source": "gift-card"})
    assert bad.status_code == 400 and "'gift-card' is not one of" in bad.text
    zh = admin.get(DESK, params={"lang": "zh"}).text
    assert "按邮箱搜索" in zh and "导出 CSV" in zh


def test_comp_end_link_and_sign_out_from_a_members_page(app_server, admin, grant_access):
    target = grant_access(
        "ann@example.com", "course:demo", source="purchase", stripe_object_id="pi_x"
    )
    ann = app_server.client()
    app_server.login(ann, "ann@example.com")
    page = admin.get(f"{DESK}{target}/").text
    assert "Member ann@example.com" in page and "pi_x" in page
    assert "https://dashboard.stripe.com/test/payments/pi_x" in page

    r = admin.post(
        f"{DESK}{target}/comp",
        data={"key": "tier:pro", "until": "2099-01-31", "note": "podcast guest"},
    )
    assert r.status_code == 303
    shown = admin.get(r.headers["location"]).text
    assert "Granted tier:pro." in shown
    with app_server.pw.sessions() as db:
        comp = db.scalar(select(Entitlement).where(Entitlement.key == "tier:pro"))
        assert comp.source == "complimentary" and comp.note == "podcast guest"
        assert comp.valid_until == dt.datetime(2099, 2, 1, tzinfo=dt.UTC)  # through that day
    past = admin.post(f"{DESK}{target}/comp", data={"key": "tier:pro", "until": "2001-01-01"})
    assert "already past" in admin.get(past.headers["location"]).text

    r = admin.post(f"{DESK}{target}/end", data={"entitlement": str(comp.id)})
    assert "Access to tier:pro ended." in admin.get(r.headers["location"]).text

    r = admin.post(f"{DESK}{target}/login-link")
    assert "A sign-in link went to ann@example.com." in admin.get(r.headers["location"]).text
    assert "/api/login/callback?token=" in app_server.mailer.to("ann@example.com")[-1].text

    assert ann.get("/api/me").json()["authenticated"] is True
    r = admin.post(f"{DESK}{target}/sign-out")
    assert "Signed out of 1 browser(s)." in admin.get(r.headers["location"]).text
    assert ann.get("/api/me").json()["authenticated"] is False

    actions = [
        (actor, action, key) for actor, action, key in trail(app_server.pw, "ann@example.com")
    ]
    by_admin = [(a, k) for actor, a, k in actions if actor == "admin:boss@example.com"]
    assert by_admin == [
        ("grant", "tier:pro"),
        ("revoke", "tier:pro"),
        ("login_link", None),
        ("sign_out_all", None),
    ]
    page = admin.get(f"{DESK}{target}/").text
    assert page.count('class="kp-audit ') == len(actions)


def test_csv_export_and_import_from_the_page(app_server, admin, grant_access, count_rows):
    grant_access("ann@example.com", "course:demo")
    exported = admin.get(f"{DESK}export.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    with app_server.pw.sessions() as db:
        cli = io.StringIO()
        csv_io.export_members(db, cli)
    assert exported.text == cli.getvalue()  # the same format as `kp members export`

    upload = "email,key,valid_until,note\nzed@example.com,course:demo,2099-12-31,imported\n"
    r = admin.post(
        f"{DESK}import",
        files={"file": ("members.csv", upload.encode(), "text/csv")},
        data={"dry_run": "1"},
    )
    assert r.status_code == 303 and "Checked" in admin.get(r.headers["location"]).text
    with app_server.pw.sessions() as db:
        assert find_member(db, "zed@example.com") is None
    r = admin.post(f"{DESK}import", files={"file": ("members.csv", upload.encode(), "text/csv")})
    assert "members: 1 new" in admin.get(r.headers["location"]).text
    with app_server.pw.sessions() as db:
        zed = find_member(db, "zed@example.com")
        rows = db.scalars(select(Entitlement).where(Entitlement.member_id == zed.id)).all()
        assert [(e.key, e.note) for e in rows] == [("course:demo", "imported")]
    bad = admin.post(
        f"{DESK}import",
        files={"file": ("m.csv", b"email,key\nnot-an-address,course:demo\n", "text/csv")},
    )
    assert bad.status_code == 400
    assert "line 2: email: not an e-mail address: &#x27;not-an-address&#x27;" in bad.text
    with app_server.pw.sessions() as db:
        actions = [x.action for x in audit_lines(db) if x.actor == "admin:boss@example.com"]
    assert actions.count("members_export") == 1 and actions.count("members_import") == 1
    rows = list(csv.DictReader(io.StringIO(admin.get(f"{DESK}export.csv").text)))
    assert {r["email"] for r in rows} >= {"ann@example.com", "zed@example.com"}


def test_refund_through_stripe_ends_access_by_the_webhook(
    app_server, admin, local_stripe: LocalStripe, settings
):
    sync_catalog(local_stripe.client(), read_manifest(settings.manifest_path))
    buyer = app_server.client()
    app_server.login(buyer, "buyer@example.com")
    local_stripe.pay(start_checkout(buyer, {"course": "demo"}))
    pw = app_server.pw
    with pw.sessions() as db:
        member = db.scalar(select(Member).where(Member.email == "buyer@example.com"))
        purchase = db.scalar(select(Entitlement).where(Entitlement.member_id == member.id))
    assert purchase.status == "active" and purchase.stripe_object_id.startswith("pi_")
    page = admin.get(f"{DESK}{member.id}/").text
    assert member.stripe_customer_id in page and "Refund through Stripe" in page

    r = admin.post(f"{DESK}{member.id}/refund", data={"entitlement": str(purchase.id)})
    shown = admin.get(r.headers["location"]).text
    assert "Refund re_" in shown and "asked of Stripe" in shown
    local_stripe.drain()  # events of a /v1 call go out just after its answer
    refunded = local_stripe.events("charge.refunded")
    assert (
        refunded and refunded[-1]["data"]["object"]["payment_intent"] == purchase.stripe_object_id
    )
    with pw.sessions() as db:
        assert db.get(Entitlement, purchase.id).status == "revoked"
    assert "course:demo" not in buyer.get("/api/me").json()["entitlements"]
    actions = trail(pw, "buyer@example.com")
    refund_at = actions.index(("admin:boss@example.com", "refund", "course:demo"))
    revoke = [a for a in actions[refund_at:] if a[1] == "revoke"]
    assert revoke and revoke[0][0].startswith("webhook:evt_")  # the normal webhook path
    again = admin.post(f"{DESK}{member.id}/refund", data={"entitlement": str(purchase.id)})
    assert "already revoked" in admin.get(again.headers["location"]).text
