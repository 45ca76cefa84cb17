"""Member-sellers (the "diamond" member) end to end: a tier with `sellers:
{commission_percent: 20}` makes its members sellers, self-serve: their invite link earns 20%
of the paid purchases it brings (a checkout carrying their code, or one by a friend who
signed up through it, a subscription on its invoices), through the partner ledger; refunds
and disputes reverse it; /account/ shows sales, commission, pending and paid (`kp partners
paid`); `kp partners report` lists the seller by address; once their tier ends, new sales
earn nothing. Through the local Stripe server, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kp_contract.manifest import read_manifest, write_manifest
from paywall.billing.stripe_sync import sync_catalog
from paywall.database.models import PartnerLedger
from paywall.members.records import find_member

from .conftest import paywall_fixtures
from .test_partners import checkout

pytestmark = pytest.mark.timeout(240)
SELLER = "diamond@example.com"
INVITE = re.compile(r'id="kp-invite-link"[^>]*value="([^"]+)"')


@pytest.fixture
def built_site(tmp_path: Path) -> Path:
    """The hand-made build with Pro as a seller tier (20%)."""
    project = paywall_fixtures.make_built_site(tmp_path / "project")
    path = project / "private" / "manifest.json"
    manifest = read_manifest(path)
    pro = manifest.tiers["pro"].model_copy(update={"seller_commission_bp": 2000})
    write_manifest(manifest.model_copy(update={"tiers": {"pro": pro}}), path)
    return project


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return stripe_settings


@pytest.fixture(autouse=True)
def catalog(local_stripe, settings) -> None:
    sync_catalog(local_stripe.client(), read_manifest(settings.manifest_path))


def ledger(pw) -> list[tuple[str, str, int, int]]:
    with pw.sessions() as db:
        return [
            (e.kind, e.attribution, e.amount_total, e.commission)
            for e in db.scalars(select(PartnerLedger).order_by(PartnerLedger.id))
        ]


def sales_table(page: str) -> list[list[str]]:
    """The rows of /account/'s "Your sales" table, as text."""
    table = re.search(r'<table class="kp-sales">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert table, "no sales table on /account/"
    return [
        [html.unescape(cell) for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1))
    ]


def test_a_sellers_invite_link_earns_commission_until_their_tier_ends(
    app_server, kp, local_stripe, pw, sign_up, grant_access
):
    grant_access(SELLER, "tier:pro")  # a Pro member: a seller, with no admin step
    seller = sign_up(SELLER)
    account = seller.get("/account/").text
    assert "Your sales" in account
    assert "As a Pro membership member you earn 20% of every paid purchase" in account
    assert "No sales through your link yet." in account
    code = INVITE.search(account).group(1).rsplit("ref=", 1)[1]

    # 1. Someone who came through the link (growth.js put ref=CODE into the form) buys.
    cs_link = checkout(app_server.client(), ref=code)
    local_stripe.pay(cs_link, email="buyer@example.com", payment_method="card")
    assert ledger(pw) == [("sale", "seller_link", 4900, 980)]

    # 2. A friend who signed up through the link subscribes later, without it: every paid
    #    invoice earns (the first one here).
    friend = sign_up("friend@example.com", ref=code)
    r = friend.post("/api/checkout", data={"tier": "pro", "interval": "month"})
    cs_sub = r.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    local_stripe.pay(cs_sub)
    assert ledger(pw)[-1] == ("sale", "seller_member", 900, 180)

    rows = sales_table(seller.get("/account/").text)
    assert rows == [["2", "$58", "$11.60", "$11.60", "$0"]]

    # 3. A refund and a dispute reverse the commission, as for partners.
    local_stripe.refund(cs_link)
    assert ledger(pw)[-1] == ("reversal", "seller_link", -4900, -980)
    cs_disputed = checkout(app_server.client(), ref=code)
    local_stripe.pay(cs_disputed, email="chargeback@example.com")
    local_stripe.dispute(cs_disputed)
    assert ledger(pw)[-2:] == [
        ("sale", "seller_link", 4900, 980),
        ("reversal", "seller_link", -4900, -980),
    ]
    assert sales_table(seller.get("/account/").text) == [["3", "$9", "$1.80", "$1.80", "$0"]]

    # 4. The report names the seller; paying out moves pending to paid.
    out = kp("partners", "report", "--csv").output
    (line,) = [r for r in csv.DictReader(io.StringIO(out)) if r["partner"] == f"{SELLER} (seller)"]
    assert (line["commission_rate"], line["sales"], line["commission_owed"]) == ("20%", "3", "1.80")
    today = app_server.pw.now().date().isoformat()
    assert (
        kp("partners", "paid", SELLER, "--through", today)
        .output.strip()
        .endswith(f"commission paid through {today}")
    )
    assert sales_table(seller.get("/account/").text) == [["3", "$9", "$1.80", "$0", "$1.80"]]

    # 5. Their own purchase through their own link earns nothing.
    cs_own = checkout(seller, ref=code)
    local_stripe.pay(cs_own)
    assert len(ledger(pw)) == 5

    # 6. Once their Pro access ends, new sales through the link earn nothing.
    kp("members", "revoke", SELLER, "tier:pro")
    cs_late = checkout(app_server.client(), ref=code)
    local_stripe.pay(cs_late, email="late@example.com")
    assert len(ledger(pw)) == 5
    account = seller.get("/account/").text
    assert "Your seller membership has ended" in account
    assert sales_table(account) == [["3", "$9", "$1.80", "$0", "$1.80"]]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_member_of_no_seller_tier_earns_nothing_and_sees_no_sales(
    app_server, kp, local_stripe, pw, sign_up
):
    member = sign_up("plain@example.com")
    account = member.get("/account/").text
    assert "Your sales" not in account
    code = INVITE.search(account).group(1).rsplit("ref=", 1)[1]
    cs = checkout(app_server.client(), ref=code)
    local_stripe.pay(cs, email="buyer@example.com")
    assert ledger(pw) == []
    with pw.sessions() as db:
        assert find_member(db, "buyer@example.com") is not None
    wrong = kp("partners", "paid", "plain@example.com", "--through", "2026-01-01", ok=False)
    assert wrong.exit_code == 1 and "no seller 'plain@example.com'" in wrong.output
    bad = kp("partners", "paid", "X", "--through", "soon", ok=False)
    assert bad.exit_code == 2 and "'soon' is not a date like 2026-11-30" in bad.output
