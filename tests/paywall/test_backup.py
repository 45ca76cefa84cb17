"""`kp backup` while a real `kp serve` takes Stripe webhooks, `kp restore` into a fresh
database, and the same members and access after; refusals named. SQLite (online backup
API) and PostgreSQL (pg_dump / pg_restore)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from .conftest import WEBHOOK_SECRET, _pg_admin_connect, migrate
from .test_access_across_processes import kp_serve
from .test_app import clean_env

pytestmark = pytest.mark.timeout(240)

KP = Path(sys.executable).parent / "kp"


def kp(project: Path, db_url: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """The real `kp` command line on `db_url`."""
    env = clean_env(project)
    env.update(
        KP_PROJECT_DIR=str(project),
        KP_DATABASE_URL=db_url,
        KP_SECRET_KEY="test-secret-key-not-for-production-0123456789",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    done = subprocess.run(
        [str(KP), *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    if ok:
        assert done.returncode == 0, f"kp {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


@pytest.fixture
def fresh_db(db_url: str, tmp_path: Path) -> Iterator[object]:
    """`fresh_db()`: the URL of another empty database of the same kind as `db_url`."""
    made: list[str] = []

    def make() -> str:
        if db_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / f'restored-{len(made)}-{secrets.token_hex(2)}.sqlite3'}"
        name = f"kp_restore_{secrets.token_hex(4)}"
        with _pg_admin_connect() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return db_url.rsplit("/", 1)[0] + f"/{name}"

    yield make
    with _pg_admin_connect() as admin:
        for name in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def snapshot(db_url: str) -> dict[str, object]:
    """Members, their access and the trail, as comparable values."""
    url = db_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            members = sorted(conn.execute(text("SELECT email, stripe_customer_id FROM members")))
            access = sorted(
                conn.execute(
                    text(
                        "SELECT m.email, e.key, e.source, e.status, e.stripe_object_id "
                        "FROM entitlements e JOIN members m ON m.id = e.member_id"
                    )
                )
            )
            events = sorted(r[0] for r in conn.execute(text("SELECT id FROM stripe_events")))
            audit = conn.execute(text("SELECT COUNT(*) FROM audit_log")).scalar_one()
    finally:
        engine.dispose()
    return {"members": members, "access": access, "events": events, "audit": audit}


def test_backup_while_serving_webhooks_then_restore(
    settings, db_url, stripe_events, deliver, fresh_db, tmp_path
):
    migrate(settings)
    project = settings.project_dir
    purchases = [stripe_events.checkout_session(email=f"buyer{i}@example.com") for i in range(60)]
    with kp_serve(project, db_url, tmp_path / "serve.log") as url:
        failures: list[str] = []

        def pay_all() -> None:
            for event in purchases:
                answer = deliver(url, event)
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")

        payer = threading.Thread(target=pay_all)
        payer.start()
        while snapshot(db_url)["events"] == []:  # the server is writing now
            pass
        during = tmp_path / "during.backup"
        backed = kp(project, db_url, "backup", "--out", str(during))
        payer.join()
        assert failures == []
        assert f"to {during} (" in backed.stdout
        after = tmp_path / "after.backup"
        kp(project, db_url, "backup", "--out", str(after))
    live = snapshot(db_url)
    assert len(live["members"]) == 60 and len(live["events"]) == 60

    # The backup taken mid-stream is one consistent moment: each event it holds comes with
    # the member and purchase it made, and nothing without its event.
    mid = fresh_db()
    restored = kp(project, mid, "restore", str(during))
    assert "restored" in restored.stdout and "at revision" in restored.stdout
    seen = snapshot(mid)
    by_event = {e["id"]: e["data"]["object"]["payment_intent"] for e in purchases}
    assert 0 < len(seen["events"]) <= 60
    assert sorted(r[4] for r in seen["access"]) == sorted(by_event[e] for e in seen["events"])
    assert len(seen["members"]) == len(seen["events"])

    # The final backup restored elsewhere: the same members and access as the live one.
    final = fresh_db()
    kp(project, final, "db", "upgrade")  # the empty schema alone still counts as empty
    kp(project, final, "restore", str(after))
    assert snapshot(final) == live
    # …and `kp serve` starts on the restored database.
    with kp_serve(project, final, tmp_path / "restored.log") as url:
        assert httpx.get(f"{url}/healthz", timeout=10).json()["database"] == "ok"


def test_restore_refuses_a_database_that_is_not_empty(settings, db_url, grant_access, pw, tmp_path):
    project = settings.project_dir
    grant_access("ann@example.com", "course:demo")
    copy = tmp_path / "one.backup"
    kp(project, db_url, "backup", "--out", str(copy))
    grant_access("bob@example.com", "course:demo")
    refused = kp(project, db_url, "restore", str(copy), ok=False)
    assert refused.returncode == 1
    assert "the database is not empty (rows in " in refused.stderr
    assert "--force" in refused.stderr
    assert len(snapshot(db_url)["members"]) == 2  # untouched
    pw.engine.dispose()
    kp(project, db_url, "restore", str(copy), "--force")
    assert [m[0] for m in snapshot(db_url)["members"]] == ["ann@example.com"]


def test_restore_names_what_is_wrong_with_the_file(settings, db_url, tmp_path):
    project = settings.project_dir
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    done = kp(project, db_url, "restore", str(junk), ok=False)
    assert done.returncode == 1 and "is not a backup made by kp backup" in done.stderr
    other = tmp_path / "other.sqlite3"
    other.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    if db_url.startswith("postgresql"):
        done = kp(project, db_url, "restore", str(other), ok=False)
        assert "is a sqlite backup and the database (KP_DATABASE_URL) is postgresql" in done.stderr
    missing_dir = tmp_path / "nowhere" / "x.backup"
    done = kp(project, db_url, "backup", "--out", str(missing_dir), ok=False)
    assert done.returncode == 1 and f"{missing_dir.parent} does not exist" in done.stderr
