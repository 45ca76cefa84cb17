"""The account page's growth part: the member's invite link, progress toward the next invite
reward, the rewards earned, and the newsletter setting."""

from __future__ import annotations

from kp_contract.growth import ReferralReward
from kp_contract.manifest import Manifest
from paywall.database.models import Member
from paywall.database.models import ReferralReward as ReferralRewardRow
from paywall.growth.newsletter import newsletter_section
from paywall.growth.referrals import InviteStatus, invite_status
from paywall.growth.texts import gt
from paywall.runtime.context import Paywall
from paywall.runtime.lang import format_date
from paywall.runtime.pages import esc


def reward_title(manifest: Manifest | None, key: str, days: int | None, lang: str) -> str:
    """'Launch course', 'Pro membership for 30 days' (titles in the reader's language)."""
    kind, _, name = key.partition(":")
    title = name
    if manifest is not None and kind == "course" and name in manifest.courses:
        title = manifest.courses[name].title
    elif manifest is not None and kind == "tier" and name in manifest.tiers:
        title = manifest.tiers[name].title_in(lang)
    return gt(lang, "reward_for_days", title=title, days=days) if days else title


def rule_title(manifest: Manifest | None, rule: ReferralReward, lang: str) -> str:
    return reward_title(manifest, rule.key, rule.days, lang)


def invites_section(manifest: Manifest | None, status: InviteStatus, lang: str) -> str:
    parts = [
        f'<h2 id="invite">{esc(gt(lang, "invite_title"))}</h2>',
        f"<p>{esc(gt(lang, 'invite_intro'))}</p>",
        f'<p><label for="kp-invite-link">{esc(gt(lang, "invite_link_label"))}</label><br>'
        f'<input id="kp-invite-link" class="kp-invite-link" type="text" readonly size="40" '
        f'value="{esc(status.link)}"></p>',
    ]
    if status.next_rule is not None:
        progress = gt(
            lang,
            "invite_progress",
            count=min(status.count, status.next_rule.invites),
            needed=status.next_rule.invites,
            reward=rule_title(manifest, status.next_rule, lang),
        )
        parts.append(
            f'<p class="kp-invite-progress"><progress max="{status.next_rule.invites}" '
            f'value="{min(status.count, status.next_rule.invites)}"></progress> '
            f"{esc(progress)}</p>"
        )
    elif status.has_rules:
        parts.append(f'<p class="kp-invite-progress">{esc(gt(lang, "invite_all_earned"))}</p>')
    else:
        parts.append(
            f'<p class="kp-invite-progress">{esc(gt(lang, "invite_count", count=status.count))}</p>'
        )
    if status.earned:
        items = "".join(
            f"<li><strong>{esc(reward_title(manifest, e.key, _days(e), lang))}</strong> — "
            f"{esc(gt(lang, 'reward_earned_on', date=format_date(e.granted_at.date(), lang)))}"
            "</li>"
            for e in status.earned
        )
        parts.append(
            f'<h3>{esc(gt(lang, "rewards_earned"))}</h3><ul class="kp-rewards">{items}</ul>'
        )
    return "".join(parts)


def _days(earned: ReferralRewardRow) -> int | None:
    """Length of a time-limited reward, from its grant and end."""
    if earned.valid_until is None:
        return None
    return max(1, round((earned.valid_until - earned.granted_at).total_seconds() / 86400))


def account_section(pw: Paywall, member: Member, lang: str) -> str:
    """Invites, rewards and the newsletter setting (creates the invite code if needed)."""
    with pw.sessions() as db:
        status = invite_status(pw, db, member)
        fresh = db.get(Member, member.id) or member
        db.commit()
    return invites_section(pw.manifest(), status, lang) + newsletter_section(fresh, lang)
