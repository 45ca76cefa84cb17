"""The chaos suite's judgement on its own: the ground truth read from the local Stripe
server (no paywall involved), and the verdict on rows, so a green chaos run means what it
says (a lost, doubled or wrong purchase is counted as such)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator

import pytest
from stripe_local.server import LocalStripe

from bench.chaos.truth import Expected, expected_for_session, key_for_lookup
from bench.chaos.verify import judge
from kp_contract.manifest import Course, Manifest, Price, Tier
from paywall.database.models import Entitlement, Member

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
COURSE = Price(amount=4900, currency="usd", display="$49", lookup_key="course-a")
MONTH = Price(amount=900, currency="usd", display="$9", lookup_key="pro-m", interval="month")


@pytest.fixture
def manifest() -> Manifest:
    return Manifest(
        built_at=NOW,
        site_name="Chaos",
        site_url="",
        courses={
            "a": Course(slug="a", title="A", url="/courses/a/", mode="payment", price=COURSE),
            "ops": Course(
                slug="ops",
                title="Ops",
                url="/courses/ops/",
                mode="subscription",
                price=MONTH,
                tier="pro",
            ),
        },
        tiers={"pro": Tier(name="pro", title="Pro", prices={"month": MONTH}, courses=["ops"])},
        gated={},
        shells={},
    )


@pytest.fixture
def ls() -> Iterator[LocalStripe]:
    with LocalStripe() as server:  # no webhook endpoint: only Stripe's own state matters
        client = server.client()
        product = client.v1.products.create({"name": "Things"})
        client.v1.prices.create(
            {
                "product": product.id,
                "unit_amount": 4900,
                "currency": "usd",
                "lookup_key": "course-a",
            }
        )
        client.v1.prices.create(
            {
                "product": product.id,
                "unit_amount": 900,
                "currency": "usd",
                "recurring": {"interval": "month"},
                "lookup_key": "pro-m",
            }
        )
        yield server


def price(ls: LocalStripe, lookup_key: str) -> str:
    with ls.store.lock:
        return next(p["id"] for p in ls.store.all("price") if p["lookup_key"] == lookup_key)


def buy(ls: LocalStripe, lookup_key: str, email: str) -> dict[str, str]:
    return ls.payment_link_checkout(price(ls, lookup_key), email)


def test_keys_come_from_the_manifest(manifest: Manifest) -> None:
    assert key_for_lookup(manifest, "course-a", "price_x") == "course:a"
    assert key_for_lookup(manifest, "pro-m", "price_y") == "tier:pro"
    assert key_for_lookup(manifest, "nothing", "price_z") is None


def test_one_time_truths(ls: LocalStripe, manifest: Manifest) -> None:
    kept = buy(ls, "course-a", "kept@x.test")
    refunded = buy(ls, "course-a", "refunded@x.test")
    partly = buy(ls, "course-a", "partly@x.test")
    disputed = buy(ls, "course-a", "disputed@x.test")
    ls.refund(refunded["session"])
    ls.refund(partly["session"], amount=100)
    ls.dispute(disputed["session"])
    truth = {
        name: expected_for_session(ls, manifest, made["session"])
        for name, made in [
            ("kept", kept),
            ("refunded", refunded),
            ("partly", partly),
            ("disputed", disputed),
        ]
    }
    assert {name: (t.key, t.source, t.status) for name, t in truth.items()} == {
        "kept": ("course:a", "purchase", "active"),
        "refunded": ("course:a", "purchase", "revoked"),
        "partly": ("course:a", "purchase", "active"),
        "disputed": ("course:a", "purchase", "revoked"),
    }
    assert truth["kept"].object_id == kept["payment_intent"]
    assert kept["session"] in truth["kept"].related


def test_subscription_truths(ls: LocalStripe, manifest: Manifest) -> None:
    active = buy(ls, "pro-m", "active@x.test")
    late = buy(ls, "pro-m", "late@x.test")
    gone = buy(ls, "pro-m", "gone@x.test")
    disputed = buy(ls, "pro-m", "disputed@x.test")
    ls.set_card(late["customer"], "4000000000000341")
    ls.cancel_subscription(gone["subscription"], at_period_end=False)
    ls.dispute(disputed["invoice"])
    ls.advance(31 * 86_400)  # renewals: `late` fails and is past_due
    truth = {
        name: expected_for_session(ls, manifest, made["session"])
        for name, made in [("active", active), ("late", late), ("gone", gone), ("d", disputed)]
    }
    assert truth["active"].status == "active" and truth["active"].stripe_status == "active"
    with ls.store.lock:
        period_end = ls.store.get("subscription", active["subscription"])["current_period_end"]
    assert truth["active"].valid_until == period_end
    assert (truth["late"].status, truth["late"].stripe_status) == ("active", "past_due")
    assert (truth["gone"].status, truth["gone"].stripe_status) == ("expired", "canceled")
    assert truth["d"].status == "revoked" and truth["d"].accepted == ("revoked",)
    ls.advance(10 * 86_400)  # the last retry fails: canceled
    late_truth = expected_for_session(ls, manifest, late["session"])
    assert (late_truth.status, late_truth.stripe_status) == ("expired", "canceled")


def test_an_abandoned_checkout_grants_nothing(ls: LocalStripe, manifest: Manifest) -> None:
    session = ls.client().v1.checkout.sessions.create(
        {"mode": "payment", "line_items": [{"price": price(ls, "course-a"), "quantity": 1}]}
    )
    truth = expected_for_session(ls, manifest, session.id)
    assert truth.status is None and truth.key is None


# ---------------------------------------------------------------- the verdict on rows


def expected(status: str | None = "active", **changes: object) -> Expected:
    values: dict[str, object] = {
        "key": "course:a",
        "source": "purchase",
        "object_id": "pi_1",
        "status": status,
        "stripe_status": None,
        "valid_until": None,
        "why": "test",
        "related": ("pi_1",),
    }
    values.update(changes)
    return Expected(**values)  # type: ignore[arg-type]


def row(status: str = "active", **changes: object) -> Entitlement:
    values: dict[str, object] = {
        "id": 1,
        "member_id": 1,
        "key": "course:a",
        "source": "purchase",
        "stripe_object_id": "pi_1",
        "status": status,
        "stripe_status": None,
        "valid_from": NOW,
        "valid_until": None,
        "note": "",
    }
    values.update(changes)
    return Entitlement(**values)


MEMBER = Member(id=1, email="b@x.test")
ONE_GRANT: Counter[tuple[int, str, str, str]] = Counter({(1, "course:a", "purchase", "pi_1"): 1})


def kinds(found: list[tuple[str, str]]) -> list[str]:
    return [kind for kind, _ in found]


def test_present_lost_and_wrong() -> None:
    assert kinds(judge(expected(), MEMBER, [row()], ONE_GRANT)) == ["present"]
    assert kinds(judge(expected(), None, [], Counter())) == ["lost"]
    assert kinds(judge(expected(), MEMBER, [row("revoked")], ONE_GRANT)) == ["lost"]
    # Refunded but still active; revoked with no row at all.
    assert kinds(judge(expected("revoked"), MEMBER, [row()], ONE_GRANT)) == ["wrong"]
    assert kinds(judge(expected("revoked"), MEMBER, [], Counter())) == ["wrong"]
    assert kinds(judge(expected("revoked"), MEMBER, [row("revoked")], ONE_GRANT)) == []


def test_subscription_state_must_match_stripe() -> None:
    sub = {"key": "tier:pro", "source": "subscription", "object_id": "sub_1"}
    until = int(NOW.timestamp())
    want = expected(stripe_status="active", valid_until=until, **sub)
    same = row(
        stripe_status="active",
        valid_until=NOW,
        **{"stripe_object_id": "sub_1"},
        key="tier:pro",
        source="subscription",
    )
    assert kinds(judge(want, MEMBER, [same], Counter())) == ["present"]
    stale = row(
        stripe_status="past_due",
        valid_until=NOW,
        stripe_object_id="sub_1",
        key="tier:pro",
        source="subscription",
    )
    assert kinds(judge(want, MEMBER, [stale], Counter())) == ["present", "wrong"]
    short = row(
        stripe_status="active",
        valid_until=NOW - dt.timedelta(days=30),
        stripe_object_id="sub_1",
        key="tier:pro",
        source="subscription",
    )
    assert kinds(judge(want, MEMBER, [short], Counter())) == ["present", "wrong"]
    either = expected("revoked", accept=("revoked", "expired"), **sub)
    ended = row("expired", stripe_object_id="sub_1", key="tier:pro", source="subscription")
    assert kinds(judge(either, MEMBER, [ended], Counter())) == []


def test_doubled() -> None:
    extra = row(id=2, stripe_object_id="cs_1")  # the same purchase keyed by its session too
    assert kinds(judge(expected(), MEMBER, [row(), extra], ONE_GRANT)) == ["doubled", "present"]
    twice = Counter({(1, "course:a", "purchase", "pi_1"): 2})  # granted, revoked, granted
    assert kinds(judge(expected(), MEMBER, [row()], twice)) == ["doubled", "present"]
    assert kinds(judge(expected(None), MEMBER, [row()], ONE_GRANT)) == ["doubled"]
