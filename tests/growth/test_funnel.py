"""Funnel attribution over real HTTP: the beacon counts views and CTA clicks per page without
storing anything about the visitor (no IP, no user agent, no cookie) and respects
Do-Not-Track / Global Privacy Control; sign-ups and purchases record the article they came
from; `kp stats` and `/admin/` show the same numbers. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import MetaData, select

from kp_contract.manifest import read_manifest
from paywall.billing.stripe_sync import sync_catalog
from paywall.database.models import Conversion, PageCounter

from .conftest import ARTICLE, ZH_ARTICLE

pytestmark = pytest.mark.timeout(240)

UA = "Mozilla/5.0 (Canary-UA-5e1f; like Gecko)"
CS_ID = re.compile(r"cs_[A-Za-z0-9_]+")
ADMIN = "boss@example.com"


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return {**stripe_settings, "KP_ADMIN_EMAILS": f"{ADMIN}, other-admin@example.com"}


@pytest.fixture(autouse=True)
def catalog(local_stripe, settings) -> None:
    sync_catalog(local_stripe.client(), read_manifest(settings.manifest_path))


def beacon(client, event: str, path: str, **kwargs: Any):
    return client.post(
        "/api/e",
        content=json.dumps({"e": event, "p": path}),
        headers={"Content-Type": "text/plain;charset=UTF-8", "User-Agent": UA, **kwargs},
    )


def counters(pw) -> dict[tuple[str, str], int]:
    with pw.sessions() as db:
        return {(c.path, c.event): c.count for c in db.scalars(select(PageCounter))}


def every_stored_value(pw) -> str:
    """Every cell of every table, as text: what a database dump would show."""
    meta = MetaData()
    meta.reflect(pw.engine)
    cells = []
    with pw.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(table.select()):
                cells += [str(v) for v in row]
    return "\n".join(cells)


def test_beacon_signup_and_purchase_of_an_article_show_up_in_stats(
    app_server, local_stripe, pw, kp, sign_up
):
    reader = app_server.client()
    for _ in range(4):
        assert beacon(reader, "view", f"{ARTICLE}?utm_source=x#top").status_code == 204
    assert beacon(reader, "view", ZH_ARTICLE).status_code == 204
    for _ in range(2):
        assert beacon(reader, "cta", ARTICLE).status_code == 204
    assert counters(pw) == {(ARTICLE, "view"): 4, (ARTICLE, "cta"): 2, (ZH_ARTICLE, "view"): 1}

    # Sign-up from the article's CTA form (the form posts from=<article>).
    member = sign_up("fan@example.com", source=ARTICLE)
    # Purchase on the course page; growth.js sent via=<article> (the article read before).
    r = member.post(
        "/api/checkout", data={"course": "demo", "from": "/courses/demo/", "via": ARTICLE}
    )
    assert r.status_code == 303
    cs_id = CS_ID.search(r.headers["location"]).group(0)
    local_stripe.pay(cs_id)
    with pw.sessions() as db:
        rows = {(c.kind, c.path, c.amount_total) for c in db.scalars(select(Conversion))}
    assert rows == {("signup", ARTICLE, 0), ("purchase", ARTICLE, 4900)}
    # Delivered again (Stripe retries): still one purchase.
    event = local_stripe.events("checkout.session.completed")[-1]
    local_stripe.resend(event["id"])

    out = kp("stats").output
    line = next(ln for ln in out.splitlines() if ln.startswith("Hello free"))
    assert re.split(r"\s{2,}", line) == [
        f"Hello free ({ARTICLE})",
        "4",
        "2 (50.0%)",
        "1 (50.0%)",
        "1 (100.0%)",
        "25.0%",
    ]
    zh = next(ln for ln in out.splitlines() if ln.startswith("你好社群"))
    assert re.split(r"\s{2,}", zh)[1:3] == ["1", "0 (0.0%)"]
    total = next(ln for ln in out.splitlines() if ln.startswith("(all pages)"))
    assert re.split(r"\s{2,}", total)[1] == "5"
    assert "paying members: 1 of 10 true fans (10.0%); 9 to go" in out
    recent = kp("stats", "--days", "1").output
    assert "Hello free" in recent

    # The admin dashboard shows the same numbers, drawn as inline SVG.
    boss = sign_up(ADMIN)
    page = boss.get("/admin/")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert "<svg" in page.text and "Hello free" in page.text
    assert "1 paying members of a 10 true fans goal (10.0%)" in page.text
    body = page.text.split("Growth dashboard", 1)[-1]
    assert "<script" not in body.split("</article>")[0]
    assert re.search(r"<td>Hello free<br><small>/articles/hello/</small></td><td>4</td>", body)


def test_beacon_keeps_nothing_about_the_visitor(app_server, pw):
    client = app_server.client(cookies={"kp_session": "not-a-session", "_ga": "x"})
    r = beacon(client, "view", ARTICLE, **{"X-Forwarded-For": "203.0.113.77"})
    assert r.status_code == 204 and "set-cookie" not in r.headers
    assert counters(pw) == {(ARTICLE, "view"): 1}
    dump = every_stored_value(pw)
    for trace in ("127.0.0.1", "203.0.113.77", "Canary-UA-5e1f", "not-a-session"):
        assert trace not in dump, trace
    # Nothing but the day, the page, the event and a number: no column could hold more.
    assert {c.name for c in PageCounter.__table__.columns} == {"day", "path", "event", "count"}


def test_do_not_track_and_gpc_are_respected(app_server, pw):
    client = app_server.client()
    assert beacon(client, "view", ARTICLE, DNT="1").status_code == 204
    assert beacon(client, "cta", ARTICLE, **{"Sec-GPC": "1"}).status_code == 204
    assert counters(pw) == {}


def test_only_published_pages_and_known_events_are_counted(app_server, pw):
    client = app_server.client()
    for path in ("/no/such/page/", "/../private/x/", "/%2e%2e/outside.txt", "//evil.example/"):
        assert beacon(client, "view", path).status_code == 204
    assert counters(pw) == {}
    bad = beacon(client, "purchase", ARTICLE)
    assert bad.status_code == 400 and "field 'e'" in bad.text
    assert client.post("/api/e", content=b"not json").status_code == 400
    assert "field 'p'" in client.post("/api/e", json={"e": "view"}).text
    big = client.post("/api/e", content=b"x" * 5000)
    assert big.status_code == 413
    form = client.post("/api/e", data={"e": "cta", "p": ARTICLE})
    assert form.status_code == 204
    cross = app_server.client(headers={"Origin": "https://evil.example"})
    assert beacon(cross, "view", ARTICLE).status_code == 403
    assert counters(pw) == {(ARTICLE, "cta"): 1}


def test_admin_page_is_for_admins_only(app_server, sign_up):
    anonymous = app_server.client().get("/admin/")
    assert anonymous.status_code == 401 and 'action="/api/login"' in anonymous.text
    assert 'name="next" value="/admin/"' in anonymous.text
    stranger = sign_up("reader@example.com").get("/admin/")
    assert stranger.status_code == 403 and "reader@example.com" in stranger.text
    assert "<svg" not in stranger.text
    admin = sign_up("Other-Admin@Example.com").get("/admin/")
    assert admin.status_code == 200 and "No data yet." not in admin.text.split("Funnel")[0]
    assert app_server.client().get("/admin").status_code == 301
