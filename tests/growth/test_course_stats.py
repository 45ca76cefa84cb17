"""Completion per course for the creator, over real HTTP on SQLite and PostgreSQL: members
mark lessons done and claim certificates through the paywall; `kp stats --courses` and
`/admin/` (both languages) show students, started, half done, finished and certificates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kp_contract.manifest import read_manifest, write_manifest
from paywall.members.certificates import revoke

pytestmark = pytest.mark.timeout(240)

ADMIN = "boss@example.com"
INTRO, PAID = "/courses/demo/01-intro/", "/courses/demo/02-paid/"
PRO_LESSON = "/courses/pro-course/01-lesson/"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"KP_ADMIN_EMAILS": ADMIN}


@pytest.fixture
def titled_site(built_site: Path) -> Path:
    path = built_site / "private" / "manifest.json"
    manifest = read_manifest(path)
    courses = dict(manifest.courses)
    courses["demo"] = courses["demo"].model_copy(update={"lesson_titles": ["Intro", "Paid"]})
    courses["pro-course"] = courses["pro-course"].model_copy(update={"lesson_titles": ["Pro"]})
    write_manifest(manifest.model_copy(update={"courses": courses}), path)
    return built_site


def mark(client, lesson: str) -> None:
    r = client.post(
        "/api/progress", json={"lesson": lesson}, headers={"Accept": "application/json"}
    )
    assert r.status_code == 200, r.text


def claim(client, course: str) -> str:
    r = client.post(
        "/api/certificates",
        json={"course": course, "name": "A Student"},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    return r.json()["id"]


@pytest.fixture
def learners(titled_site, app_server, sign_up, grant_access, pw, clock) -> None:
    """demo: ann finished it with a certificate, bob did 1 of 2, cy nothing; a free member
    read the free preview (no student); dan (Pro) finished the Pro course, his certificate
    was revoked."""
    for address, key in (
        ("ann@example.com", "course:demo"),
        ("bob@example.com", "course:demo"),
        ("cy@example.com", "course:demo"),
        ("dan@example.com", "tier:pro"),
    ):
        grant_access(address, key, "purchase", stripe_object_id=f"pi_{address[:3]}")
    ann, bob, free, dan = (sign_up(f"{name}@example.com") for name in ("ann", "bob", "free", "dan"))
    mark(ann, INTRO)
    mark(ann, PAID)
    claim(ann, "demo")
    mark(bob, INTRO)
    mark(free, INTRO)
    mark(dan, PRO_LESSON)
    revoked = claim(dan, "pro-course")
    with pw.sessions() as db:
        revoke(db, revoked, clock())
        db.commit()


def test_kp_stats_courses(learners, kp):
    out = kp("stats", "--courses").output
    lines = {line.split("  ")[0]: " ".join(line.split()) for line in out.splitlines()}
    assert lines["Demo course (demo)"] == (
        "Demo course (demo) 2 3 2 (66.7%) 2 (66.7%) 1 (33.3%) 1 (33.3%)"
    )
    assert lines["Pro course (pro-course)"] == (
        "Pro course (pro-course) 1 1 1 (100.0%) 1 (100.0%) 1 (100.0%) 0 (0.0%)"
    )
    assert out.splitlines()[1].split() == [
        "course", "lessons", "students", "started", "half", "done", "finished", "certificates"
    ]  # fmt: skip


def test_admin_dashboard_shows_completion_in_both_languages(learners, sign_up):
    boss = sign_up(ADMIN)
    en = boss.get("/admin/")
    assert en.status_code == 200 and "<h2>Course completion</h2>" in en.text
    assert "<th>Half done</th><th>Finished</th><th>Certificates</th>" in en.text
    assert (
        '<tr data-kp-course="demo"><td>Demo course</td><td>3</td>'
        "<td>2 <small>(66.7%)</small></td><td>2 <small>(66.7%)</small></td>"
        "<td>1 <small>(33.3%)</small></td><td>1 <small>(33.3%)</small></td></tr>"
    ) in en.text
    assert "<td>1 <small>(100.0%)</small></td><td>0 <small>(0.0%)</small></td></tr>" in en.text
    zh = boss.get("/admin/?lang=zh")
    assert "<h2>课程完成情况</h2>" in zh.text
    assert "<th>课程</th><th>学员</th><th>已开始</th><th>完成过半</th>" in zh.text
    assert '<tr data-kp-course="demo"><td>Demo course</td><td>3</td>' in zh.text
