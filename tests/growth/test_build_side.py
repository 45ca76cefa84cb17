"""The build's side of the growth engine, on a copy of the example site with a members-only
article and canary sentences in every paid or members-only part: `extra.growth` reaches the
paywall through the manifest (rules + published articles), the RSS and Atom feeds carry free
articles and only the teaser (summary) of members-only ones, every page loads growth.js, and
a reward naming something the site does not sell is a build error naming the key."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
import yaml
from stripe_local.asgi_thread import ServerThread, free_port

from kp_contract.manifest import read_manifest
from kp_contract.settings import load_settings
from paywall.app import create_app
from site_builder.build import BuildFailed, build_site

from .conftest import paywall_fixtures

REPO = Path(__file__).resolve().parents[2]
PAID_CANARY = "CANARY-GROWTH-PAID-3b7e"
MEMBERS_CANARY = "CANARY-GROWTH-MEMBERS-c41a"
ATOM = "{http://www.w3.org/2005/Atom}"
MEMBERS_ARTICLE = """---
title: Members-only notes from the launch call
date: 2026-10-20
summary: What we learned on the launch call, for members.
access: members
tags: [community]
---

Everyone can read this first paragraph: it is the teaser.

<!-- more -->

The full notes are for members. {canary}
"""


def copy_example(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ("content", "themes"):
        shutil.copytree(REPO / name, dest / name)
    shutil.copy2(REPO / "mkdocs.yml", dest / "mkdocs.yml")
    return dest


def plant_canaries(project: Path) -> None:
    """A canary after `<!-- more -->` in every lesson, and a members-only article."""
    for n, lesson in enumerate(sorted((project / "content" / "courses").rglob("*.md"))):
        text = lesson.read_text(encoding="utf-8")
        if lesson.name == "index.md" or "free_preview: true" in text:
            continue  # course pages and free previews are public on purpose
        if "<!-- more -->" in text:
            lesson.write_text(text + f"\n\n{PAID_CANARY} lesson {n}.\n", encoding="utf-8")
    article = project / "content" / "articles" / "members-launch-call-notes.md"
    article.write_text(MEMBERS_ARTICLE.format(canary=MEMBERS_CANARY), encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_example(tmp_path_factory.mktemp("growth-build") / "project")
    plant_canaries(project)
    build_site(project / "mkdocs.yml", cache=False)
    return project


def config_growth() -> dict:
    text = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    extra_start = text.index("\nextra:\n")
    return yaml.safe_load(text[extra_start:])["extra"]["growth"]


def test_the_canaries_are_in_private_only(built: Path):
    private = "".join(p.read_text(encoding="utf-8") for p in (built / "private").rglob("*.html"))
    assert private.count(PAID_CANARY) >= 5 and MEMBERS_CANARY in private


def test_manifest_carries_the_rules_and_the_articles(built: Path):
    manifest = read_manifest(built / "private" / "manifest.json")
    assert manifest.growth is not None
    rules = config_growth()
    assert manifest.growth.true_fans_goal == rules["true_fans_goal"]
    assert [(r.invites, r.key, r.days) for r in manifest.growth.referral_rewards] == [
        (
            r["invites"],
            f"course:{r['course']}" if "course" in r else f"tier:{r['tier']}",
            r.get("days"),
        )
        for r in rules["referral_rewards"]
    ]
    for rule in manifest.growth.referral_rewards:
        kind, _, name = rule.key.partition(":")
        assert name in (manifest.courses if kind == "course" else manifest.tiers)
    articles = {a.url: a for a in manifest.growth.articles}
    members = articles["/articles/members-launch-call-notes/"]
    assert members.access == "members" and manifest.page_for(members.url) is not None
    assert {a.lang for a in articles.values()} == {"en", "zh"}
    free = manifest.growth.free_articles()
    assert members not in free and len(free) == len(articles) - 1
    for article in free:
        assert (built / "site" / article.url.strip("/") / "index.html").is_file()
        assert manifest.page_for(article.url) is None
    assert MEMBERS_CANARY not in (built / "private" / "manifest.json").read_text()


FEEDS = ("feed.xml", "zh/feed.xml", "atom.xml", "zh/atom.xml")


@pytest.mark.parametrize("feed", FEEDS)
def test_feeds_hold_free_articles_and_only_teasers(built: Path, feed: str):
    path = built / "site" / feed
    text = path.read_text(encoding="utf-8")
    for canary in (PAID_CANARY, MEMBERS_CANARY):
        assert canary not in text, f"{canary} leaked into {feed}"
    assert "full notes are for members" not in text
    root = ET.fromstring(text)  # noqa: S314 - our own build output
    if feed.endswith("atom.xml"):
        assert root.tag == f"{ATOM}feed"
        entries = root.findall(f"{ATOM}entry")
        titles = [e.findtext(f"{ATOM}title") for e in entries]
        links = [e.find(f"{ATOM}link").get("href") for e in entries]
        assert root.find(f"{ATOM}author/{ATOM}name").text == "Knowledge Rocket"
    else:
        entries = root.findall("channel/item")
        titles = [e.findtext("title") for e in entries]
        links = [e.findtext("link") for e in entries]
    assert entries, f"{feed} has no items"
    assert all(link.startswith("http://127.0.0.1:8000/") for link in links)
    lang = "zh" if feed.startswith("zh/") else "en"
    manifest = read_manifest(built / "private" / "manifest.json")
    expected = [a.title for a in manifest.growth.articles if a.lang == lang]
    assert titles == expected  # newest first, one language per feed
    if lang == "en":
        assert "Members-only notes from the launch call" in titles
        assert "What we learned on the launch call, for members." in text  # the teaser


def test_every_page_loads_growth_js(built: Path):
    script = built / "site" / "assets" / "kp" / "growth.js"
    assert script.is_file() and "sendBeacon" in script.read_text(encoding="utf-8")
    pages = list((built / "site").rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text(encoding="utf-8")
        if "<head" in html and 'http-equiv="refresh"' not in html:
            assert "assets/kp/growth.js" in html, page
    for shell in (built / "private" / "_shell").glob("*.html"):
        assert "assets/kp/growth.js" in shell.read_text(encoding="utf-8")


def test_a_reward_naming_an_unknown_course_fails_the_build(tmp_path: Path):
    project = copy_example(tmp_path / "project")
    config = project / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("course: community-launch", "course: no-such-course"))
    with pytest.raises(BuildFailed) as failed:
        build_site(config, cache=False)
    message = str(failed.value)
    assert "extra.growth.referral_rewards.0.course" in message
    assert "unknown course 'no-such-course'" in message and "community-launch" in message
    assert not (project / "site").exists()


def test_members_only_article_is_a_free_sign_in_wall(built: Path, tmp_path: Path):
    """Served by the paywall: the public teaser (no members' text) to visitors; the whole
    article once the CTA's free sign-up link was followed."""
    port = free_port()
    settings = load_settings(
        _env_file=None,
        KP_PROJECT_DIR=built,
        KP_VAR_DIR=tmp_path / "var",
        KP_DATABASE_URL=f"sqlite:///{tmp_path / 'paywall.sqlite3'}",
        KP_SECRET_KEY="test-secret-key-not-for-production-0123456789",
        KP_BASE_URL=f"http://127.0.0.1:{port}",
        KP_SMTP_HOST=None,
        STRIPE_SECRET_KEY=None,
    )
    url = "/articles/members-launch-call-notes/"
    server = ServerThread(create_app(settings), port=port).start()
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Origin": base}) as visitor:
            teaser = visitor.get(url)
            assert teaser.status_code == 200
            assert "Everyone can read this first paragraph" in teaser.text
            assert MEMBERS_CANARY not in teaser.text
            assert 'action="/api/login"' in teaser.text  # sign in, not pay
            assert 'action="/api/checkout"' not in teaser.text.split("kp-paywall", 1)[-1]
            r = visitor.post("/api/login", data={"email": "reader@example.com", "next": url})
            assert r.status_code == 200
            raw = sorted((tmp_path / "var" / "outbox").glob("*.eml"))[-1].read_bytes()
            message = email.message_from_bytes(raw, policy=email.policy.default)
            mail = message.get_body(preferencelist=("plain",)).get_content()
            link = re.search(r"http://127\.0\.0\.1:\d+/api/login/callback\?token=[\w-]+", mail)
            assert paywall_fixtures.open_magic_link(visitor, link.group(0)).status_code == 303
            full = visitor.get(url)
            assert full.status_code == 200 and MEMBERS_CANARY in full.text
    finally:
        server.stop()
