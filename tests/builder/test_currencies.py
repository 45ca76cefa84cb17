"""Prices per currency: `prices: {usd: 49, cny: 299}` on a course or a tier's interval, each
language's pages show its `extra.paywall.currency_by_lang` currency, the manifest carries
every currency (one lookup key each), and every wrong setting is an error naming file and key."""

from __future__ import annotations

import json

import pytest

from site_builder.build import BuildFailed

ZH_PRICING = """\
    ---
    title: 价格
    template: kp-pricing.html
    ---

    会员与课程。
    """
EN_PRICING = """\
    ---
    title: Pricing
    template: kp-pricing.html
    ---

    Memberships and courses.
    """
COURSE = """\
    ---
    title: The Course
    prices: {usd: 49, cny: 299}
    mode: payment
    lookup_key: c-course
    tier: pro
    ---

    What you learn.
    """


def _bilingual(mini, paywall: dict) -> None:
    import yaml

    config = yaml.safe_load(mini.config.read_text(encoding="utf-8"))
    config["plugins"] = ["search", {"kp-content": {"shell_langs": ["en", "zh"]}}]
    config["extra"]["paywall"] = paywall
    config["extra"]["community"]["ctas"]["course"]["translations"] = {
        "zh": {"title": "报名课程", "url": "/courses/c/"}
    }
    mini.config.write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    mini.write("pages/pricing.md", EN_PRICING)
    mini.write("pages/pricing.zh.md", ZH_PRICING)
    mini.write("courses/c/index.md", COURSE)


PAYWALL = {
    "currency_by_lang": {"en": "usd", "zh": "cny"},
    "payment_methods": ["card", "alipay", "wechat_pay"],
    "tiers": {
        "pro": {
            "title": "Pro",
            "translations": {"zh": {"title": "专业会员"}},
            "prices": {
                "month": {"prices": {"usd": 12, "cny": 79}, "lookup_key": "mini-pro-monthly"},
                "year": {"price": 120, "lookup_key": "mini-pro-yearly", "trial_days": 14},
            },
            "currency": "usd",
        }
    },
}


def test_each_language_shows_its_currency_and_the_manifest_has_them_all(mini):
    _bilingual(mini, PAYWALL)
    mini.build()
    site = mini.root / "site"
    en = (site / "pricing" / "index.html").read_text(encoding="utf-8")
    zh = (site / "zh" / "pricing" / "index.html").read_text(encoding="utf-8")
    assert "$49" in en and "$12" in en and "¥" not in en
    assert "¥299" in zh and "¥79" in zh and "$49" not in zh
    assert "$120" in zh  # the yearly price has no cny version: its main currency
    course = (site / "courses" / "c" / "index.html").read_text(encoding="utf-8")
    assert "$49" in course  # an English course page: dollars

    manifest = json.loads((mini.root / "private" / "manifest.json").read_text(encoding="utf-8"))
    price = manifest["courses"]["c"]["price"]
    assert (price["amount"], price["currency"], price["lookup_key"]) == (4900, "usd", "c-course")
    cny = price["currencies"]["cny"]
    assert (cny["amount"], cny["display"], cny["lookup_key"]) == (29900, "¥299", "c-course-cny")
    month = manifest["tiers"]["pro"]["prices"]["month"]
    assert month["currencies"]["cny"]["lookup_key"] == "mini-pro-monthly-cny"
    assert manifest["tiers"]["pro"]["prices"]["year"]["trial_days"] == 14
    assert manifest["currency_by_lang"] == {"en": "usd", "zh": "cny"}
    assert manifest["payment_methods"] == ["card", "alipay", "wechat_pay"]


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [
        (
            "prices: {usd: 49}\nprice: 49\n",
            "content/courses/c/index.md: key 'prices': give `prices` (per currency) or "
            "`price` + `currency`, not price too",
        ),
        (
            "prices: {usd: 49, cny: 299}\nstripe_price: price_123\n",
            "content/courses/c/index.md: key 'lookup_key': prices in several currencies need "
            "`lookup_key`",
        ),
        ("prices: {usd: 49, yuan: 299}\nlookup_key: c\n", "key 'prices.yuan"),
        ('prices: {usd: "49"}\nlookup_key: c\n', "key 'prices.usd': expected a number"),
        ("prices: {}\nlookup_key: c\n", "key 'prices'"),
        ("price: 49\nlookup_key: c\n", "content/courses/c/index.md: key 'currency': required"),
    ],
)
def test_course_price_errors_name_file_and_key(mini, front_matter, expected):
    mini.write(
        "courses/c/index.md",
        f"---\ntitle: C\nmode: payment\n{front_matter}---\n\nText.\n",
    )
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    assert expected in str(failed.value)


@pytest.mark.parametrize(
    ("paywall", "expected"),
    [
        (
            {"currency_by_lang": {"zh": "renminbi"}},
            "mkdocs.yml: key 'extra.paywall.currency_by_lang.zh': expected a three-letter",
        ),
        ({"currency_by_lang": {"fr": "eur"}}, "key 'extra.paywall.currency_by_lang.fr"),
        (
            {"payment_methods": ["card", "bitcoin"]},
            "mkdocs.yml: key 'extra.paywall.payment_methods.1': Input should be 'card', "
            "'alipay' or 'wechat_pay'",
        ),
        (
            {
                "tiers": {
                    "pro": {"title": "P", "prices": {"month": {"price": 5, "lookup_key": "k"}}}
                }
            },
            "mkdocs.yml: key 'extra.paywall.tiers.pro': `prices.month.price` needs the tier's "
            "`currency`",
        ),
        (
            {
                "tiers": {
                    "pro": {
                        "title": "P",
                        "prices": {"month": {"prices": {"usd": 5}, "price": 5, "lookup_key": "k"}},
                    }
                }
            },
            "key 'extra.paywall.tiers.pro.prices.month': give `price`",
        ),
        (
            {
                "tiers": {
                    "pro": {
                        "title": "P",
                        "currency": "usd",
                        "prices": {"month": {"price": 5, "lookup_key": "k", "trial_days": 0}},
                    }
                }
            },
            "key 'extra.paywall.tiers.pro.prices.month.trial_days'",
        ),
    ],
)
def test_paywall_setting_errors_name_the_key(mini, paywall, expected):
    import yaml

    config = yaml.safe_load(mini.config.read_text(encoding="utf-8"))
    config["extra"]["paywall"] = {**config["extra"]["paywall"], **paywall}
    mini.config.write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    assert expected in str(failed.value)
