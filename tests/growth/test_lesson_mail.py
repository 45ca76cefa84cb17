"""`kp newsletter send --lessons` over real SMTP (aiosmtpd on loopback), SQLite and
PostgreSQL: a newly published paid lesson goes, in full, to the members entitled to it and
to nobody else; a dripped lesson only once it is open for the member (the paywall's clock
moves); the one-click unsubscribe stops them; a second run sends nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kp_contract.manifest import read_manifest, write_manifest
from paywall.app import make_paywall
from paywall.database.models import NewsletterSend
from paywall.growth.lesson_mail import send_lessons
from paywall.growth.lesson_text import lesson_mail_text
from paywall.members.records import find_member

from .conftest import CANARY, MEMBERS_CANARY, PRO_CANARY, Smtp, html_of, text_of, unsubscribe_link

pytestmark = pytest.mark.timeout(240)

PAID = "/courses/demo/02-paid/"
DRIPPED = "/courses/pro-course/01-lesson/"
ANN = "ann@example.com"  # bought the demo course, and Pro
PRO = "pro@example.com"  # Pro
OLA = "ola@example.com"  # bought the other course only
FREE = "free@example.com"  # a free member
UNCONFIRMED = "stripe-buyer@example.com"  # bought demo, never confirmed the address


@pytest.fixture
def settings_overrides(smtp: Smtp) -> dict[str, Any]:
    return {"KP_SMTP_HOST": "127.0.0.1", "KP_SMTP_PORT": smtp.port}


@pytest.fixture
def lesson_site(built_site: Path) -> Path:
    """The demo course's paid lesson published yesterday; the Pro course's lesson undated
    and dripped 3 days after the start of a member's access."""
    path = built_site / "private" / "manifest.json"
    manifest = read_manifest(path)
    gated = dict(manifest.gated)
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    gated[PAID] = gated[PAID].model_copy(update={"date": yesterday})
    gated[DRIPPED] = gated[DRIPPED].model_copy(update={"available_after_days": 3})
    write_manifest(manifest.model_copy(update={"gated": gated}), path)
    return built_site


@pytest.fixture
def members(lesson_site, app_server, sign_up, grant_access) -> None:
    for address in (ANN, PRO, OLA, FREE):
        sign_up(address)  # confirmed addresses, newsletter on (the default)
    grant_access(ANN, "course:demo", "purchase", stripe_object_id="pi_ann")
    grant_access(ANN, "tier:pro", "subscription", stripe_object_id="sub_ann")
    grant_access(PRO, "tier:pro", "subscription", stripe_object_id="sub_pro")
    grant_access(OLA, "course:pro-course", "purchase", stripe_object_id="pi_ola")
    grant_access(UNCONFIRMED, "course:demo", "purchase", stripe_object_id="pi_unconfirmed")


def everything(msg: Any) -> str:
    return text_of(msg) + html_of(msg)


def test_new_paid_lesson_goes_in_full_to_entitled_members_only(
    members, smtp, kp, pw, settings, clock, app_server
):
    dry = kp("newsletter", "send", "--lessons", "--dry-run").output
    assert f"would send to {ANN} (en): lesson Paid lesson ({PAID})" in dry
    assert "1 lesson e-mail(s) would be sent, none sent" in dry and smtp.inbox.messages == []

    out = kp("newsletter", "send", "--lessons").output
    assert f"sent to {ANN}: lesson Paid lesson ({PAID})" in out
    assert "1 lesson e-mail(s) sent, 0 failed" in out
    assert [str(m["To"]) for m in smtp.inbox.messages] == [ANN]
    mail = smtp.inbox.to(ANN)[0]
    assert mail["Subject"] == "Demo Site: new lesson in Demo course: Paid lesson"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = text_of(mail), html_of(mail)
    assert f"{CANARY} the full paid text." in text and CANARY in html  # in full
    assert "The first paragraph is public." in text
    assert f"it is also on the site: {app_server.url}{PAID}" in text
    assert f'href="{app_server.url}{PAID}"' in html
    assert "<header>" not in html and "Demo Site\n" not in text  # the lesson, not the site
    assert unsubscribe_link(mail) in text
    for secret in (PRO_CANARY, MEMBERS_CANARY):  # the dripped lesson is not open yet
        assert secret not in everything(mail)

    again = kp("newsletter", "send", "--lessons").output
    assert "0 lesson e-mail(s) sent, 0 failed" in again and len(smtp.inbox.messages) == 1

    # Ann unsubscribes with one click (her mail app posts to the link, signed out).
    r = httpx.post(unsubscribe_link(mail), data={"List-Unsubscribe": "One-Click"})
    assert (r.status_code, r.text) == (200, "unsubscribed")
    with pw.sessions() as db:
        assert find_member(db, ANN).newsletter is False

    # Four days later the dripped lesson is open to Pro and to the other course's buyer.
    clock.advance(days=4)
    assert app_server.client().get(DRIPPED).status_code == 200  # the app's clock moved too
    smtp_pw = make_paywall(settings, clock=clock)  # the mailer the settings name: SMTP
    try:
        report = send_lessons(smtp_pw)
        assert send_lessons(smtp_pw).sent == []  # a re-run sends nothing new
    finally:
        smtp_pw.engine.dispose()
    assert sorted((d.email, d.lesson.url) for d in report.sent) == [(OLA, DRIPPED), (PRO, DRIPPED)]
    assert report.failed == []
    assert sorted(str(m["To"]) for m in smtp.inbox.messages) == sorted([ANN, OLA, PRO])
    for address in (OLA, PRO):
        (pro_mail,) = smtp.inbox.to(address)
        assert PRO_CANARY in text_of(pro_mail) and CANARY not in everything(pro_mail)
    assert smtp.inbox.to(FREE) == [] and smtp.inbox.to(UNCONFIRMED) == []
    with pw.sessions() as db:
        assert db.scalar(select(func.count()).select_from(NewsletterSend)) == 3


def test_a_dripped_lesson_waits_until_it_opens_for_that_member(
    members, smtp, kp, settings, clock, grant_access
):
    smtp_pw = make_paywall(settings, clock=clock)
    try:
        assert [d.email for d in send_lessons(smtp_pw).sent] == [ANN]  # demo only
        clock.advance(days=2, hours=23)
        assert send_lessons(smtp_pw).sent == []  # 3 days after access began: not yet
        grant_access("late@example.com", "tier:pro", "subscription", stripe_object_id="sub_l")
        clock.advance(hours=1, seconds=1)
        opened = sorted(d.email for d in send_lessons(smtp_pw).sent)
        assert opened == [ANN, OLA, PRO]  # the late subscriber's 3 days have not passed
    finally:
        smtp_pw.engine.dispose()
    assert [m["Subject"] for m in smtp.inbox.to(PRO)] == [
        "Demo Site: new lesson in Pro course: Pro lesson"
    ]


def test_a_missing_lesson_file_fails_loudly_and_is_sent_by_the_next_run(
    members, smtp, kp, lesson_site
):
    page = lesson_site / "private" / "courses" / "demo" / "02-paid" / "index.html"
    kept = page.read_text(encoding="utf-8")
    page.unlink()
    failed = kp("newsletter", "send", "--lessons", ok=False)
    assert failed.exit_code == 1
    assert f"FAILED {ANN}, lesson {PAID}: LookupError" in failed.output
    assert "private/courses/demo/02-paid/index.html is missing" in failed.output
    page.write_text(kept, encoding="utf-8")
    assert "1 lesson e-mail(s) sent, 0 failed" in kp("newsletter", "send", "--lessons").output
    assert CANARY in text_of(smtp.inbox.to(ANN)[0])


def test_lesson_pages_become_readable_mail() -> None:
    page = (
        "<html><body><header>Site nav</header><article class='md-typeset'><h1>Title</h1>"
        "<p class='kp-meta'>Lesson 2</p><h2 id='a'>Part<a class='headerlink' href='#a'>¶</a>"
        "</h2><p>See <a href='../other/'>the other lesson</a>.</p><ul><li>one</li><li>two"
        "<ol><li>nested</li></ol></li></ul><pre><code>if x:\n    y()\n</code></pre>"
        "<script>alert(1)</script><section class='kp-lesson-end'><form><button>Mark as done"
        "</button></form></section></article><footer>Footer</footer></body></html>"
    )
    mail = lesson_mail_text(page, "https://example.com/courses/c/02/")
    assert mail.text == (
        "Title\n========\n\nPart\n--------\n\nSee the other lesson "
        "<https://example.com/courses/c/other/>.\n\n- one\n- two\n  1. nested\n\n"
        "if x:\n    y()\n"
    )
    assert '<a href="https://example.com/courses/c/other/">the other lesson</a>' in mail.html
    for gone in ("Site nav", "Footer", "Lesson 2", "¶", "alert", "Mark as done", "<form"):
        assert gone not in mail.html and gone not in mail.text
