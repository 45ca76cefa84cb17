"""Static site serving and gated pages over real HTTP (SQLite; the DB is not the subject)."""

from __future__ import annotations

import email.utils
import os

import pytest

from kp_contract.manifest import GatedPage, read_manifest, write_manifest

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

CANARY = "CANARY-PAID-7f3a"
PAID = "/courses/demo/02-paid/"


def test_directory_urls_serve_index_html(app_server) -> None:
    c = app_server.client()
    for url in ("/", "/articles/hello/", "/articles/hello/index.html"):
        r = c.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "Hello free" in c.get("/articles/hello/").text
    assert "Welcome" in c.get("/").text


def test_directory_without_slash_redirects_keeping_query(app_server) -> None:
    r = app_server.client().get("/articles/hello?ref=x")
    assert r.status_code == 301
    assert r.headers["location"] == "/articles/hello/?ref=x"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/assets/site.css", "text/css; charset=utf-8"),
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/logo.svg", "image/svg+xml"),
    ],
)
def test_content_types(app_server, path: str, expected: str) -> None:
    r = app_server.client().get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == expected
    assert r.headers["cache-control"] == "public, max-age=3600"


def test_html_revalidates_with_etag_and_last_modified(app_server) -> None:
    c = app_server.client()
    r = c.get("/articles/hello/")
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    assert r.headers["cache-control"] == "no-cache"
    assert email.utils.parsedate_to_datetime(modified) is not None
    again = c.get("/articles/hello/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    since = c.get("/articles/hello/", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    stale = c.get("/articles/hello/", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200


def test_etag_changes_when_the_build_rewrites_a_file(app_server) -> None:
    c = app_server.client()
    before = c.get("/articles/hello/").headers["etag"]
    page = app_server.settings.site_path / "articles" / "hello" / "index.html"
    page.write_text("<h1>Hello again</h1>", encoding="utf-8")
    os.utime(page, (1_900_000_000, 1_900_000_000))
    r = c.get("/articles/hello/", headers={"If-None-Match": before})
    assert r.status_code == 200 and "Hello again" in r.text
    assert r.headers["etag"] != before


def test_head_sends_headers_only(app_server) -> None:
    r = app_server.client().head("/assets/site.css")
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["content-length"]) > 0


def test_unknown_url_gets_site_404_page_with_404_status(app_server) -> None:
    r = app_server.client().get("/no/such/page/")
    assert r.status_code == 404
    assert "Page not found" in r.text
    assert r.headers["content-type"].startswith("text/html")


def test_404_without_a_404_page_is_built_in(app_server) -> None:
    (app_server.settings.site_path / "404.html").unlink()
    r = app_server.client().get("/missing")
    assert r.status_code == 404
    assert "Page not found" in r.text


def test_post_to_a_page_is_not_allowed(app_server) -> None:
    r = app_server.client().post("/articles/hello/")
    assert r.status_code == 405


# ---------------------------------------------------------------- gated pages


def assert_teaser(r) -> None:  # noqa: ANN001
    assert r.status_code == 200
    assert "kp-paywall" in r.text
    assert CANARY not in r.text
    assert r.headers["cache-control"] == "private, no-store"


def test_anonymous_gets_teaser_with_200_and_no_store(app_server) -> None:
    c = app_server.client()
    assert_teaser(c.get(PAID))
    assert_teaser(c.get(PAID + "index.html"))


def test_signed_in_without_entitlement_gets_teaser(app_server) -> None:
    c = app_server.client()
    app_server.login(c, "reader@example.com")
    assert_teaser(c.get(PAID))


def test_entitled_member_gets_full_page_same_status(app_server, grant_access) -> None:
    grant_access("buyer@example.com", "course:demo", "purchase", stripe_object_id="cs_1")
    c = app_server.client()
    app_server.login(c, "buyer@example.com")
    r = c.get(PAID)
    assert r.status_code == 200
    assert CANARY in r.text
    assert r.headers["cache-control"] == "private, no-store"
    assert "cookie" in r.headers["vary"].lower()
    assert CANARY in c.get(PAID + "index.html").text
    # without the trailing slash: the same redirect for everyone
    assert c.get(PAID.rstrip("/")).status_code == 301
    assert app_server.client().get(PAID.rstrip("/")).status_code == 301


def test_tier_unlocks_subscription_course_and_other_courses_stay_locked(
    app_server, grant_access
) -> None:
    grant_access("pro@example.com", "tier:pro", "subscription", stripe_status="active")
    c = app_server.client()
    app_server.login(c, "pro@example.com")
    assert "CANARY-PRO-91c2" in c.get("/courses/pro-course/01-lesson/").text
    assert_teaser(c.get(PAID))


def test_expired_entitlement_shows_teaser_again(app_server, grant_access) -> None:
    until = app_server.clock() + __import__("datetime").timedelta(days=1)
    grant_access("late@example.com", "course:demo", valid_until=until)
    c = app_server.client()
    app_server.login(c, "late@example.com")
    assert CANARY in c.get(PAID).text
    app_server.clock.advance(days=2)
    assert_teaser(c.get(PAID))


def test_members_page_needs_only_sign_in(app_server) -> None:
    c = app_server.client()
    assert "CANARY-MEMBERS-55d0" not in c.get("/members/").text
    app_server.login(c, "free@example.com")
    assert "CANARY-MEMBERS-55d0" in c.get("/members/").text


def test_missing_teaser_still_answers_200_with_paywall(app_server) -> None:
    (app_server.settings.site_path / "courses/demo/02-paid/index.html").unlink()
    r = app_server.client().get(PAID)
    assert r.status_code == 200
    assert "kp-paywall" in r.text and CANARY not in r.text


def test_private_files_not_named_by_the_manifest_are_never_served(app_server, grant_access) -> None:
    grant_access("all@example.com", "course:demo")
    c = app_server.client()
    app_server.login(c, "all@example.com")
    for url in ("/unlisted/", "/manifest.json", "/shells/en.html", "/private/manifest.json"):
        r = c.get(url)
        assert r.status_code == 404, url
        assert "PRIVATE-UNLISTED" not in r.text and "__KP_TITLE__" not in r.text
        assert '"gated"' not in r.text


@pytest.mark.parametrize(
    "private_file", ["manifest.json", "shells/en.html", "../outside.txt", "/etc/hostname"]
)
def test_manifest_pointing_at_forbidden_files_serves_the_teaser(
    app_server, grant_access, private_file: str
) -> None:
    path = app_server.settings.manifest_path
    manifest = read_manifest(path)
    gated = dict(manifest.gated)
    gated[PAID] = GatedPage(
        url=PAID, title="Paid", private_file=private_file, requires=["course:demo"]
    )
    write_manifest(manifest.model_copy(update={"gated": gated}), path)
    grant_access("buyer@example.com", "course:demo")
    c = app_server.client()
    app_server.login(c, "buyer@example.com")
    r = c.get(PAID)
    assert r.status_code == 200
    assert "kp-paywall" in r.text
    for leaked in ('"gated"', "__KP_TITLE__", "OUTSIDE-SECRET"):
        assert leaked not in r.text


def test_new_build_is_picked_up_without_restart(app_server) -> None:
    """The manifest is reloaded when a build replaces it: a newly gated URL is gated."""
    path = app_server.settings.manifest_path
    manifest = read_manifest(path)
    gated = dict(manifest.gated)
    gated["/articles/hello/"] = GatedPage(
        url="/articles/hello/",
        title="Hello",
        private_file="members/index.html",
        requires=["course:demo"],
    )
    write_manifest(manifest.model_copy(update={"gated": gated}), path)
    r = app_server.client().get("/articles/hello/")
    assert r.headers["cache-control"] == "private, no-store"


def test_head_on_gated_page_has_same_status_and_no_body(app_server) -> None:
    r = app_server.client().head(PAID)
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["cache-control"] == "private, no-store"
