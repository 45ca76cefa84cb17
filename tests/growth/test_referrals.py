"""Invite rewards over real HTTP, on SQLite and PostgreSQL: confirmed invites count toward the
rules from the manifest (3 → course demo, 5 → Pro for 30 days), each reward is granted once
(also when confirmations race), and self-invites, repeated addresses, existing members and
unconfirmed sign-ups do not count."""

from __future__ import annotations

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from paywall.database.models import AuditLog, Entitlement, Referral, ReferralCode
from paywall.database.models import ReferralReward as EarnedReward
from paywall.growth.referrals import CODE_LENGTH, code_for, normalize_ref
from paywall.members.entitlements import active_keys
from paywall.members.records import find_member, get_or_create_member

from .conftest import paywall_fixtures

open_magic_link = paywall_fixtures.open_magic_link

pytestmark = pytest.mark.timeout(180)


def invite_code(pw, email: str) -> str:
    """The member's code as the account page would create it."""
    with pw.sessions() as db:
        member = find_member(db, email)
        assert member is not None, email
        code = code_for(db, member, pw.now())
        db.commit()
        return code


def invites(pw, email: str) -> int:
    with pw.sessions() as db:
        member = find_member(db, email)
        return int(
            db.scalar(
                select(func.count()).select_from(Referral).where(Referral.referrer_id == member.id)
            )
        )


def rewards(pw, email: str) -> list[tuple[str, str]]:
    with pw.sessions() as db:
        member = find_member(db, email)
        return [
            (r.rule_id, r.key)
            for r in db.scalars(select(EarnedReward).where(EarnedReward.member_id == member.id))
        ]


def reward_audit(pw, email: str) -> list[tuple[str, str | None, str | None]]:
    with pw.sessions() as db:
        member = find_member(db, email)
        return [
            (a.action, a.key, a.source)
            for a in db.scalars(
                select(AuditLog).where(AuditLog.member_id == member.id, AuditLog.source == "reward")
            )
        ]


def test_three_confirmed_invites_grant_the_reward_once(app_server, sign_up, pw, clock):
    host = sign_up("host@example.com")
    page = host.get("/account/")
    assert page.status_code == 200
    link = re.search(r'value="(http[^"]+\?ref=([a-z0-9]+))"', page.text)
    assert link, "the account page shows the invite link"
    code = link.group(2)
    assert len(code) == CODE_LENGTH and normalize_ref(code) == code
    assert "0/3" in page.text

    sign_up("friend1@example.com", ref=code)
    sign_up("friend2@example.com", ref=code)
    assert invites(pw, "host@example.com") == 2
    assert "2/3" in host.get("/account/").text
    assert rewards(pw, "host@example.com") == []

    sign_up("friend3@example.com", ref=code)
    assert invites(pw, "host@example.com") == 3
    assert rewards(pw, "host@example.com") == [("course:demo", "course:demo")]
    with pw.sessions() as db:
        member = find_member(db, "host@example.com")
        assert "course:demo" in active_keys(db, member.id, clock())
        row = db.scalar(select(Entitlement).where(Entitlement.member_id == member.id))
        assert (row.source, row.valid_until) == ("reward", None)
    assert reward_audit(pw, "host@example.com") == [("grant", "course:demo", "reward")]
    # The reward opens the paid lesson.
    assert "CANARY-PAID-7f3a" in host.get("/courses/demo/02-paid/").text

    account = host.get("/account/").text
    assert "3/5" in account and "Pro membership for 30 days" in account
    assert "Rewards earned" in account and "Demo course" in account

    sign_up("friend4@example.com", ref=code)
    sign_up("friend5@example.com", ref=code)
    assert invites(pw, "host@example.com") == 5
    assert sorted(rewards(pw, "host@example.com")) == [
        ("course:demo", "course:demo"),
        ("tier:pro:30d", "tier:pro"),
    ]
    with pw.sessions() as db:
        member = find_member(db, "host@example.com")
        pro = db.scalar(
            select(Entitlement).where(
                Entitlement.member_id == member.id, Entitlement.key == "tier:pro"
            )
        )
        assert pro.valid_until == clock() + dt.timedelta(days=30)
    sign_up("friend6@example.com", ref=code)
    assert invites(pw, "host@example.com") == 6
    assert len(rewards(pw, "host@example.com")) == 2, "each rule pays out once"
    assert [a for a in reward_audit(pw, "host@example.com") if a[0] == "grant"] == [
        ("grant", "course:demo", "reward"),
        ("grant", "tier:pro", "reward"),
    ]
    assert "You have earned every invite reward" in host.get("/account/").text


def test_concurrent_confirmations_cross_the_threshold_once(app_server, sign_up, ask_link, pw):
    """Six friends (one of them with two links) confirm at the same moment."""
    sign_up("host@example.com")
    code = invite_code(pw, "host@example.com")
    links = [ask_link(f"racer{i}@example.com", ref=code) for i in range(6)]
    links.append(ask_link("racer0@example.com", ref=code))  # same address, second link

    def click(link: str) -> int:
        with httpx.Client(timeout=30) as client:
            return open_magic_link(client, link).status_code

    with ThreadPoolExecutor(max_workers=len(links)) as pool:
        statuses = list(pool.map(click, links))
    assert statuses == [303] * len(links)
    assert invites(pw, "host@example.com") == 6
    assert sorted(rewards(pw, "host@example.com")) == [
        ("course:demo", "course:demo"),
        ("tier:pro:30d", "tier:pro"),
    ]
    grants = [a for a in reward_audit(pw, "host@example.com") if a[0] == "grant"]
    assert sorted(grants) == [("grant", "course:demo", "reward"), ("grant", "tier:pro", "reward")]


def test_self_invites_repeats_existing_members_and_unconfirmed_do_not_count(
    app_server, sign_up, ask_link, pw, clock
):
    sign_up("host@example.com")
    code = invite_code(pw, "host@example.com")

    # The referrer's own address through their own link (signing in again).
    sign_up("host@example.com", ref=code)
    # A friend who asks for a link but never clicks it.
    ask_link("lazy@example.com", ref=code)
    # A friend whose link expired before the click.
    late = ask_link("late@example.com", ref=code)
    clock.advance(minutes=16)
    assert httpx.get(late).status_code == 400
    # An address that was a member before the invite (a buyer created by a webhook).
    with pw.sessions() as db:
        get_or_create_member(db, "buyer@example.com", now=clock(), source="stripe checkout")
        db.commit()
    clock.advance(seconds=5)
    sign_up("buyer@example.com", ref=code)
    assert invites(pw, "host@example.com") == 0

    # A real invite counts once, however often that friend comes back through links.
    sign_up("friend@example.com", ref=code)
    sign_up("friend@example.com", ref=code)
    sign_up("Friend@Example.com", ref=code)
    assert invites(pw, "host@example.com") == 1

    # …and not for a second referrer either.
    sign_up("other@example.com")
    other = invite_code(pw, "other@example.com")
    sign_up("friend@example.com", ref=other)
    assert invites(pw, "other@example.com") == 0

    # Garbage codes are ignored, not stored.
    sign_up("stranger@example.com", ref="../../etc<script>")
    with pw.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Referral)) == 1
        assert db.scalar(select(func.count()).select_from(EarnedReward)) == 0
        codes = db.scalars(select(ReferralCode.code)).all()
        assert len(codes) == len(set(codes)) == 2


def test_partner_code_in_a_member_link_is_not_an_invite(app_server, sign_up, pw):
    """`?ref=p-…` names a partner; no member can have such a code."""
    sign_up("host@example.com")
    sign_up("friend@example.com", ref="p-nobody20")
    assert invites(pw, "host@example.com") == 0
    assert normalize_ref("P-Nobody20") == "p-nobody20"
    assert normalize_ref("abc") is None and normalize_ref("x" * 65) is None
