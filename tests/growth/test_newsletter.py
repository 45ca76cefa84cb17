"""`kp newsletter send` over real SMTP (aiosmtpd on loopback): new free articles to members who
opted in, in their language, with one-click unsubscribe headers; a second run sends nothing;
no paid or members-only text in any mail; unsubscribing works signed out and is idempotent.
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from paywall.database.models import NewsletterSend
from paywall.growth.newsletter import member_id_for, unsubscribe_token
from paywall.members.records import find_member, get_or_create_member

from .conftest import (
    ARTICLE,
    CANARY,
    MEMBERS_CANARY,
    OLD_ARTICLE,
    PRO_CANARY,
    ZH_ARTICLE,
    Smtp,
    html_of,
    text_of,
    unsubscribe_link,
)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def settings_overrides(smtp: Smtp) -> dict[str, Any]:
    return {"KP_SMTP_HOST": "127.0.0.1", "KP_SMTP_PORT": smtp.port}


@pytest.fixture
def members(app_server, sign_up, pw, clock) -> dict[str, Any]:
    """ann (en) and li (zh) opted in; ola opted out on her account page; a buyer who never
    confirmed an address."""
    sign_up("ann@example.com")
    sign_up("li@example.com", lang="zh")
    ola = sign_up("ola@example.com")
    r = ola.post("/api/newsletter", data={"subscribe": "0"})
    assert r.status_code == 303 and r.headers["location"] == "/account/#newsletter"
    assert "You do not receive new articles by e-mail." in ola.get("/account/").text
    with pw.sessions() as db:
        get_or_create_member(db, "buyer@example.com", now=clock(), source="stripe checkout")
        db.commit()
    return {"ann": "ann@example.com", "li": "li@example.com"}


def test_send_mails_new_free_articles_once_over_smtp(members, smtp, kp, pw, app_server):
    dry = kp("newsletter", "send", "--dry-run").output
    assert "would send to ann@example.com (en): 1 article(s): Hello free" in dry
    assert "would send to li@example.com (zh): 1 article(s): 你好社群" in dry
    assert "ola@" not in dry and "buyer@" not in dry
    assert "2 message(s) would be sent, none sent" in dry
    assert smtp.inbox.messages == []
    with pw.sessions() as db:
        assert db.scalar(select(func.count()).select_from(NewsletterSend)) == 0

    out = kp("newsletter", "send").output
    assert "2 message(s) sent, 0 failed" in out
    assert sorted(str(m["To"]) for m in smtp.inbox.messages) == [
        "ann@example.com",
        "li@example.com",
    ]
    ann = smtp.inbox.to("ann@example.com")[0]
    assert ann["Subject"] == "Demo Site: Hello free"
    assert ann["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body, html = text_of(ann), html_of(ann)
    assert "Why a community beats a mailing list." in body
    assert f"{app_server.url}{ARTICLE}" in body and f'href="{app_server.url}{ARTICLE}"' in html
    assert unsubscribe_link(ann) in body  # also in the text, for mail apps without the header
    li = smtp.inbox.to("li@example.com")[0]
    assert li["Subject"] == "Demo Site：你好社群" and "社群比邮件列表更有温度。" in text_of(li)
    assert ZH_ARTICLE in text_of(li) and "一键退订" in text_of(li)
    for msg in smtp.inbox.messages:
        everything = text_of(msg) + html_of(msg)
        for secret in (CANARY, PRO_CANARY, MEMBERS_CANARY, "Teaser of the members' corner"):
            assert secret not in everything
        assert OLD_ARTICLE not in everything  # older than the default 30 days

    again = kp("newsletter", "send").output
    assert "0 message(s) sent" in again and len(smtp.inbox.messages) == 2

    since = (dt.date.today() - dt.timedelta(days=120)).isoformat()
    older = kp("newsletter", "send", "--since", since).output
    assert "sent to ann@example.com: 1 article(s)" in older
    assert smtp.inbox.to("ann@example.com")[-1]["Subject"] == "Demo Site: Old news"
    assert len(smtp.inbox.messages) == 3

    bad = kp("newsletter", "send", "--since", since, "--days", "3", ok=False)
    assert bad.exit_code != 0 and "give --since or --days, not both" in bad.output


def test_unsubscribe_one_click_signed_out_and_idempotent(members, smtp, kp, app_server, pw):
    kp("newsletter", "send")
    link = unsubscribe_link(smtp.inbox.to("ann@example.com")[0])
    assert link.startswith(app_server.url + "/api/newsletter/unsubscribe?token=")

    # Opening the link (or a mail scanner fetching it) only shows a button.
    page = httpx.get(link)
    assert page.status_code == 200 and "Stop sending new articles to ann@example.com?" in page.text
    with pw.sessions() as db:
        assert find_member(db, "ann@example.com").newsletter is True

    # RFC 8058 one-click: the mail provider POSTs, with no cookie and no Origin header.
    for _ in range(2):
        r = httpx.post(link, data={"List-Unsubscribe": "One-Click"})
        assert (r.status_code, r.text) == (200, "unsubscribed")
    with pw.sessions() as db:
        assert find_member(db, "ann@example.com").newsletter is False
    # The page's button does the same, again without error.
    token = link.split("token=", 1)[1]
    r = httpx.post(f"{app_server.url}/api/newsletter/unsubscribe", data={"token": token})
    assert r.status_code == 200 and "will not receive new articles any more" in r.text

    # Forged or mangled tokens change nothing.
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert member_id_for(pw, forged) is None
    r = httpx.post(link.replace(token, forged), data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 400
    assert httpx.get(link.replace(token, forged)).status_code == 400
    with pw.sessions() as db:
        other = find_member(db, "li@example.com")
        assert other.newsletter is True
        assert member_id_for(pw, unsubscribe_token(pw, other)) == other.id

    since = (dt.date.today() - dt.timedelta(days=120)).isoformat()
    kp("newsletter", "send", "--since", since)
    assert len(smtp.inbox.to("ann@example.com")) == 1, "unsubscribed: no more mail"

    # Subscribing again from the account page (signed in).
    client = app_server.client()
    app_server.login(client, "ann@example.com")
    assert client.post("/api/newsletter", data={"subscribe": "1"}).status_code == 303
    assert "New free articles are e-mailed to you." in client.get("/account/").text
    kp("newsletter", "send", "--since", since)
    assert smtp.inbox.to("ann@example.com")[-1]["Subject"] == "Demo Site: Old news"


def test_a_failed_delivery_is_sent_by_the_next_run(members, smtp, kp, pw):
    smtp.controller.stop()
    failed = kp("newsletter", "send", ok=False)
    assert failed.exit_code == 1 and "0 message(s) sent, 2 failed" in failed.output
    with pw.sessions() as db:
        assert db.scalar(select(func.count()).select_from(NewsletterSend)) == 0
    smtp.restart()
    assert "2 message(s) sent, 0 failed" in kp("newsletter", "send").output
    assert len(smtp.inbox.messages) == 2
