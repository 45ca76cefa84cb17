"""Path traversal and encoding tricks: nothing outside site/ and private/ is ever served, and
no spelling of a gated URL reaches the full lesson without an entitlement."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

CANARY = "CANARY-PAID-7f3a"
SECRETS = (b"OUTSIDE-SECRET-d41d", b"PRIVATE-UNLISTED-0b9e", CANARY.encode(), b'"gated"')

ESCAPES = [
    "/../outside.txt",
    "/../../outside.txt",
    "/%2e%2e/outside.txt",
    "/%2E%2E/%2e%2E/outside.txt",
    "/.%2e/outside.txt",
    "/assets/%2e%2e/%2e%2e/outside.txt",
    "/assets/..%2f..%2foutside.txt",
    "/assets/..%2F..%2Foutside.txt",
    "/%252e%252e/outside.txt",
    "/..%5coutside.txt",
    "/..\\outside.txt",
    "/assets\\..\\..\\outside.txt",
    "/%5c..%5coutside.txt",
    "/%00",
    "/index.html%00.css",
    "/index.html%00",
    "/etc/passwd",
    "//etc/passwd",
    "/%2fetc%2fpasswd",
    "/../private/manifest.json",
    "/%2e%2e/private/manifest.json",
    "/../private/courses/demo/02-paid/index.html",
    "/%2e%2e/private/unlisted/index.html",
    "/./index.html",
    "/%2e/index.html",
    "/.env",
    "/..;/outside.txt",
]


def test_escapes_never_reach_outside_files(raw_get) -> None:
    """One server, every trick; the failures are collected so each one is reported."""
    failures = []
    for raw_path in ESCAPES:
        r = raw_get(raw_path)
        if r.status_code not in (400, 404):
            failures.append((raw_path, r.status_code))
        failures += [(raw_path, secret) for secret in SECRETS if secret in r.body]
    assert failures == []


GATED_SPELLINGS = [
    "/courses/demo/01-intro/../02-paid/",
    "/courses/demo/01-intro/%2e%2e/02-paid/",
    "/courses/demo/02-paid/./",
    "/courses/demo/02-paid/%2e/",
    "/courses/demo/02-paid%2f",
    "/courses/demo/02-paid%2findex.html",
    "/courses/demo%2f02-paid/",
    "/courses//demo/02-paid/",
    "/courses/demo/02-paid//",
    "/courses/demo/%30%32-paid/",
    "/courses/demo/02-paid/index.html",
    "/courses/demo/02-paid/index.html?x=1",
    "/courses/demo/02-paid\\",
    "/COURSES/demo/02-paid/",
]


def test_gated_lesson_spellings_never_show_full_text_anonymously(raw_get) -> None:
    failures = []
    for raw_path in GATED_SPELLINGS:
        r = raw_get(raw_path)
        if CANARY.encode() in r.body:
            failures.append((raw_path, "full text"))
        if r.status_code == 200 and (
            b"kp-paywall" not in r.body or r.headers["cache-control"] != "private, no-store"
        ):
            failures.append((raw_path, "teaser without paywall or cacheable"))
    assert failures == []


def test_encoded_spelling_of_gated_url_still_serves_entitled_member(
    app_server, grant_access, raw_get
) -> None:
    """Decoding is applied once and consistently: `%30%32-paid` is the gated URL."""
    grant_access("buyer@example.com", "course:demo")
    c = app_server.client()
    app_server.login(c, "buyer@example.com")
    cookie = {"Cookie": f"kp_session={c.cookies.get('kp_session')}"}
    r = raw_get("/courses/demo/%30%32-paid/", headers=cookie)
    assert r.status_code == 200
    assert CANARY.encode() in r.body
    anonymous = raw_get("/courses/demo/%30%32-paid/")
    assert anonymous.status_code == 200 and CANARY.encode() not in anonymous.body


def test_symlinks_pointing_outside_are_not_followed(app_server, raw_get) -> None:
    site = app_server.settings.site_path
    project = site.parent
    os.symlink(project / "outside.txt", site / "leak.txt")
    os.symlink(project / "private", site / "private-link")
    os.symlink(project / "private" / "courses" / "demo" / "02-paid", site / "paid-link")
    for path in (
        "/leak.txt",
        "/private-link/manifest.json",
        "/private-link/unlisted/",
        "/paid-link/",
        "/paid-link/index.html",
    ):
        r = raw_get(path)
        assert r.status_code == 404, path
        for secret in SECRETS:
            assert secret not in r.body, (path, secret)


def test_symlink_inside_site_is_served(app_server, raw_get) -> None:
    site = app_server.settings.site_path
    os.symlink(site / "assets" / "site.css", site / "alias.css")
    r = raw_get("/alias.css")
    assert r.status_code == 200 and b"sans-serif" in r.body


def test_private_lesson_symlinked_outside_private_is_refused(app_server, grant_access) -> None:
    private = app_server.settings.private_path
    lesson = private / "courses" / "demo" / "02-paid" / "index.html"
    lesson.unlink()
    os.symlink(private.parent / "outside.txt", lesson)
    grant_access("buyer@example.com", "course:demo")
    c = app_server.client()
    app_server.login(c, "buyer@example.com")
    r = c.get("/courses/demo/02-paid/")
    assert r.status_code == 200
    assert "OUTSIDE-SECRET" not in r.text and "kp-paywall" in r.text
