"""Compare every buyer's ground truth (`bench.chaos.truth`) with what the paywall's database
holds, read with the paywall's own models.

- lost: the buyer paid and should have access (expected `active`), the paywall has no
  active row for that purchase;
- doubled: more than the one row the purchase makes (another key, another object id, a
  second member), a grant with no payment, or the same purchase granted more than once
  (`grant` twice in the audit log: access given back after it was taken);
- wrong final state: the row exists but its status differs from the truth (refunded but
  still active, canceled but active), or a subscription's `stripe_status` or paid period
  end differs from Stripe's, or no row at all for a purchase that should be revoked/expired.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from stripe_local.server import LocalStripe

from bench.chaos.truth import Expected
from paywall.database.models import AuditLog, Entitlement, Member, StripeEvent

OBJECT_RE = re.compile(r"\bobject=(\S+)")


@dataclass(frozen=True)
class Finding:
    kind: str  # lost | doubled | wrong
    buyer: int
    email: str
    scenario: str
    detail: str
    evidence: tuple[str, ...] = ()


@dataclass
class Verdict:
    buyers: int = 0
    expected_grants: int = 0
    present_grants: int = 0
    active_rows: int = 0
    findings: list[Finding] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class Purchase:
    """What verification needs to know about one buyer."""

    index: int
    email: str
    scenario: str
    expected: Expected


@dataclass
class PaywallState:
    members: dict[str, Member]
    rows: dict[int, list[Entitlement]]
    grants: Counter[tuple[int, str, str, str]]
    events: list[StripeEvent]


def read_paywall(engine: Engine) -> PaywallState:
    with Session(engine) as db:
        members = {m.email: m for m in db.scalars(select(Member))}
        rows: dict[int, list[Entitlement]] = defaultdict(list)
        for row in db.scalars(select(Entitlement).order_by(Entitlement.id)):
            rows[row.member_id].append(row)
        grants: Counter[tuple[int, str, str, str]] = Counter()
        for audit in db.scalars(select(AuditLog).where(AuditLog.action == "grant")):
            found = OBJECT_RE.search(audit.detail or "")
            if audit.member_id is not None and audit.key and audit.source:
                grants[
                    (audit.member_id, audit.key, audit.source, found.group(1) if found else "")
                ] += 1
        events = list(db.scalars(select(StripeEvent)))
        db.expunge_all()
    return PaywallState(members, dict(rows), grants, events)


def _describe(row: Entitlement) -> str:
    until = row.valid_until.isoformat(timespec="seconds") if row.valid_until else "open"
    return (
        f"row {row.id}: {row.key} {row.source} {row.stripe_object_id or '-'} {row.status}"
        f" (stripe_status={row.stripe_status}, until {until}, note={row.note!r})"
    )


class Evidence:
    """For a purchase: its Stripe events, how each delivery was answered (`dup`: a
    duplicate; `stripe down`/`database down`: answered during that outage), and when and
    with what outcome the paywall stored it in `stripe_events`."""

    def __init__(
        self,
        ls: LocalStripe,
        state: PaywallState,
        outages: Sequence[tuple[str, float, float]] = (),
    ) -> None:
        self.by_related: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in ls.events():
            for ref in _refs(event["data"]["object"]):
                self.by_related[ref].append(event)
        self.statuses: dict[str, list[str]] = defaultdict(list)
        for delivery in ls.delivery_log:
            shown = str(delivery.status_code) if delivery.status_code is not None else "no-answer"
            marks = ["dup"] if delivery.duplicate else []
            marks += [f"{kind} down" for kind, start, end in outages if start <= delivery.at <= end]
            self.statuses[delivery.event_id].append(
                shown + (f"({', '.join(marks)})" if marks else "")
            )
        self.given_up = {g.event_id for g in ls.given_up}
        self.recorded = {row.id: row for row in state.events}

    def lines(self, related: Iterable[str]) -> tuple[str, ...]:
        seen: set[str] = set()
        out = []
        for ref in related:
            for event in self.by_related.get(ref, []):
                if event["id"] in seen:
                    continue
                seen.add(event["id"])
                row = self.recorded.get(event["id"])
                if row is None:
                    paywall = "paywall: not recorded"
                else:
                    stored = row.received_at.strftime("%H:%M:%S.%f")[:-3]
                    paywall = f"paywall at {stored}: {row.outcome[:160]!r}"
                answers = ",".join(self.statuses.get(event["id"], [])) or "none"
                gave_up = " GIVEN UP" if event["id"] in self.given_up else ""
                out.append(f"{event['id']} {event['type']} [{answers}]{gave_up} {paywall}")
        return tuple(out)


def _refs(obj: dict[str, Any]) -> set[str]:
    refs = {obj.get("id")}
    for name in ("payment_intent", "subscription", "charge", "customer"):
        value = obj.get(name)
        refs.add(value if isinstance(value, str) else None)
    details = (obj.get("parent") or {}).get("subscription_details") or {}
    refs.add(details.get("subscription"))
    refs.discard(None)
    refs.discard("")
    return {str(r) for r in refs}


def verify(
    ls: LocalStripe,
    engine: Engine,
    purchases: list[Purchase],
    outages: Sequence[tuple[str, float, float]] = (),
) -> Verdict:
    """Judge every purchase; `outages` ((kind, start, end) in `time.time()`) mark the
    deliveries answered while something was down, in the evidence."""
    state = read_paywall(engine)
    evidence = Evidence(ls, state, outages)
    verdict = Verdict(buyers=len(purchases))
    known_members: set[int] = set()
    for purchase in purchases:
        member = state.members.get(purchase.email.lower())
        if member is not None:
            known_members.add(member.id)
        mine = state.rows.get(member.id, []) if member is not None else []
        verdict.active_rows += sum(1 for r in mine if r.status == "active")
        for kind, detail in judge(purchase.expected, member, mine, state.grants):
            if kind == "present":
                verdict.present_grants += 1
                continue
            verdict.findings.append(
                Finding(
                    kind,
                    purchase.index,
                    purchase.email,
                    purchase.scenario,
                    detail,
                    evidence.lines(purchase.expected.related),
                )
            )
        if purchase.expected.status == "active":
            verdict.expected_grants += 1
    for member_id, rows in state.rows.items():
        if member_id in known_members:
            continue
        for row in rows:
            verdict.active_rows += row.status == "active"
            verdict.findings.append(
                Finding(
                    "doubled",
                    -1,
                    f"member {member_id}",
                    "-",
                    f"a row for no buyer: {_describe(row)}",
                )
            )
    return verdict


def judge(
    expected: Expected,
    member: Member | None,
    rows: list[Entitlement],
    grants: Counter[tuple[int, str, str, str]],
) -> list[tuple[str, str]]:
    """(kind, detail) for one buyer; kind `present` counts a grant that is where it must be."""
    found: list[tuple[str, str]] = []
    if expected.status is None:
        for unpaid in rows:
            kind = "doubled" if unpaid.status == "active" else "wrong"
            found.append((kind, f"no purchase ({expected.why}), yet {_describe(unpaid)}"))
        return found
    match = [
        r
        for r in rows
        if r.key == expected.key
        and r.source == expected.source
        and r.stripe_object_id == expected.object_id
    ]
    for other in rows:
        if other not in match:
            found.append(
                ("doubled", f"an extra row besides {expected.object_id}: {_describe(other)}")
            )
    if member is not None and expected.key and expected.source and expected.object_id:
        times = grants[(member.id, expected.key, expected.source, expected.object_id)]
        if times > 1:
            found.append(
                ("doubled", f"{expected.key} granted {times} times for {expected.object_id}")
            )
    row = match[0] if match else None
    want = f"expected {expected.status} ({expected.why})"
    if expected.status == "active":
        if row is None:
            found.append(("lost", f"{want}; the paywall has no row for {expected.object_id}"))
            return found
        if row.status != "active":
            found.append(("lost", f"{want}; {_describe(row)}"))
            return found
        found.append(("present", ""))
    elif row is None:
        found.append(("wrong", f"{want}; the paywall has no row for {expected.object_id}"))
        return found
    elif row.status not in expected.accepted:
        found.append(("wrong", f"{want}; {_describe(row)}"))
        return found
    if expected.stripe_status is not None and row.stripe_status != expected.stripe_status:
        found.append(("wrong", f"{want}, stripe_status {expected.stripe_status}; {_describe(row)}"))
    elif expected.valid_until is not None:
        until = int(row.valid_until.timestamp()) if row.valid_until else None
        if until != expected.valid_until:
            found.append(
                ("wrong", f"{want}, paid until {expected.valid_until}; {_describe(row)} = {until}")
            )
    return found
