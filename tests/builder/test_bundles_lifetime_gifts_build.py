"""Bundles, lifetime access, several tiers per course and gift prices, build side: the
settings in `mkdocs.yml` and front matter, what the pricing page and the course page
offer, what the manifest carries (and that older manifests still read), and every wrong
setting reported naming file and key."""

from __future__ import annotations

import json

import pytest
import yaml

from kp_contract.manifest import Manifest
from site_builder.build import BuildFailed

PRICING = """\
    ---
    title: Pricing
    template: kp-pricing.html
    ---

    Memberships, bundles and courses.
    """
SECOND_COURSE = """\
    ---
    title: The Second Course
    prices: {usd: 30, cny: 199}
    mode: payment
    lookup_key: d-course
    tier: [pro, team]
    ---

    More to learn.
    """
SECOND_LESSON = """\
    ---
    title: Second paid lesson
    ---

    The teaser of the second course.

    <!-- more -->

    The second course's secret.
    """
PAYWALL = {
    "currency_by_lang": {"en": "usd"},
    "tiers": {
        "pro": {
            "title": "Pro",
            "currency": "usd",
            "prices": {"month": {"prices": {"usd": 5, "cny": 35}, "lookup_key": "mini-pro-month"}},
            "lifetime": {"prices": {"usd": 299, "cny": 1999}, "lookup_key": "mini-pro-lifetime"},
            "gift_months": [12, 1, 3],
        },
        "team": {
            "title": "Team",
            "currency": "usd",
            "prices": {"year": {"price": 400, "lookup_key": "mini-team-year"}},
        },
    },
    "bundles": {
        "starter": {
            "title": "Starter bundle",
            "summary": "Both courses, one price.",
            "courses": ["c", "d"],
            "prices": {"usd": 35, "cny": 239},
            "lookup_key": "mini-starter",
        }
    },
}


def _configure(mini, paywall: dict) -> None:
    config = yaml.safe_load(mini.config.read_text(encoding="utf-8"))
    config["extra"]["paywall"] = paywall
    mini.config.write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )


@pytest.fixture
def shop_site(mini):
    _configure(mini, PAYWALL)
    mini.write("pages/pricing.md", PRICING)
    mini.write("courses/d/index.md", SECOND_COURSE)
    mini.write("courses/d/01-paid.md", SECOND_LESSON)
    return mini


def test_the_manifest_carries_bundles_lifetime_gift_prices_and_every_tier(shop_site):
    shop_site.build()
    manifest = json.loads(
        (shop_site.root / "private" / "manifest.json").read_text(encoding="utf-8")
    )
    pro = manifest["tiers"]["pro"]
    life = pro["lifetime"]
    assert (life["amount"], life["currency"], life["lookup_key"], life["interval"]) == (
        29900,
        "usd",
        "mini-pro-lifetime",
        None,
    )
    assert life["currencies"]["cny"]["lookup_key"] == "mini-pro-lifetime-cny"
    gifts = {int(n): p for n, p in pro["gifts"].items()}
    assert sorted(gifts) == [1, 3, 12]
    assert (gifts[3]["amount"], gifts[3]["lookup_key"], gifts[3]["interval"]) == (
        1500,
        "mini-pro-month-gift-3m",
        None,
    )
    assert gifts[12]["currencies"]["cny"]["amount"] == 42000  # 12 x ¥35
    assert gifts[12]["currencies"]["cny"]["lookup_key"] == "mini-pro-month-gift-12m-cny"
    assert (
        manifest["tiers"]["team"]["gifts"] == {} and manifest["tiers"]["team"]["lifetime"] is None
    )

    d = manifest["courses"]["d"]
    assert (d["tier"], d["tiers"]) == ("pro", ["pro", "team"])
    assert sorted(manifest["tiers"]["pro"]["courses"]) == ["c", "d"]
    assert manifest["tiers"]["team"]["courses"] == ["d"]
    gated = manifest["gated"]["/courses/d/01-paid/"]
    assert gated["requires"] == ["course:d", "tier:pro", "tier:team"]

    bundle = manifest["bundles"]["starter"]
    assert bundle["courses"] == ["c", "d"]
    assert (bundle["price"]["amount"], bundle["price"]["lookup_key"]) == (3500, "mini-starter")
    assert bundle["price"]["currencies"]["cny"]["amount"] == 23900
    Manifest.model_validate(manifest)  # what the paywall reads


def test_the_pricing_page_sells_bundles_lifetime_and_gifts(shop_site):
    shop_site.build()
    page = (shop_site.root / "site" / "pricing" / "index.html").read_text(encoding="utf-8")
    assert 'id="bundles"' in page and "Starter bundle" in page and "$35" in page
    assert '<input type="hidden" name="bundle" value="starter">' in page
    assert '<input type="hidden" name="interval" value="lifetime">' in page and "$299" in page
    assert "Buy lifetime access" in page
    # the gift option: a tier's months and a course sold once, with address and message
    assert page.count('class="kp-gift"') == 3  # pro's months, course c, course d
    assert '<option value="3">3 months for $15</option>' in page
    assert '<option value="1">1 month for $5</option>' in page
    assert 'name="gift_email"' in page and 'name="gift_message"' in page
    course = (shop_site.root / "site" / "courses" / "d" / "index.html").read_text(encoding="utf-8")
    # a course in two tiers offers both, and the gift form
    assert "with Pro:" in course and "with Team:" in course and 'class="kp-gift"' in course


def test_a_manifest_written_before_bundles_and_gifts_still_reads():
    old = {
        "version": 1,
        "built_at": "2026-01-01T00:00:00Z",
        "site_name": "Old",
        "courses": {
            "c": {
                "slug": "c",
                "title": "C",
                "url": "/courses/c/",
                "mode": "payment",
                "tier": "pro",
                "price": {"amount": 4900, "currency": "usd", "display": "$49", "lookup_key": "c"},
            }
        },
        "tiers": {
            "pro": {
                "name": "pro",
                "title": "Pro",
                "prices": {
                    "month": {
                        "amount": 900,
                        "currency": "usd",
                        "display": "$9",
                        "lookup_key": "p",
                        "interval": "month",
                    }
                },
            }
        },
    }
    manifest = Manifest.model_validate(old)
    assert manifest.bundles == {} and manifest.tiers["pro"].lifetime is None
    assert manifest.tiers["pro"].gifts == {}
    assert manifest.courses["c"].tier_names() == ["pro"]


def _tier(**extra: object) -> dict:
    return {
        "tiers": {
            "pro": {
                "title": "P",
                "currency": "usd",
                "prices": {"month": {"price": 5, "lookup_key": "k"}},
                **extra,
            }
        }
    }


@pytest.mark.parametrize(
    ("paywall", "expected"),
    [
        (
            _tier(lifetime={"price": 99}),
            "mkdocs.yml: key 'extra.paywall.tiers.pro.lifetime': a one-time price needs "
            "`lookup_key` or `stripe_price`",
        ),
        (_tier(gift_months=[0]), "key 'extra.paywall.tiers.pro.gift_months.0'"),
        (
            _tier(gift_months=[3, 3]),
            "key 'extra.paywall.tiers.pro.gift_months': a number of months is listed twice",
        ),
        (
            {
                "tiers": {
                    "pro": {
                        "title": "P",
                        "currency": "usd",
                        "prices": {"year": {"price": 50, "lookup_key": "y"}},
                        "gift_months": [3],
                    }
                }
            },
            "mkdocs.yml: key 'extra.paywall.tiers.pro.gift_months': gifts are priced from the "
            "monthly price",
        ),
        (
            {"bundles": {"b": {"title": "B", "courses": ["c"], "price": 5, "currency": "usd"}}},
            "key 'extra.paywall.bundles.b.courses': List should have at least 2 items",
        ),
        (
            {
                "bundles": {
                    "b": {"title": "B", "courses": ["c", "nope"], "price": 5, "currency": "usd"}
                }
            },
            "mkdocs.yml: key 'extra.paywall.bundles.b': a bundle needs `lookup_key`",
        ),
        (
            {
                "bundles": {
                    "b": {
                        "title": "B",
                        "courses": ["c", "nope"],
                        "price": 5,
                        "currency": "usd",
                        "lookup_key": "b",
                    }
                }
            },
            "mkdocs.yml: key 'extra.paywall.bundles.b.courses': unknown course 'nope' (c)",
        ),
        (
            {"bundles": {"b": {"title": "B", "courses": ["c", "d"], "lookup_key": "b"}}},
            "key 'extra.paywall.bundles.b': `price`: required key is missing",
        ),
    ],
)
def test_bundle_lifetime_and_gift_errors_name_file_and_key(mini, paywall, expected):
    config = yaml.safe_load(mini.config.read_text(encoding="utf-8"))
    config["extra"]["paywall"] = {**config["extra"]["paywall"], **paywall}
    mini.config.write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    assert expected in str(failed.value)


def test_an_unknown_tier_in_a_list_names_it(mini):
    mini.write(
        "courses/c/index.md",
        "---\ntitle: C\nprice: 10\ncurrency: usd\nmode: payment\nlookup_key: c\n"
        "tier: [pro, gold]\n---\n\nText.\n",
    )
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    assert "content/courses/c/index.md: key 'tier': unknown tier 'gold'" in str(failed.value)


def test_a_subscription_course_cannot_be_in_a_bundle(shop_site):
    shop_site.write(
        "courses/d/index.md",
        "---\ntitle: D\nprice: 10\ncurrency: usd\nmode: subscription\ninterval: month\n"
        "lookup_key: d\n---\n\nText.\n",
    )
    with pytest.raises(BuildFailed) as failed:
        shop_site.build()
    assert (
        "mkdocs.yml: key 'extra.paywall.bundles.starter.courses': course 'd' is a subscription"
        in str(failed.value)
    )
