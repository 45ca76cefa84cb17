"""Members and entitlements on SQLite and PostgreSQL: normalization, validity windows, the
ordering and stickiness rules webhooks rely on, audit rows, and race-safe creation."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from paywall.database.models import AuditLog, Entitlement, Member
from paywall.members.entitlements import (
    Desired,
    InvalidKey,
    active_keys,
    grant,
    is_active,
    is_entitled,
    member_entitlements,
    revoke,
    set_state,
    validate_key,
)
from paywall.members.records import (
    InvalidEmail,
    find_member,
    find_member_by_customer,
    get_or_create_member,
    link_stripe_customer,
    normalize_email,
)

DAY = dt.timedelta(days=1)


def test_email_normalization_and_errors():
    assert normalize_email("  Ann.Lee+news@Example.COM ") == "ann.lee+news@example.com"
    for bad, why in [
        ("", "empty"),
        ("ann", "not an e-mail"),
        ("ann@", "not an e-mail"),
        ("a b@example.com", "not an e-mail"),
        ("a@b@example.com", "not an e-mail"),
        ("x" * 320 + "@example.com", "longer than"),
    ]:
        with pytest.raises(InvalidEmail, match=why):
            normalize_email(bad)


def test_keys_are_validated():
    for good in ("course:demo", "tier:pro", "member", "course:a_b-1.2"):
        assert validate_key(good) == good
    for bad in ("demo", "course:", "tier: pro", "course:x y", "vip:gold", "course:/etc"):
        with pytest.raises(InvalidKey, match="course:<slug>"):
            validate_key(bad)


def test_get_or_create_member_is_case_insensitive(db, pw):
    now = pw.now()
    first = get_or_create_member(db, "Ann@Example.com", now=now, source="/articles/x/")
    again = get_or_create_member(db, "ann@example.COM ", now=now + DAY)
    db.commit()
    assert first.id == again.id
    assert again.created_at == now and again.source == "/articles/x/"
    assert find_member(db, " ANN@example.com") is not None
    assert find_member(db, "not-an-email") is None


def test_concurrent_member_creation_keeps_one_row(pw):
    def create(_: int) -> int:
        with pw.sessions.begin() as db:
            return get_or_create_member(db, "race@example.com", now=pw.now()).id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(create, range(16)))
    assert len(ids) == 1
    with pw.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Member)) == 1


def test_stripe_customer_is_never_stolen(db, pw):
    now = pw.now()
    ann = get_or_create_member(db, "ann@example.com", now=now)
    bob = get_or_create_member(db, "bob@example.com", now=now)
    assert link_stripe_customer(db, ann, "cus_1") is True
    assert link_stripe_customer(db, bob, "cus_1") is False
    assert link_stripe_customer(db, ann, "cus_2") is False  # keeps the first link
    db.commit()
    assert find_member_by_customer(db, "cus_1").id == ann.id
    assert bob.stripe_customer_id is None


def test_validity_window_and_member_key(db, pw):
    now = pw.now()
    ann = get_or_create_member(db, "ann@example.com", now=now)
    row = set_state(
        db,
        ann,
        "course:demo",
        "complimentary",
        Desired(valid_from=now + DAY, valid_until=now + 3 * DAY),
        now=now,
        actor="test",
    )
    db.commit()
    assert not is_active(row, now)
    assert is_active(row, now + DAY)  # valid_from is inclusive
    assert not is_active(row, now + 3 * DAY)  # valid_until is exclusive
    assert active_keys(db, ann.id, now + 2 * DAY) == {"course:demo"}
    assert active_keys(db, ann.id, now + 3 * DAY) == set()
    assert is_entitled(db, ann, ["course:other", "course:demo"], now + 2 * DAY)
    assert not is_entitled(db, ann, ["course:demo"], now)
    assert is_entitled(db, ann, ["member"], now)  # any member may read members-only pages
    assert not is_entitled(db, None, ["member"], now)
    assert not is_entitled(db, ann, [], now)


def test_older_states_never_overwrite_newer_ones(db, pw):
    now = pw.now()
    ann = get_or_create_member(db, "ann@example.com", now=now)
    args = dict(now=now, actor="test", stripe_object_id="sub_1")
    canceled = Desired(status="expired", stripe_status="canceled")
    active = Desired(valid_until=now + 30 * DAY, stripe_status="active")
    assert set_state(db, ann, "tier:pro", "subscription", canceled, stamp=200, **args)
    assert set_state(db, ann, "tier:pro", "subscription", active, stamp=100, **args) is None
    assert set_state(db, ann, "tier:pro", "subscription", active, stamp=200, **args) is None
    # A fresh read from Stripe is the current truth, whatever the stamps say.
    row = set_state(
        db, ann, "tier:pro", "subscription", active, stamp=150, authoritative=True, **args
    )
    assert row is not None and row.status == "active" and row.source_updated_at == 200
    db.commit()
    assert [e.status for e in member_entitlements(db, ann.id)] == ["active"]


def test_revoked_is_sticky_until_an_admin_grants(db, pw):
    now = pw.now()
    ann = get_or_create_member(db, "ann@example.com", now=now)
    args = dict(now=now, actor="test", stripe_object_id="pi_1")
    row = set_state(db, ann, "course:demo", "purchase", Desired(), stamp=10, **args)
    assert revoke(db, row, now=now, actor="test", reason="refunded ch_1") is True
    assert revoke(db, row, now=now, actor="test", reason="again") is False
    assert set_state(db, ann, "course:demo", "purchase", Desired(), stamp=99, **args) is None
    regranted = grant(
        db, ann, "course:demo", "purchase", now=now, actor="cli", **{"stripe_object_id": "pi_1"}
    )
    assert regranted.status == "active"
    db.commit()
    actions = db.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["grant", "revoke", "grant"]


def test_grant_is_idempotent_and_audited_once(db, pw):
    now = pw.now()
    ann = get_or_create_member(db, "ann@example.com", now=now)
    for _ in range(3):
        grant(db, ann, "tier:pro", "complimentary", now=now, actor="cli", note="friend")
    db.commit()
    assert db.scalar(select(func.count()).select_from(Entitlement)) == 1
    (audit,) = db.scalars(select(AuditLog)).all()
    assert (audit.action, audit.actor, audit.key, audit.member_id) == (
        "grant",
        "cli",
        "tier:pro",
        ann.id,
    )
    assert "note=friend" in audit.detail


def test_concurrent_grants_make_one_row(pw):
    with pw.sessions.begin() as db:
        member_id = get_or_create_member(db, "ann@example.com", now=pw.now()).id

    def give(_: int) -> None:
        with pw.sessions.begin() as db:
            member = db.get(Member, member_id)
            grant(db, member, "course:demo", "reward", now=pw.now(), actor="test")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(give, range(16)))
    with pw.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Entitlement)) == 1
        assert db.scalar(select(func.count()).select_from(AuditLog)) == 1


def test_bad_source_and_status_are_rejected(db, pw):
    ann = get_or_create_member(db, "ann@example.com", now=pw.now())
    with pytest.raises(ValueError, match="source 'present'"):
        set_state(db, ann, "course:demo", "present", Desired(), now=pw.now(), actor="t")
    with pytest.raises(ValueError, match="status 'paused'"):
        set_state(db, ann, "course:demo", "reward", Desired("paused"), now=pw.now(), actor="t")


def test_times_come_back_aware_utc(db, pw):
    """SQLite stores no zone; the column type still returns aware UTC times."""
    now = pw.now()
    ann = get_or_create_member(db, "ann@example.com", now=now)
    grant(db, ann, "course:demo", "complimentary", now=now, actor="t", valid_until=now + DAY)
    db.commit()
    db.expire_all()
    row = member_entitlements(db, ann.id)[0]
    assert row.valid_until.tzinfo is not None and row.valid_until == now + DAY
    with pytest.raises(Exception, match="naive datetime"):
        grant(db, ann, "course:x", "complimentary", now=dt.datetime(2030, 1, 1), actor="t")
