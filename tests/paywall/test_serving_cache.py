"""Files from memory and access from the per-worker cache, over real HTTP: a hit costs no
thread and no query, and every change (a rebuild, a file swapped for a symlink, a new
manifest, a grant, a sign-out, a revoke by another process) still shows at once or within
the cache's documented bound."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from starlette.applications import Starlette

from kp_contract.manifest import GatedPage, read_manifest, write_manifest
from paywall.runtime.context import Paywall

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
CANARY = "CANARY-PAID-7f3a"
PAID = "/courses/demo/02-paid/"
PUBLIC = "/articles/hello/"


@dataclass
class Served:
    url: str
    app: Starlette
    pw: Paywall
    login: Callable[[httpx.Client, str], httpx.Response]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Origin": self.url}, timeout=15)


@pytest.fixture
def served(app_server: Any) -> Iterator[Served]:
    """The app of `app_server`, reachable for a look at its caches."""
    app = app_server.thread.server.config.app
    yield Served(app_server.url, app, app_server.pw, app_server.login)


def until(check: Callable[[], bool], limit: float) -> float:
    """Seconds until `check()` held (polling), or fail after `limit`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > limit:
            raise AssertionError(f"not within {limit} s")
        time.sleep(0.02)
    return time.monotonic() - start


# ---------------------------------------------------------------- files


@SQLITE_ONLY
def test_an_unchanged_file_is_served_from_memory_without_a_thread(served, monkeypatch) -> None:
    import paywall.web.serving as serving

    with served.client() as c:
        assert c.get(PUBLIC).status_code == 200  # first request: checked and read in a thread
        calls: list[object] = []
        original = serving.run_in_threadpool

        async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append(func)
            return await original(func, *args, **kwargs)

        monkeypatch.setattr(serving, "run_in_threadpool", counted)
        for _ in range(5):
            r = c.get(PUBLIC)
            assert r.status_code == 200 and "Hello free" in r.text
    assert calls == []


@SQLITE_ONLY
def test_a_rebuild_swapping_site_shows_at_once(served) -> None:
    from site_builder import atomic

    site = served.pw.settings.site_path
    with served.client() as c:
        before = c.get(PUBLIC)
        assert "Hello free" in before.text
        staged = atomic.staging_dir(site)
        shutil.copytree(site, staged, dirs_exist_ok=True)
        (staged / "articles" / "hello" / "index.html").write_text("<h1>Rebuilt</h1>")
        atomic.replace_dir(staged, site)
        after = c.get(PUBLIC)
        assert after.text == "<h1>Rebuilt</h1>"
        assert after.headers["etag"] != before.headers["etag"]


@SQLITE_ONLY
def test_a_cached_file_swapped_for_a_symlink_out_of_the_site_is_refused(served) -> None:
    page = served.pw.settings.site_path / "articles" / "hello" / "index.html"
    outside = served.pw.settings.project_dir / "outside.txt"
    with served.client() as c:
        assert c.get(PUBLIC).status_code == 200
        page.unlink()
        page.symlink_to(outside)
        r = c.get(PUBLIC)
    assert r.status_code == 404
    assert "OUTSIDE-SECRET" not in r.text


@SQLITE_ONLY
def test_range_requests_and_revalidation_still_work_on_cached_files(served) -> None:
    with served.client() as c:
        full = c.get("/assets/site.css")
        part = c.get("/assets/site.css", headers={"Range": "bytes=0-3"})
        same = c.get("/assets/site.css", headers={"If-None-Match": full.headers["etag"]})
    assert part.status_code == 206 and part.content == full.content[:4]
    assert same.status_code == 304 and same.content == b""
    assert full.headers["content-type"] == "text/css; charset=utf-8"
    assert full.headers["x-content-type-options"] == "nosniff"  # middleware still applies


@SQLITE_ONLY
def test_a_new_manifest_rechecks_a_cached_lesson(served, grant_access) -> None:
    grant_access("buyer@example.com", "course:demo")
    with served.client() as c:
        served.login(c, "buyer@example.com")
        assert CANARY in c.get(PAID).text  # the full lesson, now cached
        path = served.pw.settings.manifest_path
        manifest = read_manifest(path)
        gated = dict(manifest.gated)
        gated[PAID] = GatedPage(
            url=PAID, title="Paid", private_file="shells/en.html", requires=["course:demo"]
        )
        write_manifest(manifest.model_copy(update={"gated": gated}), path)
        r = c.get(PAID)
    assert CANARY not in r.text and "__KP_TITLE__" not in r.text
    assert "kp-paywall" in r.text


# ---------------------------------------------------------------- access


def test_a_session_is_loaded_once_then_decided_in_memory(served, grant_access) -> None:
    grant_access("buyer@example.com", "course:demo")
    with served.client() as c:
        served.login(c, "buyer@example.com")
        for _ in range(10):
            r = c.get(PAID)
            assert CANARY in r.text
            assert r.headers["cache-control"] == "private, no-store"
            assert r.headers["vary"] == "Cookie"
    assert served.app.state.kp_access_cache.loads == 1


def test_sign_out_and_a_grant_in_this_process_show_at_once(served, grant_access) -> None:
    with served.client() as c:
        served.login(c, "reader@example.com")
        assert "kp-paywall" in c.get(PAID).text  # signed in, not entitled: cached as such
        grant_access("reader@example.com", "course:demo")
        assert CANARY in c.get(PAID).text
        old_cookie = {"Cookie": f"kp_session={c.cookies['kp_session']}"}
        assert c.post("/api/logout").status_code in (200, 303)
    r = httpx.get(served.url + PAID, headers=old_cookie)  # the signed-out cookie, kept
    assert CANARY not in r.text and "kp-paywall" in r.text


def test_a_revoke_by_another_process_shows_within_the_check_interval(
    served, grant_access, settings
) -> None:
    """Another `Paywall` (its own engine, as another worker has) revokes: this app's cache
    is not told, and must notice the access generation within `CHECK_INTERVAL`."""
    from paywall.app import make_paywall
    from paywall.database.models import Entitlement
    from paywall.members.access_cache import CHECK_INTERVAL
    from paywall.members.entitlements import revoke

    grant_access("buyer@example.com", "course:demo")
    with served.client() as c:
        served.login(c, "buyer@example.com")
        assert CANARY in c.get(PAID).text
        other = make_paywall(settings)
        try:
            with other.sessions.begin() as db:
                for row in db.query(Entitlement).all():
                    revoke(db, row, now=other.now(), actor="test", reason="refund")
            took = until(lambda: CANARY not in c.get(PAID).text, CHECK_INTERVAL + 2)
        finally:
            other.engine.dispose()
    assert took <= CHECK_INTERVAL + 2


def test_writes_that_bypass_the_paywall_expire_with_the_entry_ttl(served, grant_access) -> None:
    from paywall.members.access_cache import AccessCache

    served.app.state.kp_access_cache = AccessCache(served.pw, ttl=0.3)
    grant_access("buyer@example.com", "course:demo")
    with served.client() as c:
        served.login(c, "buyer@example.com")
        assert CANARY in c.get(PAID).text
        with served.pw.engine.begin() as conn:  # psql by hand: no generation bump
            conn.execute(text("UPDATE entitlements SET status = 'revoked'"))
        until(lambda: CANARY not in c.get(PAID).text, 5)


def test_the_generation_moves_with_changes_of_access_only(pw) -> None:
    from paywall.database.access_generation import read_generation
    from paywall.members.entitlements import Desired, revoke, set_state
    from paywall.members.records import get_or_create_member
    from paywall.members.sign_in import create_session, revoke_session

    def generation() -> int:
        with pw.engine.connect() as conn:
            return read_generation(conn)

    start = generation()
    with pw.sessions() as db:
        member = get_or_create_member(db, "g@example.com", now=pw.now())
        token = create_session(pw, db, member)
        db.commit()
    assert generation() == start, "a new member and a new session change nobody's access"
    with pw.sessions() as db:
        member = get_or_create_member(db, "g@example.com", now=pw.now())
        row = set_state(
            db, member, "course:demo", "complimentary", Desired(), now=pw.now(), actor="t"
        )
        db.rollback()
    assert generation() == start, "a rolled-back grant bumps nothing"
    with pw.sessions() as db:
        member = get_or_create_member(db, "g@example.com", now=pw.now())
        row = set_state(
            db, member, "course:demo", "complimentary", Desired(), now=pw.now(), actor="t"
        )
        db.commit()
    assert generation() == start + 1
    changes_here = pw.access_changes.count
    with pw.sessions() as db:
        db.execute(text("SELECT 1"))
        from paywall.database.models import WebSession

        session_row = db.query(WebSession).one()
        session_row.last_seen_at = pw.now()
        db.commit()
    assert generation() == start + 1, "last_seen_at is not access"
    with pw.sessions() as db:
        assert row is not None
        revoke(db, db.merge(row), now=pw.now(), actor="t", reason="refund")
        db.commit()
    assert generation() == start + 2
    with pw.sessions() as db:
        assert revoke_session(pw, db, token)
        db.commit()
    assert generation() == start + 3
    assert pw.access_changes.count == changes_here + 2


# ---------------------------------------------------------------- /api/auth


@contextmanager
def statements(pw: Paywall) -> Iterator[list[str]]:
    """The SQL statements `pw`'s engine runs inside the block (any thread)."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.append(sql)

    event.listen(pw.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(pw.engine, "before_cursor_execute", before)


def auth_status(client: httpx.Client, uri: str) -> int:
    return client.get("/api/auth", params={"uri": uri}).status_code


def test_api_auth_answers_repeated_checks_from_the_access_cache(served, grant_access) -> None:
    """nginx caches grants only: every refusal reaches /api/auth, and must cost no query
    once the session is cached (nor must a grant)."""
    from paywall.members.access_cache import AccessCache

    # No generation read during the test: a query then would be the cache's, not a miss.
    served.app.state.kp_access_cache = AccessCache(served.pw, check_interval=3600)
    with served.client() as c:
        served.login(c, "reader@example.com")
        assert auth_status(c, PAID) == 403  # signed in, not entitled: loaded once
        with statements(served.pw) as denied:
            assert [auth_status(c, PAID) for _ in range(5)] == [403] * 5
            assert auth_status(c, PAID + "index.html") == 403
        grant_access("reader@example.com", "course:demo")  # a commit here: cache dropped
        assert auth_status(c, PAID) == 204
        with statements(served.pw) as granted:
            assert [auth_status(c, PAID) for _ in range(5)] == [204] * 5
            assert CANARY in c.get(PAID).text  # the page and the check share the entry
    assert denied == [] and granted == []
    assert served.app.state.kp_access_cache.loads == 2


def test_api_auth_sees_a_revoke_by_another_process_within_the_check_interval(
    served, grant_access, settings
) -> None:
    """A refund handled by another worker: this worker's /api/auth answered from its cache,
    and turns to 403 within `CHECK_INTERVAL` (the bound docs/nginx.md adds nginx's to)."""
    from paywall.app import make_paywall
    from paywall.database.models import Entitlement
    from paywall.members.access_cache import CHECK_INTERVAL
    from paywall.members.entitlements import revoke
    from paywall.members.sign_in import revoke_session

    grant_access("buyer@example.com", "course:demo")
    with served.client() as c:
        served.login(c, "buyer@example.com")
        assert [auth_status(c, PAID) for _ in range(3)] == [204] * 3
        assert served.app.state.kp_access_cache.loads == 1
        other = make_paywall(settings)
        try:
            with other.sessions.begin() as db:
                for row in db.query(Entitlement).all():
                    revoke(db, row, now=other.now(), actor="test", reason="refund")
            took = until(lambda: auth_status(c, PAID) == 403, CHECK_INTERVAL + 2)
            with other.sessions.begin() as db:
                assert revoke_session(other, db, c.cookies["kp_session"])
            signed_out = until(lambda: auth_status(c, PAID) == 401, CHECK_INTERVAL + 2)
        finally:
            other.engine.dispose()
    assert took <= CHECK_INTERVAL + 2 and signed_out <= CHECK_INTERVAL + 2
