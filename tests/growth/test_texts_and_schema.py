"""The growth engine's wording (every key in English and Chinese, same placeholders) and its
migration (0001 → 0002 keeps existing rows; 0002 → 0001 removes exactly what it added)."""

from __future__ import annotations

import datetime as dt
import re
import string
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from kp_contract.i18n import LANGS
from kp_contract.settings import load_settings
from paywall.database.engine import make_engine
from paywall.database.migrate import downgrade, upgrade
from paywall.growth.texts import TEXTS, gt
from paywall.web.admin import COLORS

GROWTH_TABLES = {
    "referral_codes",
    "referrals",
    "referral_rewards",
    "partners",
    "partner_members",
    "partner_ledger",
    "conversions",
    "page_counters",
    "newsletter_log",
}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_growth_text_has_every_language_with_the_same_placeholders():
    han = re.compile(r"[\u4e00-\u9fff]")
    assert len(TEXTS) >= 40
    for key, entry in TEXTS.items():
        assert set(entry) == set(LANGS), key
        assert len({frozenset(_fields(t)) for t in entry.values()}) == 1, key
        assert entry["zh"] != entry["en"], key
        if key != "mail_subject_one":  # "{site}：{title}": only the punctuation is Chinese
            assert han.search(entry["zh"]), key


def test_every_growth_text_the_code_uses_exists():
    used: set[str] = set()
    for module in Path(__file__).resolve().parents[2].joinpath("paywall").rglob("*.py"):
        source = module.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bgt\(\s*[a-z_.]+,\s*["']([a-z_]+)["']""", source))
        used |= set(re.findall(r"""["'](col_[a-z]+)["']""", source))  # header keys in tuples
    assert {"invite_title", "unsub_done", "admin_title", "mail_footer"} <= used
    used |= {f"col_{metric}" for metric in COLORS}  # the admin charts' legend: gt(lang, f"col_…")
    assert used - set(TEXTS) == set()
    assert gt("zh", "invite_progress", count=2, needed=3, reward="课程").startswith(
        "已成功邀请 2/3"
    )
    assert gt("fr", "unsub_title") == "Unsubscribe"
    with pytest.raises(KeyError, match="no growth text 'nope'"):
        gt("en", "nope")


def test_growth_migration_keeps_rows_and_steps_back(db_url, tmp_path):
    settings = load_settings(_env_file=None, KP_PROJECT_DIR=tmp_path, KP_DATABASE_URL=db_url)
    upgrade(settings, "0001")
    engine = make_engine(settings)
    now = dt.datetime.now(dt.UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO login_tokens (token_hash, email, next_url, created_at, "
                    "expires_at) VALUES ('h1', 'old@example.com', '/', :now, :now)"
                ),
                {"now": now},
            )
        assert upgrade(settings, "0002") == "0002"
        names = set(inspect(engine).get_table_names())
        assert names >= GROWTH_TABLES
        with engine.connect() as conn:
            row = conn.execute(text("SELECT email, ref FROM login_tokens")).one()
        assert tuple(row) == ("old@example.com", None)

        downgrade(settings, "0001")
        inspector = inspect(engine)
        assert not GROWTH_TABLES & set(inspector.get_table_names())
        assert "ref" not in {c["name"] for c in inspector.get_columns("login_tokens")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT email FROM login_tokens")).scalar() == (
                "old@example.com"
            )
    finally:
        engine.dispose()


def test_partner_subscription_migration_keeps_sales_and_steps_back(db_url, tmp_path):
    """0002 → 0003 keeps the checkout ledger; 0003 → 0002 drops only the invoice entries."""
    settings = load_settings(_env_file=None, KP_PROJECT_DIR=tmp_path, KP_DATABASE_URL=db_url)
    upgrade(settings, "0002")
    engine = make_engine(settings)
    now = dt.datetime.now(dt.UTC)
    entry = (
        "INSERT INTO partner_ledger (partner_id, kind, attribution, {key}, product_key, "
        "currency, amount_subtotal, amount_discount, amount_total, commission, "
        "refunded_total, event_id, at) VALUES (1, 'sale', 'ref_link', :id, 'tier:pro', 'usd', "
        "900, 0, 900, 90, 0, 'evt', :now)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO partners (id, name, ref_code, promotion_code, "
                    "promotion_code_id, coupon_id, discount_bp, commission_bp, active, "
                    "created_at) VALUES (1, 'Alice', 'p-a20', 'A20', 'promo_1', 'c_1', 2000, "
                    "1000, true, :now)"
                ),
                {"now": now},
            )
            conn.execute(text(entry.format(key="checkout_session_id")), {"id": "cs_1", "now": now})
        assert upgrade(settings, "0003") == "0003"
        assert "partner_subscriptions" in inspect(engine).get_table_names()
        with engine.begin() as conn:
            conn.execute(text(entry.format(key="invoice_id")), {"id": "in_1", "now": now})
            conn.execute(text(entry.format(key="invoice_id")), {"id": "in_2", "now": now})
        downgrade(settings, "0002")
        inspector = inspect(engine)
        assert "partner_subscriptions" not in inspector.get_table_names()
        assert "invoice_id" not in {c["name"] for c in inspector.get_columns("partner_ledger")}
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT checkout_session_id FROM partner_ledger")).all()
        assert [tuple(r) for r in kept] == [("cs_1",)]
    finally:
        engine.dispose()
