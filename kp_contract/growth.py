"""Growth settings shared by the build and the paywall (`extra.growth` in mkdocs.yml).

The creator writes the invite-reward rules in `mkdocs.yml`; the build validates them, adds the
list of published articles (for the newsletter and the funnel report) and writes both into the
manifest (`Manifest.growth`), which is how they reach the paywall. Both halves import this
module, never each other.

    extra:
      growth:
        true_fans_goal: 1000
        referral_rewards:
          - invites: 3
            course: launch          # a named course, for good
          - invites: 5
            tier: pro               # or a membership tier…
            days: 30                # …for 30 days
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

Name = StrictStr
RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,80}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReferralReward(_Strict):
    """ "Invite `invites` friends who confirm their e-mail → get `course` or `tier`" (for
    `days` days, or for good). A member earns each rule once."""

    invites: StrictInt = Field(ge=1, le=10_000)
    course: Name | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")
    tier: Name | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")
    days: StrictInt | None = Field(default=None, ge=1, le=36_500)
    id: Name | None = Field(
        default=None,
        pattern=RULE_ID_PATTERN,
        description="stable name of the rule (default: derived from what it grants)",
    )

    @model_validator(mode="after")
    def _one_reward(self) -> ReferralReward:
        if (self.course is None) == (self.tier is None):
            raise ValueError("a referral reward names exactly one of `course` or `tier`")
        return self

    @property
    def key(self) -> str:
        """The entitlement key granted (`course:<slug>` or `tier:<name>`)."""
        return f"course:{self.course}" if self.course else f"tier:{self.tier}"

    @property
    def rule_id(self) -> str:
        """Identity of the rule in the database: changing a rule's threshold keeps it, so a
        member who already earned it does not earn it again."""
        if self.id:
            return self.id
        return f"{self.key}:{self.days}d" if self.days else self.key


class GrowthConfig(_Strict):
    """What the creator configures under `extra.growth`."""

    referral_rewards: list[ReferralReward] = Field(default_factory=list)
    true_fans_goal: StrictInt = Field(default=1000, ge=1, le=100_000_000)

    @model_validator(mode="after")
    def _distinct_rules(self) -> GrowthConfig:
        seen: dict[str, int] = {}
        for position, rule in enumerate(self.referral_rewards):
            if rule.rule_id in seen:
                raise ValueError(
                    f"referral_rewards[{position}] repeats rule {rule.rule_id!r} of "
                    f"referral_rewards[{seen[rule.rule_id]}] (give one of them an `id`)"
                )
            seen[rule.rule_id] = position
        return self

    def rules_in_order(self) -> list[ReferralReward]:
        """Rules by threshold (progress shows the next one to reach)."""
        return sorted(self.referral_rewards, key=lambda r: (r.invites, r.rule_id))


class ArticleRef(_Strict):
    """A published article as the newsletter and the funnel report need it (no body text)."""

    url: str
    title: str
    date: dt.date
    lang: str = "en"
    summary: str = ""
    access: Literal["public", "members"] = "public"


class GrowthManifest(GrowthConfig):
    """`GrowthConfig` plus what only the build knows: the published articles."""

    articles: list[ArticleRef] = Field(default_factory=list)

    def free_articles(self) -> list[ArticleRef]:
        return [a for a in self.articles if a.access == "public"]

    def title_for(self, url: str) -> str | None:
        for article in self.articles:
            if article.url == url:
                return article.title
        return None


def unknown_rewards(
    config: GrowthConfig, courses: set[str], tiers: set[str]
) -> list[tuple[str, str]]:
    """(key, problem) for every reward naming a course or tier the site does not sell; the
    build reports them with the other content errors (`extra.growth.referral_rewards.0.course`)."""
    problems = []
    for position, rule in enumerate(config.referral_rewards):
        kind, name, known = (
            ("course", rule.course, courses) if rule.course else ("tier", rule.tier, tiers)
        )
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            problems.append(
                (
                    f"extra.growth.referral_rewards.{position}.{kind}",
                    f"unknown {kind} {name!r} (known: {listed})",
                )
            )
    return problems
