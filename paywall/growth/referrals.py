"""Invite rewards: every member has a referral link (`?ref=CODE`); friends who sign up with it
and confirm their address count, and the rules in `extra.growth.referral_rewards` grant
rewards (entitlements with source `reward`) when a threshold is reached.

What counts is decided when a magic link is used for the first time (`count_invite`), inside
the sign-in transaction:
- the address was never confirmed before and the member did not exist when the link was
  asked for (an existing member, a buyer or an imported address is not a new sign-up);
- the referrer is someone else;
- the address has not been counted before (unique per address and per member).
The referrer's row is locked while counting (PostgreSQL; SQLite serializes writers anyway),
so concurrent confirmations for one referrer each see the others and a threshold is crossed
exactly once; the `referral_rewards` unique key makes each rule pay out once per member.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kp_contract.growth import GrowthManifest, ReferralReward
from kp_contract.manifest import Manifest
from paywall.database.models import LoginToken, Member, Referral, ReferralCode
from paywall.database.models import ReferralReward as EarnedReward
from paywall.database.upsert import insert_if_absent
from paywall.members.entitlements import grant
from paywall.runtime.context import Paywall
from paywall.runtime.logs import get_logger, kv

log = get_logger("paywall.growth.referrals")

# No look-alikes (0/o, 1/l/i) and no hyphen: partner codes are `p-…`, so the two never clash.
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_LENGTH = 12  # 31**12 ≈ 8·10^17: not guessable, short enough to share
REF_RE = re.compile(r"^[a-z0-9][a-z0-9-]{3,63}$")


def normalize_ref(value: str | None) -> str | None:
    """A well-formed referral/partner code (lower case), or None: anything else a visitor
    puts in `?ref=` is ignored rather than stored."""
    candidate = (value or "").strip().lower()
    return candidate if REF_RE.match(candidate) else None


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_for(db: Session, member: Member, now: dt.datetime) -> str:
    """The member's referral code, created on first use (race-safe: one code per member)."""
    existing = db.scalar(select(ReferralCode.code).where(ReferralCode.member_id == member.id))
    if existing:
        return existing
    insert_if_absent(
        db,
        ReferralCode.__table__,
        {"member_id": member.id, "code": new_code(), "created_at": now},
        ["member_id"],
    )
    code = db.scalar(select(ReferralCode.code).where(ReferralCode.member_id == member.id))
    if code is None:  # pragma: no cover - inserted or present a moment ago
        raise RuntimeError(f"referral code of member {member.id} vanished")
    return code


def referrer_for(db: Session, code: str | None) -> Member | None:
    """The member whose referral code this is."""
    ref = normalize_ref(code)
    if ref is None:
        return None
    return db.scalar(
        select(Member)
        .join(ReferralCode, ReferralCode.member_id == Member.id)
        .where(ReferralCode.code == ref)
    )


def site_root(pw: Paywall) -> str:
    """The public site's address for shared links: the one public URL, as every other link
    (`paywall.app.make_paywall` resolves it; kp_contract.public_url)."""
    return pw.settings.base_url.rstrip("/")


def invite_link(pw: Paywall, code: str) -> str:
    return f"{site_root(pw)}/?ref={code}"


def growth_of(manifest: Manifest | None) -> GrowthManifest:
    """The build's growth settings, or the defaults (no rules) before the first build."""
    return manifest.growth if manifest and manifest.growth else GrowthManifest()


# ---------------------------------------------------------------- counting


def is_new_sign_up(member: Member, token: LoginToken, was_confirmed: bool) -> bool:
    """Confirmed for the first time, and created after the link was asked for: a member,
    buyer or import that existed before is not a new sign-up."""
    return not was_confirmed and member.created_at >= token.created_at


def count_invite(
    pw: Paywall, db: Session, member: Member, token: LoginToken, was_confirmed: bool
) -> Referral | None:
    """Count `member`'s confirmation as an invite of the referrer named by the link's
    `ref`, if it qualifies; apply the referrer's reward rules. Runs in the sign-in's
    transaction; returns the new referral row, or None when nothing counted."""
    referrer = referrer_for(db, token.ref)
    if referrer is None or referrer.id == member.id or referrer.email == member.email:
        return None
    if not is_new_sign_up(member, token, was_confirmed):
        return None
    now = pw.now()
    _lock_member(db, referrer.id)
    inserted = insert_if_absent(
        db,
        Referral.__table__,
        {
            "referrer_id": referrer.id,
            "member_id": member.id,
            "email": member.email,
            "confirmed_at": now,
        },
        ["email"],
    )
    if not inserted:
        return None
    row = db.scalar(select(Referral).where(Referral.email == member.email))
    count = confirmed_invites(db, referrer.id)
    log.info(kv("referral.counted", referrer=referrer.id, member=member.id, count=count))
    apply_rewards(pw, db, referrer, count, now)
    return row


def confirmed_invites(db: Session, member_id: int) -> int:
    return int(
        db.scalar(
            select(func.count()).select_from(Referral).where(Referral.referrer_id == member_id)
        )
        or 0
    )


def apply_rewards(
    pw: Paywall, db: Session, member: Member, count: int, now: dt.datetime
) -> list[EarnedReward]:
    """Grant every rule whose threshold `count` reaches and that the member has not earned
    yet; each grant is an entitlement with source `reward` (audited)."""
    earned = []
    for rule in growth_of(pw.manifest()).rules_in_order():
        if count < rule.invites:
            continue
        until = now + dt.timedelta(days=rule.days) if rule.days else None
        first_time = insert_if_absent(
            db,
            EarnedReward.__table__,
            {
                "member_id": member.id,
                "rule_id": rule.rule_id,
                "key": rule.key,
                "invites": rule.invites,
                "granted_at": now,
                "valid_until": until,
            },
            ["member_id", "rule_id"],
        )
        if not first_time:
            continue
        grant(
            db,
            member,
            rule.key,
            "reward",
            now=now,
            actor=f"referral:{member.id}",
            stripe_object_id=f"referral:{rule.rule_id}",
            valid_until=until,
            note=f"invite reward: {rule.invites} confirmed invites",
        )
        log.info(kv("referral.rewarded", member=member.id, rule=rule.rule_id, key=rule.key))
        earned.append(
            db.scalar(
                select(EarnedReward).where(
                    EarnedReward.member_id == member.id, EarnedReward.rule_id == rule.rule_id
                )
            )
        )
    return [e for e in earned if e is not None]


def _lock_member(db: Session, member_id: int) -> None:
    """Serialize invite counting per referrer on PostgreSQL (row lock until commit)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(Member.id).where(Member.id == member_id).with_for_update())


# ---------------------------------------------------------------- the account page's view


@dataclass(frozen=True)
class InviteStatus:
    """What the account page shows: the link, how many invites count, the next rule to
    reach (None when every rule is earned or there are none), the rewards earned."""

    link: str
    count: int
    next_rule: ReferralReward | None
    earned: list[EarnedReward]
    has_rules: bool


def invite_status(pw: Paywall, db: Session, member: Member) -> InviteStatus:
    """The member's invite link (created if needed), progress and rewards."""
    code = code_for(db, member, pw.now())
    count = confirmed_invites(db, member.id)
    earned = list(
        db.scalars(
            select(EarnedReward)
            .where(EarnedReward.member_id == member.id)
            .order_by(EarnedReward.granted_at, EarnedReward.id)
        )
    )
    done = {e.rule_id for e in earned}
    rules = growth_of(pw.manifest()).rules_in_order()
    pending = [r for r in rules if r.rule_id not in done]
    return InviteStatus(
        invite_link(pw, code), count, pending[0] if pending else None, earned, bool(rules)
    )
