"""Role prices at build time (`extra.paywall.roles`): fixed prices per product and
`percent_off` roles become concrete prices in the manifest, each with its own lookup key;
every wrong setting is an error naming the file and the key; and no role price or role
name reaches `site/` (the paywall shows them to the member at request time)."""

from __future__ import annotations

import json

import pytest
import yaml

from site_builder.build import BuildFailed

from .test_currencies import COURSE, EN_PRICING, PAYWALL, ZH_PRICING

ROLES = {
    "distributor": {
        "title": "Distributor",
        "translations": {"zh": {"title": "分销商"}},
        "prices": {"course:c": {"usd": 30, "cny": 199}},
    },
    "kol": {
        "title": "Local opinion leader",
        "translations": {"zh": {"title": "地方意见领袖"}},
        "percent_off": 20,
    },
}


def _configure(mini, roles: dict, *, bilingual: bool = True) -> None:
    config = yaml.safe_load(mini.config.read_text(encoding="utf-8"))
    if bilingual:
        config["plugins"] = ["search", {"kp-content": {"shell_langs": ["en", "zh"]}}]
        config["extra"]["community"]["ctas"]["course"]["translations"] = {
            "zh": {"title": "报名课程", "url": "/courses/c/"}
        }
        mini.write("pages/pricing.md", EN_PRICING)
        mini.write("pages/pricing.zh.md", ZH_PRICING)
    config["extra"]["paywall"] = {**PAYWALL, "roles": roles}
    mini.config.write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    mini.write("courses/c/index.md", COURSE)


def test_role_prices_are_in_the_manifest_and_nowhere_in_site(mini, find_in_tree):
    _configure(mini, ROLES)
    mini.build()
    manifest = json.loads((mini.root / "private" / "manifest.json").read_text(encoding="utf-8"))
    roles = manifest["roles"]
    distributor = roles["distributor"]
    assert distributor["titles"] == {"zh": "分销商"} and distributor["fixed"] == ["course:c"]
    course = distributor["prices"]["course:c"]
    assert (course["amount"], course["currency"], course["lookup_key"]) == (
        3000,
        "usd",
        "role-distributor-course-c",
    )
    cny = course["currencies"]["cny"]
    assert (cny["amount"], cny["display"], cny["lookup_key"]) == (
        19900,
        "¥199",
        "role-distributor-course-c-cny",
    )
    assert set(distributor["prices"]) == {"course:c"}  # fixed only: nothing else

    kol = roles["kol"]
    assert kol["percent_off"] == 20 and kol["fixed"] == []
    assert set(kol["prices"]) == {"course:c", "tier:pro:month", "tier:pro:year"}
    month = kol["prices"]["tier:pro:month"]
    assert (month["amount"], month["interval"], month["lookup_key"]) == (
        960,
        "month",
        "role-kol-tier-pro-month",
    )
    assert month["currencies"]["cny"]["amount"] == 6320  # 79 × 0.8 = 63.20
    year = kol["prices"]["tier:pro:year"]
    assert (year["amount"], year["trial_days"]) == (9600, 14)  # the trial stays
    assert kol["prices"]["course:c"]["currencies"]["cny"]["display"] == "¥239.20"

    site = mini.root / "site"
    for text in ("¥199", "$30", "¥239.20", "分销商", "Distributor", "opinion leader"):
        assert find_in_tree(site, text) == [], f"{text!r} is in site/"


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (
            {"vip": {"title": "VIP"}},
            "mkdocs.yml: key 'extra.paywall.roles.vip': a role needs `percent_off: 20` or `prices",
        ),
        (
            {"vip": {"title": "VIP", "percent_off": 100}},
            "mkdocs.yml: key 'extra.paywall.roles.vip.percent_off'",
        ),
        (
            {"vip": {"title": "VIP", "prices": {"course:nope": {"usd": 1, "cny": 5}}}},
            "mkdocs.yml: key 'extra.paywall.roles.vip.prices.course:nope': 'course:nope' is "
            "not for sale (for sale: course:c, tier:pro:month, tier:pro:year)",
        ),
        (
            {"vip": {"title": "VIP", "prices": {"tier:pro": {"usd": 1}}}},
            "mkdocs.yml: key 'extra.paywall.roles.vip.prices.tier:pro.[key]': "
            "expected course:<slug>, bundle:<name> or tier:<name>:month|year|lifetime",
        ),
        (
            {"vip": {"title": "VIP", "prices": {"course:c": {"usd": 30}}}},
            "mkdocs.yml: key 'extra.paywall.roles.vip.prices.course:c': give the role's "
            "price in usd, cny (the currencies 'course:c' is sold in), not usd",
        ),
        (
            {"vip": {"title": "VIP", "prices": {"course:c": {"usd": "30", "cny": 1}}}},
            "key 'extra.paywall.roles.vip.prices.course:c.usd': expected a number",
        ),
        (
            {"Big Fish": {"title": "VIP", "percent_off": 10}},
            "key 'extra.paywall.roles.Big Fish.[key]': String should match pattern",
        ),
    ],
)
def test_role_setting_errors_name_file_and_key(mini, roles, expected):
    for role in roles.values():
        role.setdefault("translations", {"zh": {"title": "贵宾"}})
    _configure(mini, roles)
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    assert expected in str(failed.value)


def test_a_bilingual_site_needs_the_roles_title_in_each_language(mini):
    _configure(mini, {"vip": {"title": "VIP", "percent_off": 10}})
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    assert (
        "mkdocs.yml: key 'extra.paywall.roles.vip.translations.zh': 'zh' readers are told "
        "their role's price: give its title in 'zh'"
    ) in str(failed.value)
