"""Role prices end to end: `kp members role EMAIL ROLE` gives a member a price role of the
build (`Manifest.roles`); signed in, they are shown their price and why (`GET /api/prices`,
at request time, for roles.js) and charged it (Checkout on the role's own Stripe price,
made by `kp stripe sync`), an offer comes off their price, a gift is at everyone's; the
webhook grants, a refund revokes; `--clear` puts them back on everyone's prices. Every
change is an audit row; the members desk shows and changes the role; the members CSV
carries it in an optional last column. Through the official SDK and the local Stripe
server, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from kp_contract.manifest import Manifest, Price, Role, read_manifest, write_manifest
from paywall.billing.stripe_sync import sync_catalog
from paywall.members import csv_io
from paywall.members.records import find_member

from .conftest import CANARY, PRO_CANARY, make_built_site
from .test_checkout import LESSON, PRO_LESSON, start_checkout
from .test_commerce import charge_of, priced_in_yuan
from .test_offers import kp as kp_fixture

kp = kp_fixture
pytestmark = pytest.mark.timeout(180)
ADMIN = "desk-admin@example.com"


def _price(amount: int, currency: str, lookup_key: str, interval: Any = None) -> Price:
    from kp_contract.money import display_price

    return Price(
        amount=amount,
        currency=currency,
        display=display_price(amount, currency),
        lookup_key=lookup_key,
        interval=interval,
    )


def with_roles(manifest: Manifest) -> Manifest:
    """What `roles: {distributor: {prices: {course:demo: {usd: 30, cny: 199}}}, kol:
    {percent_off: 20}}` builds to on the hand-made site priced in yuan."""
    demo = _price(3000, "usd", "role-distributor-course-demo").model_copy(
        update={"currencies": {"cny": _price(19900, "cny", "role-distributor-course-demo-cny")}}
    )
    kol_month = _price(720, "usd", "role-kol-tier-pro-month", "month").model_copy(
        update={"currencies": {"cny": _price(4720, "cny", "role-kol-tier-pro-month-cny", "month")}}
    )
    kol_demo = _price(3920, "usd", "role-kol-course-demo").model_copy(
        update={"currencies": {"cny": _price(23920, "cny", "role-kol-course-demo-cny")}}
    )
    roles = {
        "distributor": Role(
            name="distributor",
            title="distributor",
            titles={"zh": "分销商"},
            prices={"course:demo": demo},
            fixed=["course:demo"],
        ),
        "kol": Role(
            name="kol",
            title="local opinion leader",
            titles={"zh": "意见领袖"},
            percent_off=20,
            prices={"course:demo": kol_demo, "tier:pro:month": kol_month},
        ),
    }
    return manifest.model_copy(update={"roles": roles})


@pytest.fixture
def built_site(tmp_path: Path) -> Path:
    project = make_built_site(tmp_path / "project")
    path = project / "private" / "manifest.json"
    write_manifest(with_roles(priced_in_yuan(read_manifest(path))), path)
    return project


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return {**stripe_settings, "KP_ADMIN_EMAILS": ADMIN}


@pytest.fixture
def shop(app_server, local_stripe):
    sync_catalog(local_stripe.client(), app_server.pw.manifest())
    return app_server


def test_stripe_sync_makes_each_role_price_on_its_product_once(app_server, local_stripe):
    lines = sync_catalog(local_stripe.client(), app_server.pw.manifest())
    made = {line.name: line for line in lines if line.kind == "price"}
    for key in (
        "role-distributor-course-demo",
        "role-distributor-course-demo-cny",
        "role-kol-course-demo",
        "role-kol-tier-pro-month-cny",
    ):
        assert made[key].action == "created", lines
    client = local_stripe.client()
    found = client.v1.prices.list({"lookup_keys": ["role-kol-tier-pro-month-cny"]}).data[0]
    assert (found.product, found.unit_amount, found.currency) == ("kp_tier_pro", 4720, "cny")
    assert found.recurring.interval == "month"
    again = sync_catalog(client, app_server.pw.manifest())
    assert {line.action for line in again if line.kind == "price"} == {"unchanged"}


def test_a_distributor_is_shown_and_charged_their_price_until_the_role_is_cleared(
    shop, local_stripe, kp
):
    browser = shop.client()
    email = "distributor@example.com"
    shop.login(browser, email)
    assert browser.get("/api/prices", params={"lang": "zh"}).json() == {
        "role": None,
        "prices": {},
    }
    said = kp("members", "role", email, "distributor").output
    assert said.strip() == f"{email} now has the role distributor"

    assert browser.get("/api/me").json()["role"] == "distributor"
    answer = browser.get("/api/prices", params={"lang": "zh"})
    assert answer.headers["cache-control"] == "private, no-store"
    assert answer.json() == {
        "role": "distributor",
        "title": "分销商",
        "prices": {
            "course:demo": {
                "price": "¥199",
                "amount": 19900,
                "currency": "cny",
                "was": "¥299",
                "note": "你的分销商价：¥199（其他人 ¥299）。",
                "button": "¥199 购买",
            }
        },
    }
    en = browser.get("/api/prices", params={"lang": "en"}).json()["prices"]["course:demo"]
    assert en["note"] == "Your distributor price: $30 ($49 for everyone else)."

    cs = start_checkout(browser, course="demo", lang="zh", **{"from": LESSON})
    client = local_stripe.client()
    session = client.v1.checkout.sessions.retrieve(cs, {"expand": ["line_items"]})
    assert (session.currency, session.amount_total) == ("cny", 19900)
    assert session.line_items.data[0].price.lookup_key == "role-distributor-course-demo-cny"
    assert session.metadata["kp_role"] == "distributor"
    local_stripe.pay(cs, payment_method="alipay")
    charge = charge_of(local_stripe, cs)
    assert (charge.amount, charge.currency, charge.payment_method_details.type) == (
        19900,
        "cny",
        "alipay",
    )
    assert CANARY in browser.get(LESSON).text
    assert "Demo course" in browser.get("/account/").text
    local_stripe.refund(cs)
    assert CANARY not in browser.get(LESSON).text

    trail = kp("audit", "list", "--email", email).output
    assert "member_role" in trail and "- -> distributor" in trail

    assert kp("members", "role", email, "--clear").output.strip() == (
        f"{email} no longer has the role distributor: everyone's prices"
    )
    assert browser.get("/api/prices", params={"lang": "zh"}).json()["role"] is None
    cs = start_checkout(browser, course="demo", lang="zh", **{"from": LESSON})
    session = client.v1.checkout.sessions.retrieve(cs)
    assert (session.currency, session.amount_total) == ("cny", 29900)
    assert "kp_role" not in session.metadata
    assert "distributor -> -" in kp("audit", "list", "--email", email).output


def test_a_percent_off_role_pays_less_for_a_tier_and_an_offer_comes_off_that(
    shop, local_stripe, kp
):
    browser = shop.client()
    email = "kol@example.com"
    shop.login(browser, email)
    kp("members", "role", email, "kol")
    prices = browser.get("/api/prices", params={"lang": "zh"}).json()["prices"]
    assert prices["tier:pro:month"]["note"] == "你的意见领袖价：¥47.20 / 月，比 ¥59 / 月 优惠 20%。"
    assert prices["tier:pro:month"]["button"] == "¥47.20 / 月 订阅"

    cs = start_checkout(browser, tier="pro", interval="month", lang="zh")
    client = local_stripe.client()
    session = client.v1.checkout.sessions.retrieve(cs)
    assert (session.currency, session.amount_total) == ("cny", 4720)
    local_stripe.pay(cs)
    assert PRO_CANARY in browser.get(PRO_LESSON).text
    sub = client.v1.subscriptions.retrieve(client.v1.checkout.sessions.retrieve(cs).subscription)
    assert sub.items.data[0].price.lookup_key == "role-kol-tier-pro-month-cny"

    # An offer link's 10% comes off the role's price, on the page and at checkout.
    kp("offers", "add", "Ten", "--percent", "10", "--course", "demo", "--code", "TEN10")
    offer = browser.get("/api/offer", params={"code": "TEN10", "course": "demo", "lang": "zh"})
    assert (offer.json()["price"], offer.json()["was"]) == ("¥215.28", "¥239.20")
    cs = start_checkout(browser, course="demo", lang="zh", offer="TEN10")
    assert client.v1.checkout.sessions.retrieve(cs).amount_total == 21528

    # A gift is for someone else: everyone's price.
    cs = start_checkout(
        browser, course="demo", lang="zh", gift="1", gift_email="friend@example.com"
    )
    session = client.v1.checkout.sessions.retrieve(cs)
    assert session.amount_total == 29900 and "kp_role" not in session.metadata


def test_kp_members_role_refuses_an_unknown_role_or_member(app_server, kp):
    with app_server.pw.sessions.begin() as db:
        from paywall.members.records import get_or_create_member

        get_or_create_member(db, "someone@example.com", now=app_server.pw.now())
    wrong = kp("members", "role", "someone@example.com", "diamond", ok=False)
    assert wrong.exit_code == 2
    assert "unknown role 'diamond' (roles in the build: distributor, kol)" in wrong.output
    nobody = kp("members", "role", "nobody@example.com", "kol", ok=False)
    assert nobody.exit_code == 1 and "no member with e-mail 'nobody@example.com'" in nobody.output
    both = kp("members", "role", "someone@example.com", "kol", "--clear", ok=False)
    assert both.exit_code == 2 and "give a ROLE, or --clear" in both.output


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_members_desk_shows_and_changes_the_role(app_server, grant_access):
    member_id = grant_access("buyer@example.com", "course:demo")
    admin = app_server.client()
    app_server.login(admin, ADMIN)
    page = admin.get(f"/admin/members/{member_id}/")
    assert 'action="/admin/members/' in page.text and 'name="role"' in page.text
    assert '<option value="" selected>' in page.text
    done = admin.post(f"/admin/members/{member_id}/role", data={"role": "kol", "lang": "en"})
    assert done.status_code == 303
    page = admin.get(done.headers["location"])
    assert "Price role now: kol" in page.text
    assert '<option value="kol" selected>' in page.text and "Price role: kol" in page.text
    assert "member_role" in page.text and "- -&gt; kol" in page.text
    refused = admin.post(f"/admin/members/{member_id}/role", data={"role": "boss"})
    assert "unknown role" in admin.get(refused.headers["location"]).text
    other = app_server.client()
    app_server.login(other, "buyer@example.com")
    assert other.post(f"/admin/members/{member_id}/role", data={"role": ""}).status_code == 403


def test_the_members_csv_carries_the_role_in_an_optional_column(pw, grant_access):
    grant_access("seller@example.com", "course:demo")
    with pw.sessions.begin() as db:
        from paywall.members.price_roles import set_role

        set_role(db, find_member(db, "seller@example.com"), "kol", now=pw.now(), actor="test")
    out = io.StringIO()
    with pw.sessions() as db:
        csv_io.export_members(db, out)
    header, row = out.getvalue().splitlines()[:2]
    assert header.endswith(",note,role") and row.endswith(",kol")

    # A file of the old format (no `role` column) leaves the role alone; an empty cell
    # clears it; an unknown role stops the import, naming the line.
    old = "email,key\nseller@example.com,course:demo\nnew@example.com,\n"
    rows, _ = csv_io.parse_rows(io.StringIO(old))
    with pw.sessions.begin() as db:
        csv_io.import_rows(db, rows, now=pw.now(), actor="test", roles=["kol"])
    with pw.sessions() as db:
        assert find_member(db, "seller@example.com").role == "kol"
        assert find_member(db, "new@example.com").role is None
    rows, _ = csv_io.parse_rows(
        io.StringIO("email,role\nseller@example.com,\nnew@example.com,kol\n")
    )
    with pw.sessions.begin() as db:
        csv_io.import_rows(db, rows, now=pw.now(), actor="test", roles=["kol"])
    with pw.sessions() as db:
        assert find_member(db, "seller@example.com").role is None
        assert find_member(db, "new@example.com").role == "kol"
    rows, _ = csv_io.parse_rows(io.StringIO("email,role\nnew@example.com,boss\n"))
    with pytest.raises(csv_io.CsvImportError) as refused, pw.sessions.begin() as db:
        csv_io.import_rows(db, rows, now=pw.now(), actor="test", roles=["kol"])
    assert refused.value.errors == ["line 2: role: unknown role 'boss' (roles in the build: kol)"]
    with pytest.raises(csv_io.CsvImportError) as bad:
        csv_io.parse_rows(io.StringIO("email,role\nnew@example.com,Big Boss\n"))
    assert bad.value.errors == ["line 2: role: 'Big Boss' is not a role name (like distributor)"]
