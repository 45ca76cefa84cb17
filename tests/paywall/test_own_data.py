"""The member's own data over real HTTP on SQLite and PostgreSQL: download it as JSON,
change the address (only through a link to the new one), delete the account (access ended,
signed out, personal data erased, purchase records kept without the person), and the same
deletion as `kp members delete EMAIL`; every request in the audit trail."""

from __future__ import annotations

import json
import re

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from kp.commands.admin import register
from kp.commands.member_data import register as register_delete
from paywall.database.models import Certificate, Entitlement, LoginToken, Member, StripeEvent
from paywall.members.audit import audit_lines
from paywall.members.progress import mark_done
from paywall.members.records import find_member

from .conftest import WEBHOOK_SECRET

pytestmark = pytest.mark.timeout(120)
CONFIRM_LINK = re.compile(r"http://[^\s]+/account/email/confirm\?token=[A-Za-z0-9_\-]+")


@pytest.fixture
def settings_overrides():
    return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


def actions(pw, member_id: int) -> list[tuple[str, str]]:
    with pw.sessions() as db:
        return [(x.actor, x.action) for x in audit_lines(db, member_id=member_id)]


def test_download_my_data(app_server, grant_access):
    mid = grant_access("ann@example.com", "course:demo")
    ann = app_server.client()
    assert ann.get("/account/data.json").status_code == 401
    app_server.login(ann, "ann@example.com")
    account = ann.get("/account/").text
    assert 'href="/account/data.json"' in account and 'action="/account/delete"' in account
    r = ann.get("/account/data.json")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    data = r.json()
    assert data["account"]["email"] == "ann@example.com"
    assert [(a["key"], a["status"]) for a in data["access"]] == [("course:demo", "active")]
    assert [s["revoked_at"] for s in data["sessions"]] == [None]
    assert any(line["action"] == "sign_in" for line in data["audit_trail"])
    with app_server.pw.sessions() as db:
        hashes = [t.token_hash for t in db.scalars(select(LoginToken))]
    assert hashes and not any(h in r.text for h in hashes)  # no secrets, even hashed
    assert (f"member:{mid}", "data_export") in actions(app_server.pw, mid)


def test_change_email_takes_a_link_to_the_new_address(app_server, grant_access):
    mid = grant_access("ann@example.com", "course:demo")
    grant_access("taken@example.com", "course:demo")
    ann = app_server.client()
    app_server.login(ann, "ann@example.com")
    taken = ann.post("/account/email", data={"new_email": "Taken@example.com"})
    assert taken.status_code == 409 and "already belongs to another account" in taken.text
    r = ann.post("/account/email", data={"new_email": "Ann.New@Example.com"})
    assert r.status_code == 200 and "ann.new@example.com" in r.text
    mail = app_server.mailer.to("ann.new@example.com")[-1]
    link = CONFIRM_LINK.search(mail.text).group(0)
    assert ann.get("/api/me").json()["email"] == "ann@example.com"  # not yet
    page = app_server.client().get(link.removeprefix(app_server.url))  # a mail scanner
    assert page.status_code == 200 and "Move your account to ann.new@example.com?" in page.text
    assert ann.get("/api/me").json()["email"] == "ann@example.com"  # a GET changes nothing
    token = link.split("token=")[1]
    done = ann.post("/account/email/confirm", data={"token": token})
    assert done.status_code == 200 and "now uses ann.new@example.com" in done.text
    me = ann.get("/api/me").json()
    assert me["email"] == "ann.new@example.com" and "course:demo" in me["entitlements"]
    again = ann.post("/account/email/confirm", data={"token": token})
    assert again.status_code == 400
    assert (f"member:{mid}", "email_changed") in actions(app_server.pw, mid)
    with app_server.pw.sessions() as db:
        assert find_member(db, "ann@example.com") is None


def test_delete_my_account(app_server, grant_access, stripe_events, deliver, count_rows):
    purchase = stripe_events.checkout_session(email="ann@example.com")
    assert deliver(app_server.url, purchase).status_code == 200
    ann = app_server.client()
    app_server.login(ann, "ann@example.com")
    with app_server.pw.sessions() as db:
        mid = find_member(db, "ann@example.com").id
        now = app_server.pw.now()
        mark_done(db, mid, "demo", "/courses/demo/02-paid/", now)
        db.add(
            Certificate(
                id="c" * 24,
                member_id=mid,
                course="demo",
                course_title="Demo course",
                name="Ann Example",
                lang="en",
                issued_at=now,
            )
        )
        db.commit()
    exported = ann.get("/account/data.json").json()  # learning is their data too
    assert [d["lesson"] for d in exported["lessons_done"]] == ["/courses/demo/02-paid/"]
    assert [c["name"] for c in exported["certificates"]] == ["Ann Example"]
    audit_before = count_rows("audit_log")
    wrong = ann.post("/account/delete", data={"confirm_email": "someone@example.com"})
    assert wrong.status_code == 400 and ann.get("/api/me").json()["authenticated"]
    r = ann.post("/account/delete", data={"confirm_email": "ANN@example.com"})
    assert r.status_code == 200 and "Your account is deleted" in r.text
    assert "kp_session=" in r.headers["set-cookie"]  # cleared
    assert ann.get("/api/me").json()["authenticated"] is False
    with app_server.pw.sessions() as db:
        member = db.get(Member, mid)
        assert member.email == f"deleted-{mid}@deleted.invalid" and member.deleted_at
        rows = db.scalars(select(Entitlement).where(Entitlement.member_id == mid)).all()
        # The purchase record stays (Stripe's payment id, dates) without the person.
        assert [(e.key, e.status, e.stripe_object_id) for e in rows] == [
            ("course:demo", "revoked", purchase["data"]["object"]["payment_intent"])
        ]
        assert (
            db.scalars(select(LoginToken).where(LoginToken.email == "ann@example.com")).all() == []
        )
        payloads = [json.dumps(e.payload) for e in db.scalars(select(StripeEvent))]
    assert payloads and not any("ann@example.com" in p for p in payloads)
    # What they learned and the certificate in their name (a public page) are gone too.
    assert count_rows("lesson_progress") == 0 and count_rows("certificates") == 0
    assert count_rows("audit_log") > audit_before  # the trail only grew
    assert actions(app_server.pw, mid)[-1] == (f"member:{mid}", "account_deleted")
    # Signing in with the address again is a new, empty account: the old one is gone.
    app_server.login(ann, "ann@example.com")
    me = ann.get("/api/me").json()
    assert me["entitlements"] == ["member"]
    with app_server.pw.sessions() as db:
        assert find_member(db, "ann@example.com").id != mid


@click.group()
def kp() -> None:
    """`kp members` with `delete` (kp.commands.serve registers it on the real group)."""


register(kp)
register_delete(kp)


def test_kp_members_delete(pw, settings, grant_access):
    mid = grant_access("bob@example.com", "tier:pro")
    env = {
        "KP_PROJECT_DIR": str(settings.project_dir),
        "KP_DATABASE_URL": settings.database_url,
        "KP_SECRET_KEY": settings.secret_key.get_secret_value(),
        "KP_SMTP_HOST": None,
        "STRIPE_SECRET_KEY": None,
    }
    result = CliRunner().invoke(kp, ["members", "delete", "bob@example.com", "--yes"], env=env)
    assert result.exit_code == 0, result.output
    assert "deleted the account of bob@example.com" in result.output
    assert "1 access(es) ended" in result.output
    with pw.sessions() as db:
        assert db.get(Member, mid).deleted_at is not None
    assert actions(pw, mid)[-1] == ("cli", "account_deleted")
    again = CliRunner().invoke(kp, ["members", "delete", "bob@example.com", "--yes"], env=env)
    assert again.exit_code == 1 and "no member with e-mail 'bob@example.com'" in again.output
