"""Alembic migrations on SQLite and PostgreSQL: they build exactly the models' schema, are
idempotent, reversible, safe to start concurrently, and ship inside the package."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from setuptools import find_packages
from sqlalchemy import inspect

from kp_contract.settings import load_settings
from paywall.database.engine import MIGRATIONS_DIR, make_engine
from paywall.database.migrate import current_revision, downgrade, head_revision, upgrade
from paywall.database.models import Base

TABLES = {"members", "entitlements", "stripe_events", "login_tokens", "sessions", "audit_log"}


def _settings(db_url: str, tmp_path: Path):
    return load_settings(_env_file=None, KP_PROJECT_DIR=tmp_path, KP_DATABASE_URL=db_url)


def test_upgrade_builds_the_models_schema(db_url, tmp_path):
    settings = _settings(db_url, tmp_path)
    assert upgrade(settings) == head_revision()
    engine = make_engine(settings)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"migration and models disagree: {diff}"
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_reversible(db_url, tmp_path):
    settings = _settings(db_url, tmp_path)
    upgrade(settings)
    assert upgrade(settings) == head_revision()  # second run: nothing to do
    downgrade(settings, "base")
    engine = make_engine(settings)
    try:
        assert not TABLES & set(inspect(engine).get_table_names())
        assert current_revision(engine) is None
    finally:
        engine.dispose()
    assert upgrade(settings) == head_revision()


def test_concurrent_upgrades_do_not_collide(db_url, tmp_path):
    """Several workers starting at once against one empty database."""
    settings = _settings(db_url, tmp_path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: upgrade(settings), range(4)))
    assert results == [head_revision()] * 4


def test_migrations_ship_in_the_package():
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("0001_*.py"))
    repository = MIGRATIONS_DIR.parents[2]  # paywall/database/migrations
    packages = find_packages(str(repository), include=["paywall*"])
    assert {"paywall.database.migrations", "paywall.database.migrations.versions"} <= set(packages)


def test_learning_tables_go_down_to_0007_and_up_again(db_url, tmp_path):
    """0008 (lesson progress, certificates) is reversible on its own."""
    settings = _settings(db_url, tmp_path)
    upgrade(settings)
    downgrade(settings, "0007")
    engine = make_engine(settings)
    try:
        tables = set(inspect(engine).get_table_names())
        assert not {"lesson_progress", "certificates"} & tables
        assert "email_changes" in tables and current_revision(engine) == "0007"
    finally:
        engine.dispose()
    upgrade(settings, "0008")
    engine = make_engine(settings)
    try:
        assert {"lesson_progress", "certificates"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_gifts_table_goes_down_to_0008_and_up_again(db_url, tmp_path):
    """0009 (gifts) is reversible on its own, and leaves 0008's tables alone."""
    settings = _settings(db_url, tmp_path)
    assert upgrade(settings) == head_revision()
    engine = make_engine(settings)
    try:
        assert "gifts" in set(inspect(engine).get_table_names())
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("gifts")}
        assert {"ix_gifts_payment_intent", "ix_gifts_buyer_member_id"} <= indexes
    finally:
        engine.dispose()
    downgrade(settings, "0008")
    engine = make_engine(settings)
    try:
        tables = set(inspect(engine).get_table_names())
        assert "gifts" not in tables and "certificates" in tables
        assert current_revision(engine) == "0008"
    finally:
        engine.dispose()
    assert upgrade(settings, "0009") == "0009"
    engine = make_engine(settings)
    try:
        assert "gifts" in set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_member_roles_go_down_to_0009_and_up_again(db_url, tmp_path):
    """0010 (members.role) is reversible on its own: a member's entitlements survive the
    way down (SQLite drops the column in place, not by re-creating `members`)."""
    from sqlalchemy import text

    settings = _settings(db_url, tmp_path)
    assert upgrade(settings) == head_revision()
    engine = make_engine(settings)
    try:
        assert "role" in {c["name"] for c in inspect(engine).get_columns("members")}
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO members (id, email, created_at, lang, newsletter, role) "
                    "VALUES (1, 'r@example.com', CURRENT_TIMESTAMP, 'en', true, 'distributor')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO entitlements (member_id, key, source, status, stripe_object_id,"
                    " valid_from, source_updated_at, note, created_at, updated_at) VALUES (1,"
                    " 'course:x', 'complimentary', 'active', '', CURRENT_TIMESTAMP, 0, '',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
    finally:
        engine.dispose()
    downgrade(settings, "0009")
    engine = make_engine(settings)
    try:
        assert "role" not in {c["name"] for c in inspect(engine).get_columns("members")}
        assert current_revision(engine) == "0009"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM entitlements")).scalar_one() == 1
    finally:
        engine.dispose()
    assert upgrade(settings, "0010") == "0010"
    engine = make_engine(settings)
    try:
        assert "role" in {c["name"] for c in inspect(engine).get_columns("members")}
    finally:
        engine.dispose()


def test_sellers_go_down_to_0010_and_up_again(db_url, tmp_path):
    """0011 (sellers, partners.paid_through) is reversible on its own."""
    settings = _settings(db_url, tmp_path)
    assert upgrade(settings) == head_revision()
    downgrade(settings, "0010")
    engine = make_engine(settings)
    try:
        assert "sellers" not in set(inspect(engine).get_table_names())
        assert "paid_through" not in {c["name"] for c in inspect(engine).get_columns("partners")}
        assert "role" in {c["name"] for c in inspect(engine).get_columns("members")}
    finally:
        engine.dispose()
    assert upgrade(settings, "0011") == "0011"
    engine = make_engine(settings)
    try:
        assert "sellers" in set(inspect(engine).get_table_names())
        assert "paid_through" in {c["name"] for c in inspect(engine).get_columns("partners")}
    finally:
        engine.dispose()
