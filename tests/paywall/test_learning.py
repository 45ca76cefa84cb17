"""Learning over real HTTP on SQLite and PostgreSQL: marking lessons done (POST
/api/progress: members only, same-origin, idempotent), progress on /api/learning and
/account/, drip (teaser and opening date until the clock reaches it, /api/auth agreeing),
members-only groups (link and QR only to members allowed in) and certificates (claimed when
every lesson is done, verified signed out, PDF, revoked)."""

from __future__ import annotations

import base64
import datetime as dt
import re
import zlib
from pathlib import Path

import pytest

from kp_contract.i18n import format_date
from kp_contract.manifest import Group, read_manifest, write_manifest
from paywall.members.certificates import revoke

from .conftest import CANARY, TEASER_MARK

BUYER = "buyer@example.com"
PRO = "pro@example.com"
FREE = "free@example.com"
PRO_GROUP_URL = "https://chat.example.com/join/pro-circle-5d1e"
DEMO_GROUP_URL = "https://chat.example.com/join/demo-buyers-a7c3"
QR_BYTES = b"\x89PNG\r\n\x1a\nQR-OF-THE-PRO-GROUP"


def rewrite_manifest(project: Path, **changes: object) -> None:
    path = project / "private" / "manifest.json"
    write_manifest(read_manifest(path).model_copy(update=changes), path)


@pytest.fixture
def learning_site(built_site: Path) -> Path:
    """The hand-made build with lesson titles, a dripped lesson (3 days) and two groups."""
    manifest = read_manifest(built_site / "private" / "manifest.json")
    courses = dict(manifest.courses)
    courses["demo"] = courses["demo"].model_copy(update={"lesson_titles": ["Intro", "Paid lesson"]})
    courses["pro-course"] = courses["pro-course"].model_copy(
        update={"lesson_titles": ["Pro lesson"]}
    )
    gated = dict(manifest.gated)
    gated["/courses/pro-course/01-lesson/"] = gated["/courses/pro-course/01-lesson/"].model_copy(
        update={"available_after_days": 3}
    )
    groups = {
        "pro-circle": Group(
            name="pro-circle",
            title="Pro circle",
            titles={"zh": "专业会员群"},
            join_url=PRO_GROUP_URL,
            requires="tier:pro",
            qr_file="_groups/pro-circle.png",
        ),
        "demo-buyers": Group(
            name="demo-buyers", title="Demo buyers", join_url=DEMO_GROUP_URL, requires="course:demo"
        ),
    }
    qr = built_site / "private" / "_groups" / "pro-circle.png"
    qr.parent.mkdir(parents=True)
    qr.write_bytes(QR_BYTES)
    rewrite_manifest(built_site, courses=courses, gated=gated, groups=groups)
    return built_site


@pytest.fixture
def server(learning_site, app_server):
    return app_server


def done(client, lesson: str):
    return client.post(
        "/api/progress", json={"lesson": lesson}, headers={"Accept": "application/json"}
    )


def test_marking_done_is_for_members_who_may_read_it_and_idempotent(
    server, grant_access, count_rows
):
    anonymous = server.client()
    assert done(anonymous, "/courses/demo/01-intro/").status_code == 401

    grant_access(BUYER, "course:demo", "purchase", stripe_object_id="cs_1")
    buyer = server.client()
    server.login(buyer, BUYER)
    free = server.client()
    server.login(free, FREE)

    refused = done(free, "/courses/demo/02-paid/")
    assert refused.status_code == 403 and "not open to you" in refused.json()["error"]
    assert done(free, "/courses/demo/01-intro/").status_code == 200  # a free preview
    assert done(buyer, "/nowhere/").status_code == 404

    first = done(buyer, "/courses/demo/02-paid/")
    again = done(buyer, "/courses/demo/02-paid/index.html")
    assert first.status_code == again.status_code == 200
    assert again.json() == {
        "ok": True,
        "lesson": "/courses/demo/02-paid/",
        "course": "demo",
        "done": 1,
        "total": 2,
        "finished": False,
    }
    assert count_rows("lesson_progress") == 2  # the buyer's one and the free member's one
    halfway = buyer.get("/api/learning", params={"page": "/courses/demo/"}).json()
    demo = halfway["courses"]["demo"]  # the words of the course page's "continue" link
    assert demo["next_url"] and demo["next_text"].startswith("Continue where you left off: ")

    # A plain form post (no script) goes back to the lesson; another site's form is refused.
    back = buyer.post(
        "/api/progress",
        data={"lesson": "/courses/demo/01-intro/", "next": "/courses/demo/01-intro/"},
    )
    assert back.status_code == 303 and back.headers["location"] == "/courses/demo/01-intro/"
    forged = buyer.post(
        "/api/progress",
        data={"lesson": "/courses/demo/01-intro/"},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403

    state = buyer.get("/api/learning", params={"page": "/courses/demo/"}).json()
    assert state["courses"]["demo"]["done"] == 2 and state["courses"]["demo"]["finished"]
    assert state["courses"]["demo"]["next_text"] is None
    assert state["lessons"]["/courses/demo/02-paid/"]["done"] is True
    assert anonymous.get("/api/learning").json() == {"authenticated": False}


def test_account_shows_progress_and_where_to_go_on(server, grant_access):
    grant_access(BUYER, "course:demo", "purchase", stripe_object_id="cs_1")
    buyer = server.client()
    server.login(buyer, BUYER)
    page = buyer.get("/account/").text
    assert "0 of 2 lessons done (0 %)" in page
    assert 'href="/courses/demo/01-intro/">Start with: Intro</a>' in page
    done(buyer, "/courses/demo/01-intro/")
    page = buyer.get("/account/").text
    assert "1 of 2 lessons done (50 %)" in page
    assert 'href="/courses/demo/02-paid/">Continue where you left off: Paid lesson</a>' in page
    assert "Pro course" not in page  # not theirs, not begun


def test_a_dripped_lesson_opens_after_its_days_and_auth_agrees(server, grant_access):
    start = server.clock()
    grant_access(
        PRO,
        "tier:pro",
        "subscription",
        stripe_object_id="sub_1",
        stripe_status="active",
        valid_until=start + dt.timedelta(days=30),
    )
    pro = server.client()
    server.login(pro, PRO)
    lesson = "/courses/pro-course/01-lesson/"

    page = pro.get(lesson)
    assert page.status_code == 200 and TEASER_MARK in page.text and "CANARY-PRO" not in page.text
    assert pro.get("/api/auth", params={"uri": lesson}).status_code == 403
    assert done(pro, lesson).status_code == 403
    opens = format_date((start + dt.timedelta(days=3)).date(), "en")
    item = pro.get("/api/learning", params={"page": lesson}).json()["lessons"][lesson]
    assert item["opens_on"] == f"Unlocks on {opens}"

    server.clock.advance(days=3)
    page = pro.get(lesson)
    assert "CANARY-PRO-91c2" in page.text
    assert pro.get("/api/auth", params={"uri": lesson}).status_code == 204
    assert "opens_on" not in pro.get("/api/learning").json()["lessons"][lesson]
    assert done(pro, lesson).status_code == 200


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_opening_date_is_in_the_members_language(server, grant_access, pw):
    from paywall.database.models import Member

    start = server.clock()
    member_id = grant_access(PRO, "tier:pro")
    with pw.sessions() as db:
        db.get(Member, member_id).lang = "zh"
        db.commit()
    pro = server.client()
    server.login(pro, PRO)
    lesson = "/courses/pro-course/01-lesson/"
    item = pro.get("/api/learning", params={"page": lesson}).json()["lessons"][lesson]
    date = format_date((start + dt.timedelta(days=3)).date(), "zh")
    assert item["opens_on"] == f"将于 {date} 解锁" and "年" in date


def test_groups_only_for_members_allowed_in(server, grant_access):
    grant_access(PRO, "tier:pro")
    grant_access(BUYER, "course:demo", "purchase", stripe_object_id="cs_1")
    pro, buyer, free = server.client(), server.client(), server.client()
    server.login(pro, PRO)
    server.login(buyer, BUYER)
    server.login(free, FREE)

    assert PRO_GROUP_URL in pro.get("/account/").text
    assert DEMO_GROUP_URL not in pro.get("/account/").text
    assert DEMO_GROUP_URL in buyer.get("/account/").text
    assert PRO_GROUP_URL not in buyer.get("/account/").text
    for page in (free.get("/account/").text, server.client().get("/account/").text):
        assert PRO_GROUP_URL not in page and DEMO_GROUP_URL not in page

    # At the foot of a lesson: the groups of that lesson's course or tier.
    groups = pro.get("/api/learning", params={"page": "/courses/pro-course/01-lesson/"}).json()
    assert [g["url"] for g in groups["groups"]] == [PRO_GROUP_URL]
    assert groups["groups"][0]["qr"] == "/api/groups/pro-circle/qr"
    elsewhere = pro.get("/api/learning", params={"page": "/courses/demo/02-paid/"}).json()
    assert elsewhere["groups"] == []
    assert (
        free.get("/api/learning", params={"page": "/courses/pro-course/01-lesson/"}).json()[
            "groups"
        ]
        == []
    )

    qr = pro.get("/api/groups/pro-circle/qr")
    assert qr.status_code == 200 and qr.content == QR_BYTES
    assert qr.headers["cache-control"] == "private, no-store"
    for client in (free, buyer, server.client()):
        assert client.get("/api/groups/pro-circle/qr").status_code == 404
    assert pro.get("/api/groups/nope/qr").status_code == 404


def _pdf_text(pdf: bytes) -> bytes:
    """The page content streams of a reportlab PDF (ASCII85, then Flate), decoded."""
    streams = re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.DOTALL)
    out = b""
    for raw in streams:
        try:
            out += zlib.decompress(base64.a85decode(raw.strip().removesuffix(b"~>")))
        except (ValueError, zlib.error):
            continue
    return out


def test_certificate_claimed_when_finished_verified_signed_out_and_revoked(
    server, grant_access, pw
):
    grant_access(BUYER, "course:demo", "purchase", stripe_object_id="cs_1")
    buyer = server.client()
    server.login(buyer, BUYER)
    early = buyer.post("/api/certificates", data={"course": "demo", "name": "Ada Lovelace"})
    assert early.status_code == 409 and "0 of 2 done" in early.text

    done(buyer, "/courses/demo/01-intro/")
    done(buyer, "/courses/demo/02-paid/")
    assert 'action="/api/certificates"' in buyer.get("/account/").text
    claimed = buyer.post("/api/certificates", data={"course": "demo", "name": "  Ada   Lovelace "})
    assert claimed.status_code == 303
    url = claimed.headers["location"]
    assert re.fullmatch(r"/certificates/[0-9a-f]{24}/", url)
    again = buyer.post("/api/certificates", data={"course": "demo", "name": "Someone Else"})
    assert again.headers["location"] == url  # one per member and course
    assert url in buyer.get("/account/").text

    public = server.client().get(url)
    assert public.status_code == 200
    assert "Ada Lovelace" in public.text and "Demo course" in public.text
    assert "Demo Site" in public.text and BUYER not in public.text
    assert f"{url}certificate.pdf" in public.text

    pdf = server.client().get(f"{url}certificate.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    content = _pdf_text(pdf.content)
    assert b"Ada Lovelace" in content and b"Certificate of completion" in content

    with pw.sessions() as db:
        revoke(db, url.split("/")[2], pw.now())
        db.commit()
    revoked = server.client().get(url)
    assert "was revoked on" in revoked.text and "certificate.pdf" not in revoked.text
    assert server.client().get(f"{url}certificate.pdf").status_code == 404
    assert server.client().get("/certificates/AAAAAAAAAAAAAAAA/").status_code == 404


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_chinese_certificate_is_set_in_a_cjk_font(server, grant_access):
    grant_access(BUYER, "course:demo", "purchase", stripe_object_id="cs_1")
    buyer = server.client()
    server.login(buyer, BUYER)
    done(buyer, "/courses/demo/01-intro/")
    done(buyer, "/courses/demo/02-paid/")
    url = buyer.post(
        "/api/certificates", data={"course": "demo", "name": "林小明", "lang": "zh"}
    ).headers["location"]
    page = server.client().get(url).text
    assert "结业证书" in page and "林小明 已于" in page
    pdf = server.client().get(f"{url}certificate.pdf").content
    assert b"/FontName" in pdf and (b"ZenHei" in pdf or b"STSong-Light" in pdf)


def test_full_text_still_only_for_the_entitled(server, grant_access):
    """Drip and groups change nothing for a lesson without a schedule."""
    grant_access(BUYER, "course:demo", "purchase", stripe_object_id="cs_1")
    buyer = server.client()
    server.login(buyer, BUYER)
    assert CANARY in buyer.get("/courses/demo/02-paid/").text
    assert CANARY not in server.client().get("/courses/demo/02-paid/").text


def test_kp_certificates_list_and_revoke(server, grant_access, settings):
    import click
    from click.testing import CliRunner

    from kp.commands.certificates import register

    @click.group()
    def kp() -> None:
        """The `kp certificates` commands on a group of their own."""

    register(kp)
    env = {
        "KP_PROJECT_DIR": str(settings.project_dir),
        "KP_DATABASE_URL": settings.database_url,
        "KP_SECRET_KEY": settings.secret_key.get_secret_value(),
        "KP_BASE_URL": settings.base_url,
    }
    grant_access(BUYER, "course:demo", "purchase", stripe_object_id="cs_1")
    buyer = server.client()
    server.login(buyer, BUYER)
    done(buyer, "/courses/demo/01-intro/")
    done(buyer, "/courses/demo/02-paid/")
    url = buyer.post("/api/certificates", data={"course": "demo", "name": "Grace Hopper"})
    cert_id = url.headers["location"].split("/")[2]
    assert re.fullmatch(r"[0-9a-f]{24}", cert_id)  # (a leading '-' read as an option: exit 2)

    listed = CliRunner().invoke(kp, ["certificates", "list", "--course", "demo"], env=env)
    assert listed.exit_code == 0, listed.output
    (line,) = listed.output.splitlines()
    assert line.split("\t")[:3] == [cert_id, "demo", "Grace Hopper"] and line.endswith("\t-")
    other = CliRunner().invoke(kp, ["certificates", "list", "--course", "pro-course"], env=env)
    assert other.output == ""

    revoked = CliRunner().invoke(kp, ["certificates", "revoke", cert_id], env=env)
    assert revoked.exit_code == 0 and f"revoked {cert_id}" in revoked.output
    assert "was revoked on" in server.client().get(f"/certificates/{cert_id}/").text
    unknown = CliRunner().invoke(kp, ["certificates", "revoke", "nope"], env=env)
    assert unknown.exit_code == 1 and "no certificate with id 'nope'" in unknown.output
