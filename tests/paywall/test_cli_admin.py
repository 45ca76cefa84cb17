"""`kp db`, `kp members`, `kp stripe sync` and `kp events` through click (the commands
`kp.commands.serve` registers on `kp`), on SQLite and PostgreSQL, with audit rows checked in the
database."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from kp.commands.admin import register
from kp_contract.manifest import read_manifest, write_manifest
from paywall.database.migrate import downgrade, head_revision
from paywall.database.models import AuditLog, Entitlement, StripeEvent
from paywall.members.csv_io import COLUMNS
from paywall.members.entitlements import active_keys
from paywall.members.records import find_member

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cli_env(settings, pw) -> dict[str, str | None]:
    """The environment `kp` sees: the test project and database (pw has migrated it)."""
    return {
        "KP_PROJECT_DIR": str(settings.project_dir),
        "KP_DATABASE_URL": settings.database_url,
        "KP_SECRET_KEY": settings.secret_key.get_secret_value(),
        "KP_BASE_URL": settings.base_url,
        "KP_SMTP_HOST": None,
        "STRIPE_SECRET_KEY": None,
        "STRIPE_API_BASE": None,
        "STRIPE_WEBHOOK_SECRET": None,
    }


@click.group()
def kp() -> None:
    """The admin half of `kp` (kp.commands.serve registers the same commands on the real group;
    using them directly keeps these tests independent of the site builder)."""


register(kp)


def invoke(env: dict[str, str | None], *args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(kp, list(args), env=env, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, f"kp {' '.join(args)}: {result.output}"
    return result


@pytest.fixture
def run(cli_env):
    """`run("members", "list")`: the real `kp` command with the test settings."""
    return lambda *args, ok=True: invoke(cli_env, *args, ok=ok)


@pytest.fixture
def run_stripe(cli_env, local_stripe):
    """`kp` with STRIPE_SECRET_KEY / STRIPE_API_BASE pointing at the local Stripe server."""
    env = {
        **cli_env,
        "STRIPE_SECRET_KEY": local_stripe.api_key,
        "STRIPE_API_BASE": local_stripe.url,
    }
    return lambda *args, ok=True: invoke(env, *args, ok=ok)


def audit(pw) -> list[tuple[str, str, str | None, str | None]]:
    with pw.sessions() as db:
        return [
            (a.actor, a.action, a.key, a.source)
            for a in db.scalars(select(AuditLog).order_by(AuditLog.id))
        ]


def keys(pw, email: str) -> set[str]:
    """Access right now by the wall clock (the CLI runs on real time, not the test clock)."""
    with pw.sessions() as db:
        member = find_member(db, email)
        return active_keys(db, member.id, dt.datetime.now(dt.UTC)) if member else set()


# ---------------------------------------------------------------- db


def test_db_upgrade_and_current(run):
    head = head_revision()  # the newest migration (0002 since the growth engine)
    assert f"is at revision {head}" in run("db", "upgrade").output
    assert f"revision {head} (up to date)" in run("db", "current").output


# ---------------------------------------------------------------- grant / revoke / list


def test_grant_list_revoke_with_audit_rows(run, pw):
    out = run("members", "grant", "Comp@Example.com", "course:demo", "--note", "podcast guest")
    assert "granted course:demo to comp@example.com with no end date" in out.output
    run("members", "grant", "comp@example.com", "tier:pro", "--until", "2099-12-31")
    assert keys(pw, "comp@example.com") == {"course:demo", "tier:pro"}
    with pw.sessions() as db:
        pro = db.scalar(select(Entitlement).where(Entitlement.key == "tier:pro"))
        assert pro.valid_until.isoformat() == "2100-01-01T00:00:00+00:00"  # through 12-31

    listing = run("members", "list").output
    assert "comp@example.com" in listing and "course:demo, tier:pro" in listing
    detailed = run("members", "list", "--all").output
    assert "tier:pro complimentary active until 2100-01-01 00:00 UTC" in detailed

    assert "revoked 1" in run("members", "revoke", "comp@example.com", "course:demo").output
    assert keys(pw, "comp@example.com") == {"tier:pro"}
    again = run("members", "revoke", "comp@example.com", "course:demo", ok=False)
    assert again.exit_code == 1 and "no active course:demo" in again.output
    assert audit(pw) == [
        ("cli", "grant", "course:demo", "complimentary"),
        ("cli", "grant", "tier:pro", "complimentary"),
        ("cli", "revoke", "course:demo", "complimentary"),
    ]


def test_grant_and_revoke_refuse_bad_input(run, pw):
    cases = [
        (("members", "grant", "not-an-email", "course:demo"), "not an e-mail address"),
        (("members", "grant", "a@example.com", "demo"), "course:<slug>"),
        (("members", "grant", "a@example.com", "course:nope"), "not in the current build"),
        (("members", "grant", "a@example.com", "course:demo", "--until", "2001-01-01"), "past"),
        (("members", "grant", "a@example.com", "course:demo", "--until", "soon"), "not a date"),
        (("members", "revoke", "nobody@example.com", "course:demo"), "no member"),
    ]
    for args, message in cases:
        result = run(*args, ok=False)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    assert audit(pw) == []
    forced = run("members", "grant", "a@example.com", "course:next-year", "--force")
    assert "granted course:next-year" in forced.output


def test_list_json_shows_flags(run, pw):
    run("members", "grant", "x@example.com", "course:demo")
    with pw.sessions.begin() as db:
        find_member(db, "x@example.com").flagged = "disputed dp_1 (fraudulent)"
    line = run("members", "list", "--json").output.strip()
    assert '"access": ["course:demo"]' in line and "disputed dp_1" in line


# ---------------------------------------------------------------- export / import


def _export(run, path: Path) -> list[dict[str, str]]:
    run("members", "export", str(path))
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_export_import_round_trip(run, pw, settings, tmp_path):
    run("members", "grant", "ann@example.com", "course:demo", "--note", "friend")
    run("members", "grant", "ann@example.com", "tier:pro", "--until", "2099-06-30")
    run("members", "grant", "bob@example.com", "course:demo")
    run("members", "revoke", "bob@example.com", "course:demo", "--reason", "asked to")
    with pw.sessions.begin() as db:
        from paywall.members.records import get_or_create_member

        carl = get_or_create_member(db, "carl@example.com", now=pw.now(), lang="zh")
        carl.stripe_customer_id, carl.newsletter = "cus_carl", False
    first = _export(run, tmp_path / "members.csv")
    assert list(first[0]) == COLUMNS
    assert {r["email"] for r in first} == {"ann@example.com", "bob@example.com", "carl@example.com"}
    assert len(first) == 4  # ann x2, bob (revoked row), carl (no entitlement)

    downgrade(settings, "base")  # an empty database (e.g. a new server)
    imported = run("members", "import", str(tmp_path / "members.csv")).output
    assert "3 new, 0 existing" in imported and "3 granted or changed" in imported
    second = _export(run, tmp_path / "again.csv")
    assert second == first
    assert keys(pw, "ann@example.com") == {"course:demo", "tier:pro"}
    assert keys(pw, "bob@example.com") == set()
    assert {(actor, action) for actor, action, _, _ in audit(pw)} == {
        ("cli:import", "grant"),
        ("cli:import", "revoke"),
    }

    again = run("members", "import", str(tmp_path / "members.csv")).output
    assert "0 new, 3 existing" in again and "0 granted or changed, 3 unchanged" in again
    assert len(audit(pw)) == 3  # nothing changed, nothing audited


def test_import_checks_everything_first(run, pw, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "email,key,valid_until\n"
        "ok@example.com,course:demo,2099-01-01\n"
        "broken,course:demo,\n"
        "x@example.com,gold,\n"
        "y@example.com,course:demo,next week\n",
        encoding="utf-8",
    )
    result = run("members", "import", str(bad), ok=False)
    assert result.exit_code == 1 and "nothing imported" in result.output
    assert "line 3: email: not an e-mail address: 'broken'" in result.output
    assert "line 4: key:" in result.output
    assert "line 5: valid_until: 'next week' is not a date" in result.output
    assert find_member_of(pw, "ok@example.com") is None

    unknown = tmp_path / "unknown.csv"
    unknown.write_text("email,plan\nz@example.com,gold\n", encoding="utf-8")
    result = run("members", "import", str(unknown), ok=False)
    assert "unknown column(s) plan" in result.output


def find_member_of(pw, email: str) -> Any:
    with pw.sessions() as db:
        return find_member(db, email)


def test_import_a_ghost_members_export(run, pw, tmp_path):
    ghost = tmp_path / "ghost.csv"
    ghost.write_text(
        "id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,"
        "created_at,deleted_at,labels,tiers\n"
        "6423,reader@example.com,Rea,,true,false,cus_ghost1,2023-04-01T10:00:00.000Z,,vip,\n"
        "6424,quiet@example.com,Q,,false,false,,2023-05-02T11:00:00.000Z,,,\n",
        encoding="utf-8",
    )
    out = run("members", "import", str(ghost)).output
    assert "2 new" in out
    assert "ignored columns: id, name, complimentary_plan, deleted_at, labels, tiers" in out
    reader, quiet = (
        find_member_of(pw, "reader@example.com"),
        find_member_of(pw, "quiet@example.com"),
    )
    assert reader.stripe_customer_id == "cus_ghost1" and reader.newsletter is True
    assert reader.created_at.isoformat() == "2023-04-01T10:00:00+00:00"
    assert quiet.newsletter is False


def test_import_dry_run_changes_nothing(run, pw, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("email,key\nd@example.com,course:demo\n", encoding="utf-8")
    assert (
        "dry run, nothing changed: members: 1 new"
        in run("members", "import", "--dry-run", str(path)).output
    )
    assert find_member_of(pw, "d@example.com") is None


def test_export_to_stdout(run):
    run("members", "grant", "s@example.com", "course:demo")
    rows = list(csv.DictReader(io.StringIO(run("members", "export").stdout)))
    assert [(r["email"], r["key"], r["source"]) for r in rows] == [
        ("s@example.com", "course:demo", "complimentary")
    ]


# ---------------------------------------------------------------- stripe sync


def test_stripe_sync_is_idempotent(local_stripe, settings, run_stripe):
    run_with = run_stripe
    dry = run_with("stripe", "sync", "--dry-run").output
    assert "product kp_course_demo: would be created" in dry
    assert "price demo: would be created" in dry
    assert not local_stripe.client().v1.products.list({"limit": 100}).data
    first = run_with("stripe", "sync").output
    assert "product kp_course_demo: created" in first
    assert "product kp_tier_pro: created" in first
    assert "price demo: created" in first and "price pro-year: created" in first
    assert "product kp_course_pro-course" not in first  # sold through the pro tier
    client = local_stripe.client()
    prices_before = {p.id for p in client.v1.prices.list({"limit": 100}).data}

    second = run_with("stripe", "sync").output
    assert "created" not in second and "replaced" not in second
    assert "5 object(s), 0 changed" in second
    assert {p.id for p in client.v1.prices.list({"limit": 100}).data} == prices_before

    # The course price goes up in front matter: a new price takes over the lookup key.
    path = settings.manifest_path
    manifest = read_manifest(path)
    demo = manifest.courses["demo"]
    new_price = demo.price.model_copy(update={"amount": 5900, "display": "$59"})
    courses = {**manifest.courses, "demo": demo.model_copy(update={"price": new_price})}
    write_manifest(manifest.model_copy(update={"courses": courses}), path)
    dry = run_with("stripe", "sync", "--dry-run").output
    assert "price demo: would be replaced" in dry
    assert {p.id for p in client.v1.prices.list({"limit": 100}).data} == prices_before
    third = run_with("stripe", "sync").output
    assert "price demo: replaced" in third
    (current,) = client.v1.prices.list({"lookup_keys": ["demo"]}).data
    assert current.unit_amount == 5900 and current.active
    old = [client.v1.prices.retrieve(pid) for pid in prices_before]
    assert [p.active for p in old if p.unit_amount == 4900] == [False]
    assert "0 changed" in run_with("stripe", "sync").output


def test_stripe_sync_explains_what_is_missing(run, cli_env, settings):
    result = run("stripe", "sync", ok=False)
    assert result.exit_code == 1 and "STRIPE_SECRET_KEY is not set" in result.output
    settings.manifest_path.unlink()
    result = invoke({**cli_env, "STRIPE_SECRET_KEY": "sk_test_x"}, "stripe", "sync", ok=False)
    assert result.exit_code == 1 and "run `kp build` first" in result.output


# ---------------------------------------------------------------- events


def test_events_list_shows_failed_events_as_pending_until_applied(run, pw, stripe_events):
    from paywall.billing.failed_deliveries import record_failure
    from paywall.billing.webhooks import process_event

    event = stripe_events.checkout_session(email="pending@example.com")
    record_failure(pw, event, "Stripe could not be read: connection refused")
    record_failure(pw, event, "Stripe could not be read: timed out")
    line = next(ln for ln in run("events", "list").output.splitlines() if event["id"] in ln)
    assert "pending: 2 failed attempts" in line and line.endswith("timed out")
    assert event["id"] in run("events", "list", "--pending").output
    assert event["id"] not in run("events", "list", "--pending", "--type", "charge.refunded").output

    process_event(pw, event)  # Stripe's retry, applied
    assert run("events", "list", "--pending").output == ""
    listing = run("events", "list").output
    assert "pending" not in listing and "course:demo active" in listing


def test_events_list_and_replay(run, pw, stripe_events):
    from paywall.billing.webhooks import process_event

    event = stripe_events.checkout_session(email="replay@example.com")
    process_event(pw, event)
    listing = run("events", "list").output
    assert event["id"] in listing and "checkout.session.completed" in listing
    assert "course:demo active" in listing
    # Access lost by mistake (row deleted by hand): replaying the event restores it.
    with pw.sessions.begin() as db:
        db.query(Entitlement).delete()
    assert keys(pw, "replay@example.com") == set()
    out = run("events", "replay", event["id"]).output
    assert "course:demo active" in out
    assert keys(pw, "replay@example.com") == {"course:demo"}
    with pw.sessions() as db:
        assert len(db.scalars(select(StripeEvent)).all()) == 1
    missing = run("events", "replay", "evt_unknown", ok=False)
    assert missing.exit_code == 1 and "STRIPE_SECRET_KEY is not set" in missing.output


def test_replay_fetches_an_event_never_received(run_stripe, pw, local_stripe):
    """Webhooks never reached us (endpoint down): replay fetches the event from Stripe."""
    run_with = run_stripe
    run_with("stripe", "sync")
    client = local_stripe.client()
    local_stripe.hold()  # deliveries queue up and never arrive during this test
    price = client.v1.prices.list({"lookup_keys": ["demo"]}).data[0]
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "http://127.0.0.1/ok?session_id={CHECKOUT_SESSION_ID}",
            "metadata": {"kp_product": "course:demo"},
        }
    )
    local_stripe.pay(session.id, email="offline@example.com")
    (completed,) = local_stripe.events("checkout.session.completed")
    assert keys(pw, "offline@example.com") == set()
    out = run_with("events", "replay", completed["id"]).output
    assert "course:demo active" in out
    assert keys(pw, "offline@example.com") == {"course:demo"}
