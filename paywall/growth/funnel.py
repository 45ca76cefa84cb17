"""The funnel: page views and CTA clicks (a privacy-friendly beacon), sign-ups and purchases
(recorded with the page they came from), and the numbers `kp stats` and `/admin/` show.

The beacon (`POST /api/e`) stores nothing about the visitor: it neither sets nor reads
cookies, keeps no IP address, user agent or identifier, and only increments a daily counter
per (page, event). Browsers that send `DNT: 1` or `Sec-GPC: 1` get the same 204 and nothing
is counted. Only pages the build published are counted, so the table cannot be filled with
made-up paths.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from paywall.database.models import Conversion, Entitlement, Member, PageCounter
from paywall.database.upsert import insert_if_absent
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db
from paywall.runtime.logs import get_logger, kv
from paywall.runtime.url_paths import UnsafePath, parse_url_path

log = get_logger("paywall.growth.funnel")

EVENTS = ("view", "cta")
MAX_BEACON_BYTES = 2048
MAX_PATH = 300
PAYING_SOURCES = ("purchase", "subscription")
NO_STORE = {"Cache-Control": "no-store"}


# ---------------------------------------------------------------- the beacon


class BadBeacon(ValueError):
    """A beacon body that is not `{"e": "view"|"cta", "p": "/path/"}`; says which field."""


def tracking_refused(request: Request) -> bool:
    """Do-Not-Track or Global Privacy Control: count nothing."""
    return request.headers.get("dnt") == "1" or request.headers.get("sec-gpc") == "1"


def parse_beacon(
    body: bytes, content_type: str, max_bytes: int = MAX_BEACON_BYTES
) -> tuple[str, str]:
    """(event, raw path) from a JSON body (sendBeacon sends text/plain) or a form body."""
    if len(body) > max_bytes:
        raise BadBeacon(f"body larger than {max_bytes} bytes")
    try:
        text = body.decode("utf-8", errors="strict") if body else ""
    except UnicodeDecodeError as exc:
        raise BadBeacon(f"body is not UTF-8 (byte {exc.start})") from None
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields = {k: v[0] for k, v in parse_qs(text).items()}
    else:
        try:
            data = json.loads(text or "null")
        except RecursionError:
            raise BadBeacon("body is JSON nested too deeply") from None
        except ValueError:
            raise BadBeacon('body is not JSON like {"e": "view", "p": "/path/"}') from None
        if not isinstance(data, dict):
            raise BadBeacon("body is not a JSON object")
        for name in ("e", "p"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise BadBeacon(f"field {name!r} must be a string")
        fields = {k: v for k, v in data.items() if isinstance(v, str)}
    event = fields.get("e", "")
    if event not in EVENTS:
        raise BadBeacon(f"field 'e' must be one of {', '.join(EVENTS)}, got {event[:20]!r}")
    path = fields.get("p", "")
    if not path:
        raise BadBeacon("field 'p' (the page path) is missing")
    return event, path


def published_path(site_root: Path, raw: str) -> str | None:
    """The canonical path (`/articles/x/`) when it names a page of the built site, else
    None. Query and fragment are dropped; unsafe paths are refused."""
    if not raw.startswith("/") or raw.startswith("//"):
        return None  # a path on this site, never a URL naming another host
    try:
        path = urlsplit(raw).path
        url = parse_url_path(path)
    except (UnsafePath, ValueError):
        return None
    canonical = url.canonical
    if len(canonical) > MAX_PATH:
        return None
    relative = Path(*url.segments) if url.segments else Path()
    candidates = [relative / "index.html"]
    if url.segments and url.segments[-1].endswith(".html"):
        candidates = [relative]
    root = site_root.resolve()
    for candidate in candidates:
        target = (root / candidate).resolve()
        if target.is_relative_to(root) and target.is_file():
            return canonical
    return None


def increment(db: Session, day: dt.date, path: str, event: str) -> None:
    """count += 1 for (day, path, event), created at 1 (an atomic upsert)."""
    dialect = db.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = make(PageCounter).values(day=day, path=path, event=event, count=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "path", "event"], set_={"count": PageCounter.count + 1}
    )
    db.execute(stmt)


def count_event(pw: Paywall, path: str, event: str) -> None:
    with pw.sessions.begin() as db:
        increment(db, pw.now().date(), path, event)


async def beacon(request: Request) -> Response:
    """POST /api/e: 204 always for a well-formed beacon (counted or not); 400 naming the
    field when malformed. Never touches cookies."""
    pw: Paywall = request.app.state.paywall
    if tracking_refused(request):
        return Response(status_code=204, headers=NO_STORE)
    # Bodies over KP_MAX_BEACON_BYTES never get here: refused with 413 while they stream in
    # (paywall.web.body_limits).
    body = await request.body()
    limit = pw.settings.max_beacon_bytes
    try:
        event, raw_path = parse_beacon(body, request.headers.get("content-type", ""), limit)
    except BadBeacon as exc:
        log.info(kv("funnel.bad_beacon", reason=str(exc)[:200]))
        return PlainTextResponse(f"bad beacon: {exc}", 400, headers=NO_STORE)
    # The files of the site: the default threads, which never wait on the database.
    path = await run_in_threadpool(published_path, pw.settings.site_path, raw_path)
    if path is not None:
        await run_db(pw, count_event, pw, path, event)
    return Response(status_code=204, headers=NO_STORE)


routes = [Route("/api/e", beacon, methods=["POST"])]


# ---------------------------------------------------------------- conversions


def attribution_path(raw: str | None) -> str | None:
    """A same-site page path to record as where a conversion came from, or None."""
    if not raw:
        return None
    try:
        path = urlsplit(raw.strip()).path
        url = parse_url_path(path)
    except (UnsafePath, ValueError):
        return None
    if not raw.strip().startswith("/") or raw.strip().startswith("//"):
        return None
    return url.canonical[:500]


def record_signup(
    db: Session, member: Member, path: str | None, ref: str | None, now: dt.datetime
) -> bool:
    """A confirmed sign-up and the page it came from (once per member)."""
    return insert_if_absent(
        db,
        Conversion.__table__,
        {
            "kind": "signup",
            "object_id": f"member:{member.id}",
            "path": attribution_path(path),
            "member_id": member.id,
            "ref": ref,
            "amount_total": 0,
            "currency": None,
            "at": now,
        },
        ["kind", "object_id"],
    )


def record_purchase(
    db: Session,
    session_id: str,
    member: Member | None,
    path: str | None,
    ref: str | None,
    amount_total: int,
    currency: str | None,
    now: dt.datetime,
) -> bool:
    """A paid checkout and the page it came from (once per Checkout Session)."""
    return insert_if_absent(
        db,
        Conversion.__table__,
        {
            "kind": "purchase",
            "object_id": session_id,
            "path": attribution_path(path),
            "member_id": member.id if member else None,
            "ref": ref,
            "amount_total": amount_total,
            "currency": currency,
            "at": now,
        },
        ["kind", "object_id"],
    )


# ---------------------------------------------------------------- the numbers


@dataclass
class FunnelRow:
    """One page: views → CTA clicks → sign-ups → purchases."""

    path: str
    title: str
    views: int = 0
    cta: int = 0
    signups: int = 0
    purchases: int = 0


def rate(part: int, whole: int) -> str:
    """'12.5%', or '–' when there is nothing to divide by."""
    if whole <= 0:
        return "–"
    return f"{100 * part / whole:.1f}%"


def funnel(db: Session, titles: dict[str, str], since: dt.date | None = None) -> list[FunnelRow]:
    """Every page with activity (since `since`), busiest first; `titles` names articles."""
    rows: dict[str, FunnelRow] = {}

    def row(path: str | None) -> FunnelRow:
        key = path or "(unknown)"
        if key not in rows:
            rows[key] = FunnelRow(key, titles.get(key, key))
        return rows[key]

    counters = select(PageCounter.path, PageCounter.event, func.sum(PageCounter.count)).group_by(
        PageCounter.path, PageCounter.event
    )
    if since is not None:
        counters = counters.where(PageCounter.day >= since)
    for path, event, total in db.execute(counters).all():
        target = row(path)
        if event == "view":
            target.views += int(total)
        elif event == "cta":
            target.cta += int(total)
    conversions = select(Conversion.path, Conversion.kind, func.count()).group_by(
        Conversion.path, Conversion.kind
    )
    if since is not None:
        start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
        conversions = conversions.where(Conversion.at >= start)
    for converted_on, kind, total in db.execute(conversions).all():
        target = row(converted_on)
        if kind == "signup":
            target.signups += int(total)
        elif kind == "purchase":
            target.purchases += int(total)
    return sorted(rows.values(), key=lambda r: (-r.views, -r.purchases, -r.signups, r.path))


def totals(rows: list[FunnelRow]) -> FunnelRow:
    total = FunnelRow("(all pages)", "(all pages)")
    for r in rows:
        total.views += r.views
        total.cta += r.cta
        total.signups += r.signups
        total.purchases += r.purchases
    return total


def paying_members(db: Session, now: dt.datetime) -> int:
    """Members holding paid access right now (a purchase or a live subscription): the
    "true fans" of the 1,000 true fans goal."""
    active = (
        (Entitlement.status == "active")
        & (Entitlement.valid_from <= now)
        & ((Entitlement.valid_until.is_(None)) | (Entitlement.valid_until > now))
    )
    stmt = select(func.count(func.distinct(Entitlement.member_id))).where(
        Entitlement.source.in_(PAYING_SOURCES), active
    )
    return int(db.scalar(stmt) or 0)


def daily_views(db: Session, today: dt.date, days: int = 30) -> list[tuple[dt.date, int]]:
    """Views per day for the last `days` days (zeros included), oldest first."""
    start = today - dt.timedelta(days=days - 1)
    found = dict(
        db.execute(
            select(PageCounter.day, func.sum(PageCounter.count))
            .where(PageCounter.event == "view", PageCounter.day >= start)
            .group_by(PageCounter.day)
        ).all()
    )
    return [
        (start + dt.timedelta(days=i), int(found.get(start + dt.timedelta(days=i), 0)))
        for i in range(days)
    ]
