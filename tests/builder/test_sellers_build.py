"""`extra.paywall.tiers.<name>.sellers: {commission_percent: 20}` at build time: the tier's
commission goes into the manifest in basis points (the partner ledger's unit), and a wrong
value is an error naming the file and the key."""

from __future__ import annotations

import json

import pytest
import yaml

from site_builder.build import BuildFailed


def _sellers(mini, sellers: object) -> None:
    config = yaml.safe_load(mini.config.read_text(encoding="utf-8"))
    config["extra"]["paywall"]["tiers"]["pro"]["sellers"] = sellers
    mini.config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def test_a_seller_tiers_commission_is_in_the_manifest(mini):
    _sellers(mini, {"commission_percent": 12.5})
    mini.build()
    manifest = json.loads((mini.root / "private" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tiers"]["pro"]["seller_commission_bp"] == 1250


@pytest.mark.parametrize(
    ("sellers", "expected"),
    [
        ({"commission_percent": 0}, "key 'extra.paywall.tiers.pro.sellers.commission_percent'"),
        ({"commission_percent": 101}, "key 'extra.paywall.tiers.pro.sellers.commission_percent'"),
        (
            {"commission_percent": "20"},
            "mkdocs.yml: key 'extra.paywall.tiers.pro.sellers.commission_percent': expected a "
            "number",
        ),
        (
            {"commission_percent": 12.345},
            "key 'extra.paywall.tiers.pro.sellers.commission_percent': 12.345 has more than two "
            "decimals",
        ),
        ({"commission": 20}, "key 'extra.paywall.tiers.pro.sellers.commission'"),
    ],
)
def test_seller_setting_errors_name_file_and_key(mini, sellers, expected):
    _sellers(mini, sellers)
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    assert expected in str(failed.value)
