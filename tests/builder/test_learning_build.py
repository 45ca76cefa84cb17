"""The build side of learning (issue #17): `available_after_days` and `extra.community.groups`
are validated, reach the manifest (in private/), put a "mark as done" at the foot of full
lessons and the opening day in the lesson list; a group's link and QR image never reach
site/, and the leak check finds them when they do."""

from __future__ import annotations

import shutil

import pytest

from kp_contract.manifest import read_manifest
from site_builder.build import BuildFailed
from site_builder.leaks import find_leaks

GROUP_URL = "https://chat.example.com/join/pro-only-3f9a?x=1&y=2"
QR = b"\x89PNG\r\n\x1a\nTHE-PRO-GROUP-QR-77e1"


@pytest.fixture
def learning_mini(mini):
    mini.write(
        "courses/c/03-later.md",
        """\
        ---
        title: Later lesson
        available_after_days: 7
        ---

        The teaser of the later lesson.

        <!-- more -->

        What week two teaches, only in the private copy.
        """,
    )
    (mini.root / "private-assets").mkdir()
    (mini.root / "private-assets" / "pro.png").write_bytes(QR)
    extra = dict(MINI_EXTRA(mini))
    extra["community"] = {
        **extra["community"],
        "groups": {
            "pro-circle": {
                "title": "Pro circle",
                "join_url": GROUP_URL,
                "qr_image": "private-assets/pro.png",
                "tier": "pro",
            },
            "buyers": {
                "title": "Buyers",
                "join_url": "https://chat.example.com/b-1",
                "course": "c",
            },
        },
    }
    mini.configure(extra=extra)
    return mini


def MINI_EXTRA(mini):  # noqa: N802 - reads the mini project's own extra
    import yaml

    return yaml.safe_load(mini.config.read_text(encoding="utf-8"))["extra"]


def test_drip_and_groups_reach_the_manifest_and_private_only(learning_mini):
    learning_mini.build()
    root = learning_mini.root
    manifest = read_manifest(root / "private" / "manifest.json")
    assert manifest.gated["/courses/c/03-later/"].available_after_days == 7
    assert manifest.gated["/courses/c/02-paid/"].available_after_days is None
    assert manifest.courses["c"].lesson_titles == ["Intro", "Paid lesson", "Later lesson"]
    group = manifest.groups["pro-circle"]
    assert (group.requires, group.join_url, group.qr_file) == (
        "tier:pro",
        GROUP_URL,
        "_groups/pro-circle.png",
    )
    assert manifest.groups["buyers"].requires == "course:c"
    assert (root / "private" / "_groups" / "pro-circle.png").read_bytes() == QR

    for path in (root / "site").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"pro-only-3f9a" not in data and b"chat.example.com/b-1" not in data, path
            assert data != QR, path
    assert find_leaks(root / "site", root / "private") == []

    listing = (root / "site" / "courses" / "c" / "index.html").read_text(encoding="utf-8")
    assert "Opens 7 days after you join" in listing
    assert 'data-kp-lesson="/courses/c/03-later/"' in listing
    assert "assets/kp/learning.js" in listing
    full = (root / "private" / "courses" / "c" / "02-paid" / "index.html").read_text("utf-8")
    assert 'action="/api/progress"' in full and 'name="lesson" value="/courses/c/02-paid/"' in full
    teaser = (root / "site" / "courses" / "c" / "02-paid" / "index.html").read_text("utf-8")
    assert 'action="/api/progress"' not in teaser
    free = (root / "site" / "courses" / "c" / "01-intro" / "index.html").read_text("utf-8")
    assert "data-kp-lesson-end" in free  # hidden until learning.js knows a member


def test_a_group_link_or_qr_in_site_is_a_leak(learning_mini):
    learning_mini.build()
    root = learning_mini.root
    page = root / "site" / "articles" / "hello" / "index.html"
    page.write_text(
        page.read_text("utf-8").replace(
            "</main>", f'<a href="{GROUP_URL.replace("&", "&amp;")}">x</a></main>'
        ),
        "utf-8",
    )
    shutil.copyfile(root / "private" / "_groups" / "pro-circle.png", root / "site" / "qr.png")
    leaks = find_leaks(root / "site", root / "private")
    assert {(leak.site_file, leak.page_url) for leak in leaks} == {
        ("articles/hello/index.html", "group:pro-circle"),
        ("qr.png", "group:pro-circle"),
    }


def test_group_and_drip_mistakes_are_build_errors(learning_mini):
    extra = MINI_EXTRA(learning_mini)
    groups = extra["community"]["groups"]
    groups["pro-circle"]["qr_image"] = "content/qr.png"  # would be published
    (learning_mini.root / "content" / "qr.png").write_bytes(QR)
    groups["buyers"]["course"] = "nope"
    groups["both"] = {
        "title": "B",
        "join_url": "https://x.example/b",
        "tier": "pro",
        "members": True,
    }
    learning_mini.configure(extra=extra)
    learning_mini.write(
        "courses/c/01-intro.md",
        "---\ntitle: Intro\nfree_preview: true\navailable_after_days: 2\n---\n\nFree.\n",
    )
    with pytest.raises(BuildFailed) as caught:
        learning_mini.build()
    text = str(caught.value)
    assert "extra.community.groups.both" in text and "exactly one of" in text
    assert "courses/c/01-intro.md" in text and "`available_after_days` is for paid lessons" in text


def test_qr_inside_docs_dir_and_unknown_course_are_reported(learning_mini):
    extra = MINI_EXTRA(learning_mini)
    groups = extra["community"]["groups"]
    groups["pro-circle"]["qr_image"] = "content/qr.png"
    (learning_mini.root / "content" / "qr.png").write_bytes(QR)
    groups["buyers"]["course"] = "nope"
    learning_mini.configure(extra=extra)
    with pytest.raises(BuildFailed) as caught:
        learning_mini.build()
    text = str(caught.value)
    assert "extra.community.groups.buyers.course" in text and "unknown course 'nope'" in text
    learning_mini.configure(
        extra={
            **extra,
            "community": {**extra["community"], "groups": {"pro-circle": groups["pro-circle"]}},
        }
    )
    with pytest.raises(BuildFailed) as caught:
        learning_mini.build()
    assert "inside docs_dir" in str(caught.value)


def test_a_lessons_publication_date_reaches_the_manifest(learning_mini):
    """`date` on a lesson is the day `kp newsletter send --lessons` announces it; a lesson
    without one is announced only when it is dripped, and a wrong date names the file."""
    learning_mini.write(
        "courses/c/04-news.md",
        "---\ntitle: News\ndate: 2025-03-04\n---\n\nTeaser.\n\n<!-- more -->\n\nPaid.\n",
    )
    learning_mini.build()
    gated = read_manifest(learning_mini.root / "private" / "manifest.json").gated
    assert str(gated["/courses/c/04-news/"].date) == "2025-03-04"
    assert gated["/courses/c/03-later/"].date is None
    learning_mini.write(
        "courses/c/04-news.md",
        "---\ntitle: News\ndate: soon\n---\n\nTeaser.\n\n<!-- more -->\n\nPaid.\n",
    )
    with pytest.raises(BuildFailed) as caught:
        learning_mini.build()
    assert "courses/c/04-news.md" in str(caught.value) and "date" in str(caught.value)
