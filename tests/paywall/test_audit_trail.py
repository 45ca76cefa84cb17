"""The audit trail: append-only in the database itself, sign-ins and admin role changes
recorded with who did them, and `kp audit list [--email] [--since]` showing it, on SQLite
and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text

from kp.commands.audit import register
from paywall.database.migrate import downgrade, upgrade
from paywall.database.models import AuditLog
from paywall.members.audit import audit_lines
from paywall.members.records import find_member
from paywall.members.roles import record_admin_roles

pytestmark = pytest.mark.timeout(120)


def _one_row(pw) -> None:
    with pw.sessions.begin() as db:
        db.add(AuditLog(at=pw.now(), actor="test", action="grant", detail="x"))


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET detail = 'y'", "DELETE FROM audit_log"]
)
def test_the_database_refuses_to_rewrite_the_trail(pw, statement):
    _one_row(pw)
    with pytest.raises(sa_exc.DBAPIError, match="append-only"), pw.engine.begin() as conn:
        conn.execute(text(statement))
    with pw.sessions() as db:
        assert [r.detail for r in db.scalars(select(AuditLog))] == ["x"]


def test_the_guard_comes_and_goes_with_migration_0007(pw):
    _one_row(pw)
    downgrade(pw.settings, "0006")
    with pw.engine.begin() as conn:  # before 0007 nothing stopped it
        conn.execute(text("UPDATE audit_log SET detail = 'rewritten'"))
    upgrade(pw.settings)
    with pytest.raises(sa_exc.DBAPIError, match="append-only"), pw.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET detail = 'again'"))


def test_a_sign_in_is_in_the_trail_by_the_member(app_server):
    client = app_server.client()
    app_server.login(client, "ann@example.com")
    app_server.login(client, "ann@example.com")
    with app_server.pw.sessions() as db:
        member = find_member(db, "ann@example.com")
        lines = audit_lines(db, member_id=member.id)
    assert [(x.action, x.actor, x.detail) for x in lines] == [
        ("sign_in", f"member:{member.id}", "new member"),
        ("sign_in", f"member:{member.id}", ""),
    ]


def test_admin_role_changes_follow_the_setting(pw):
    pw.settings = pw.settings.model_copy(update={"admin_emails": "Boss@example.com, ops@x.io"})
    assert record_admin_roles(pw) == ["+boss@example.com", "+ops@x.io"]
    assert record_admin_roles(pw) == []  # unchanged setting: nothing new
    pw.settings = pw.settings.model_copy(update={"admin_emails": "ops@x.io, new@x.io"})
    assert record_admin_roles(pw) == ["+new@x.io", "-boss@example.com"]
    with pw.sessions() as db:
        rows = [(x.action, x.actor, x.key, x.detail) for x in audit_lines(db)]
    assert rows[-2:] == [
        ("role_grant", "settings", "role:admin", "admin new@x.io"),
        ("role_revoke", "settings", "role:admin", "admin boss@example.com"),
    ]


@click.group()
def kp() -> None:
    """`kp audit` alone (kp.commands.serve registers it on the real group)."""


register(kp)


def test_kp_audit_list_by_email_and_since(pw, settings, clock, grant_access):
    env = {
        "KP_PROJECT_DIR": str(settings.project_dir),
        "KP_DATABASE_URL": settings.database_url,
        "KP_SECRET_KEY": settings.secret_key.get_secret_value(),
        "KP_BASE_URL": settings.base_url,
        "KP_SMTP_HOST": None,
    }
    clock.set(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))
    grant_access("ann@example.com", "course:demo")
    clock.set(dt.datetime(2026, 3, 5, 12, tzinfo=dt.UTC))
    grant_access("bob@example.com", "course:demo")
    grant_access("ann@example.com", "tier:pro")

    def run(*args: str) -> list[list[str]]:
        result = CliRunner().invoke(kp, ["audit", "list", *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return [line.split("\t") for line in result.stdout.splitlines()]

    everything = run()
    assert [(r[3], r[4]) for r in everything] == [
        ("ann@example.com", "course:demo"),
        ("bob@example.com", "course:demo"),
        ("ann@example.com", "tier:pro"),
    ]
    assert everything[0][:3] == ["2026-03-01T12:00:00+00:00", "test", "grant"]
    assert [(r[3], r[4]) for r in run("--email", "ANN@example.com")] == [
        ("ann@example.com", "course:demo"),
        ("ann@example.com", "tier:pro"),
    ]
    assert [(r[3], r[4]) for r in run("--email", "ann@example.com", "--since", "2026-03-02")] == [
        ("ann@example.com", "tier:pro")
    ]
    bad = CliRunner().invoke(kp, ["audit", "list", "--since", "March"], env=env)
    assert bad.exit_code == 2 and "'March' is not a date" in bad.output
    unknown = CliRunner().invoke(kp, ["audit", "list", "--email", "zed@example.com"], env=env)
    assert unknown.exit_code == 1 and "no member with e-mail 'zed@example.com'" in unknown.output
