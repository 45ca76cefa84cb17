"""Password-less sign-in: magic links and revocable sessions.

A magic link carries a random token; only its SHA-256 hash is stored, it expires after 15
minutes and works once. Following it signs the browser in with a session cookie (`kp_session`)
whose token is likewise stored hashed, so a database leak signs nobody in, and revoking the row
signs the browser out on every worker at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, Update, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from paywall.database.models import LoginToken, Member, WebSession
from paywall.members.audit import SIGN_IN, member_actor, record
from paywall.members.records import get_or_create_member, normalize_email
from paywall.runtime.context import Paywall
from paywall.runtime.lang import LANGS, site_lang, t
from paywall.runtime.logs import get_logger, kv, mask_email
from paywall.runtime.rate_limits import RateLimit
from paywall.runtime.secret import load_secret_key

log = get_logger("paywall.members.sign_in")

COOKIE_NAME = "kp_session"
LOGIN_TOKEN_TTL = dt.timedelta(minutes=15)
SESSION_TTL = dt.timedelta(days=30)
LAST_SEEN_RESOLUTION = dt.timedelta(minutes=5)
LOGIN_LIMIT_PER_EMAIL = RateLimit(limit=5, window=dt.timedelta(hours=1))
LOGIN_LIMIT_PER_IP = RateLimit(limit=20, window=dt.timedelta(hours=1))
REASONS = ("login", "purchase", "signup")


def _updated_rows(db: Session, stmt: Update) -> int:
    """Run an UPDATE; how many rows it matched. `Session.execute` returns a `CursorResult`
    (which has the count) for an UPDATE without RETURNING, but is typed as any `Result`."""
    result = db.execute(stmt)
    if not isinstance(result, CursorResult):
        raise TypeError(f"an UPDATE gave a {type(result).__name__}, not a CursorResult")
    return int(result.rowcount)


def hash_token(token: str) -> str:
    """What the database stores instead of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_ip(pw: Paywall, ip: str) -> str:
    """Keyed hash of a client address: enough to rate-limit, not to recover the address."""
    return hmac.new(load_secret_key(pw.settings), ip.encode("utf-8"), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- redirects


def safe_next_url(next_url: str | None, base_url: str, default: str = "/") -> str:
    """A same-site path to send the browser to after sign-in, or `default`.

    Accepts `/path?query#frag` and absolute URLs on the base URL's origin (reduced to the
    path). Rejects protocol-relative `//host`, backslash tricks (`/\\host`, which browsers
    read as `//host`), control characters and whitespace (browsers strip tabs/newlines, which
    can turn `/\\t/host` into `//host`), and every other scheme (`javascript:`, `data:`).
    """
    if not next_url:
        return default
    candidate = next_url.strip()
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in candidate) or "\\" in candidate:
        return default
    if candidate.startswith("/"):
        return default if candidate.startswith("//") else candidate
    try:
        target, base = urlsplit(candidate), urlsplit(base_url)
    except ValueError:
        return default
    same_origin = (
        target.scheme in ("http", "https")
        and target.scheme == base.scheme
        and target.netloc.lower() == base.netloc.lower()
    )
    if not same_origin:
        return default
    path = target.path or "/"
    if path.startswith("//"):
        return default
    return (
        path
        + (f"?{target.query}" if target.query else "")
        + (f"#{target.fragment}" if target.fragment else "")
    )


# ---------------------------------------------------------------- magic links


@dataclass(frozen=True)
class LoginRateLimited(Exception):
    """Too many sign-in e-mails for this address or from this client; retry later."""

    retry_after: int
    scope: str  # "email" | "ip"


def check_login_rate(
    pw: Paywall, db: Session, email: str, ip: str | None, now: dt.datetime
) -> None:
    """Raise `LoginRateLimited` when the address or the client asked too often (the counts
    are the login_tokens rows themselves, so every worker sees the same limit)."""
    window_start = now - max(LOGIN_LIMIT_PER_EMAIL.window, LOGIN_LIMIT_PER_IP.window)
    by_email = db.scalars(
        select(LoginToken.created_at).where(
            LoginToken.email == email, LoginToken.created_at > window_start
        )
    ).all()
    wait = LOGIN_LIMIT_PER_EMAIL.retry_after(list(by_email), now)
    if wait is not None:
        raise LoginRateLimited(wait, "email")
    if ip:
        by_ip = db.scalars(
            select(LoginToken.created_at).where(
                LoginToken.ip_hash == hash_ip(pw, ip), LoginToken.created_at > window_start
            )
        ).all()
        wait = LOGIN_LIMIT_PER_IP.retry_after(list(by_ip), now)
        if wait is not None:
            raise LoginRateLimited(wait, "ip")


def issue_login_link(
    pw: Paywall,
    db: Session,
    email: str,
    next_url: str = "/",
    source: str | None = None,
    ip: str | None = None,
    *,
    lang: str | None = None,
    ref: str | None = None,
    intent: str | None = None,
    intent_hash: str | None = None,
) -> str:
    """Store a new single-use, 15-minute token (hashed) and return the absolute callback URL.

    Adds the row to `db`; the caller commits (so a webhook can keep it in its transaction).
    `lang` rides along in the link so a member created by it gets the language they used;
    `ref` (an invite or partner code) is kept on the row for the growth engine; `intent` is
    the nonce of the browser that asked (its `INTENT_COOKIE`), kept hashed, so that browser
    signs in at once and any other one is asked first (`intent_hash`: the same, already
    hashed, for a link issued away from that browser, e.g. a purchase's by the webhook).
    """
    address = normalize_email(email)
    now = pw.now()
    token = secrets.token_urlsafe(32)
    db.add(
        LoginToken(
            token_hash=hash_token(token),
            email=address,
            next_url=safe_next_url(next_url, pw.settings.base_url)[:2000],
            source=source[:500] if source else None,
            ip_hash=hash_ip(pw, ip) if ip else None,
            ref=ref[:64] if ref else None,
            intent_hash=hash_token(intent) if intent else intent_hash,
            created_at=now,
            expires_at=now + LOGIN_TOKEN_TTL,
        )
    )
    db.flush()
    suffix = f"&lang={lang}" if lang in LANGS else ""
    return f"{pw.settings.base_url}/api/login/callback?token={token}{suffix}"


def site_name(pw: Paywall) -> str:
    manifest = pw.manifest()
    return manifest.site_name if manifest else "Knowledge Pay"


def login_email(site: str, link: str, reason: str, lang: str) -> tuple[str, str]:
    """Subject and plain-text body of a magic-link e-mail in `lang` (kp_contract/translations.yml,
    group `email`)."""
    if reason not in REASONS:
        raise ValueError(f"login e-mail reason must be one of {REASONS}, got {reason!r}")
    subject = t(lang, f"email.{reason}_subject", site=site)
    return subject, t(lang, f"email.{reason}_body", site=site, link=link)


def send_login_email(
    pw: Paywall,
    email: str,
    next_url: str = "/",
    *,
    reason: str = "login",
    lang: str = "en",
    source: str | None = None,
    ip: str | None = None,
    intent_hash: str | None = None,
) -> None:
    """Issue a magic link, commit it, then mail it.

    The token is committed in its own transaction before the mail leaves: a link that is
    already in an inbox (or the console) must work when clicked at once, and a failed commit
    must never leave a dead link in someone's mail.
    """
    with pw.sessions.begin() as db:
        link = issue_login_link(
            pw, db, email, next_url, source=source, ip=ip, lang=lang, intent_hash=intent_hash
        )
    subject, text = login_email(site_name(pw), link, reason, lang)
    pw.mailer.send(normalize_email(email), subject, text)
    log.info(kv("auth.link_sent", email=mask_email(normalize_email(email)), reason=reason))


# ---------------------------------------------------------------- opening a link

INTENT_COOKIE = "kp_login_intent"
"""A random nonce set on the browser that asked for a sign-in link (its hash is on the
link's row): opening the link there signs in with no question asked."""


CHECKOUT_INTENT_TTL = dt.timedelta(hours=24) + LOGIN_TOKEN_TTL
"""How long a signed-out buyer's browser keeps its nonce: Stripe's Checkout Session lives 24
hours by default, then the purchase link 15 minutes."""


def new_intent() -> str:
    return secrets.token_urlsafe(24)


def valid_intent_hash(value: object) -> str | None:
    """An intent hash read back from elsewhere (Checkout metadata), if it is one."""
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value
    return None


@dataclass(frozen=True)
class PendingLink:
    """A valid, unused sign-in link, looked at without using it (`peek_login_token`)."""

    email: str
    same_browser: bool
    confirm: str
    """The value the confirmation form must send back (`confirm_value`)."""


def peek_login_token(
    pw: Paywall, db: Session, token: str, intent: str | None
) -> PendingLink | None:
    """The link's address, if it is valid, and whether `intent` (the opening browser's
    cookie) is the one that asked for it. Nothing is consumed: a GET of the link (a mail
    scanner's, or a stranger's) never signs anyone in."""
    row = db.scalar(select(LoginToken).where(LoginToken.token_hash == hash_token(token)))
    if row is None or row.used_at is not None or row.expires_at <= pw.now():
        return None
    same = intent is not None and row.intent_hash == hash_token(intent)
    return PendingLink(row.email, same, confirm_value(pw, token))


def link_problem(pw: Paywall, db: Session, token: str) -> str:
    """Why a sign-in link cannot be used: `used`, `expired`, or `invalid` (no such link: a
    typo, a link cut short by a mail program, a guess). The page says which, so a reader
    knows whether to copy the link again or ask for a new one; a guesser learns only that
    the guess was wrong, which a rejected link tells anyway (no address, no timing of the
    real links)."""
    row = db.scalar(select(LoginToken).where(LoginToken.token_hash == hash_token(token)))
    if row is None:
        return "invalid"
    if row.used_at is not None:
        return "used"
    return "expired" if row.expires_at <= pw.now() else "invalid"


def confirm_value(pw: Paywall, token: str) -> str:
    """The confirmation form's CSRF value: a MAC of the token under the server's secret, so
    only a page this server rendered for this link can post it back."""
    key = load_secret_key(pw.settings)
    return hmac.new(key, b"login-confirm:" + token.encode(), hashlib.sha256).hexdigest()


def confirm_matches(pw: Paywall, token: str, value: str) -> bool:
    return hmac.compare_digest(confirm_value(pw, token), value)


@dataclass(frozen=True)
class SignIn:
    member: Member
    next_url: str
    created: bool


def consume_login_token(
    pw: Paywall, db: Session, token: str, lang: str | None = None
) -> SignIn | None:
    """Use a magic link: None if unknown, expired or already used. Marks it used atomically
    (two clicks racing: one wins), creates the member if new (in `lang`) and confirms the
    address."""
    now = pw.now()
    row = db.scalar(select(LoginToken).where(LoginToken.token_hash == hash_token(token)))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    claimed = _updated_rows(
        db,
        update(LoginToken)
        .where(LoginToken.id == row.id, LoginToken.used_at.is_(None))
        .values(used_at=now),
    )
    if claimed != 1:
        return None
    existing = db.scalar(select(Member.id).where(Member.email == row.email))
    member = get_or_create_member(
        db, row.email, now=now, source=row.source, lang=lang if lang in LANGS else site_lang(pw)
    )
    was_confirmed = member.confirmed_at is not None
    if not was_confirmed:
        member.confirmed_at = now
    db.flush()
    record(
        db,
        SIGN_IN,
        now=now,
        actor=member_actor(member.id),
        member_id=member.id,
        detail="new member" if existing is None else "",
    )
    for hook in pw.hooks.after_sign_in:
        hook(pw, db, member, row, was_confirmed)
    return SignIn(member, row.next_url or "/", created=existing is None)


# ---------------------------------------------------------------- sessions


def create_session(pw: Paywall, db: Session, member: Member) -> str:
    """A new session row for `member`; returns the raw token for the cookie."""
    now = pw.now()
    token = secrets.token_urlsafe(32)
    db.add(
        WebSession(
            token_hash=hash_token(token),
            member_id=member.id,
            created_at=now,
            expires_at=now + SESSION_TTL,
            last_seen_at=now,
        )
    )
    db.flush()
    return token


def live_session(pw: Paywall, db: Session, token: str) -> WebSession | None:
    """The session for a cookie token if it exists, is not revoked and has not expired."""
    if not token or len(token) > 200:
        return None
    row = db.scalar(select(WebSession).where(WebSession.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= pw.now():
        return None
    return row


def revoke_session(pw: Paywall, db: Session, token: str) -> bool:
    """Sign a browser out everywhere at once; True if a live session was revoked."""
    revoked = _updated_rows(
        db,
        update(WebSession)
        .where(WebSession.token_hash == hash_token(token), WebSession.revoked_at.is_(None))
        .values(revoked_at=pw.now()),
    )
    return revoked == 1


def revoke_member_sessions(pw: Paywall, db: Session, member_id: int) -> int:
    """Sign a member out of every browser (admin action, compromised account)."""
    return _updated_rows(
        db,
        update(WebSession)
        .where(WebSession.member_id == member_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=pw.now()),
    )


def member_for_token(pw: Paywall, token: str | None) -> Member | None:
    """The member behind a session cookie value (own DB session; result is detached)."""
    if not token:
        return None
    with pw.sessions() as db:
        row = live_session(pw, db, token)
        if row is None:
            return None
        member = db.get(Member, row.member_id)
        if member is not None:
            db.expunge(member)  # kept as loaded even if note_seen's commit is rolled back
        note_seen(pw, db, row)
        return member


def note_seen(pw: Paywall, db: Session, row: WebSession) -> None:
    """Record that the session was used, at most every `LAST_SEEN_RESOLUTION`, best effort:
    a reader's page must not fail (503) because this bookkeeping write met a busy or
    locked database; it is tried again on a later request."""
    now = pw.now()
    if row.last_seen_at is not None and now - row.last_seen_at < LAST_SEEN_RESOLUTION:
        return
    row.last_seen_at = now
    try:
        db.commit()
    except OperationalError as exc:
        db.rollback()
        log.info(kv("auth.last_seen_skipped", reason=str(exc.orig or exc).splitlines()[0][:120]))


def current_member(request: Request) -> Member | None:
    """The signed-in member of this request, or None (looked up once per request)."""
    cached = request.scope.setdefault("state", {}).get("kp_member", ...)
    if cached is not ...:
        return cached
    pw: Paywall = request.app.state.paywall
    member = member_for_token(pw, request.cookies.get(COOKIE_NAME))
    request.scope["state"]["kp_member"] = member
    return member


# ---------------------------------------------------------------- cookies


def cookie_secure(pw: Paywall) -> bool:
    return pw.settings.base_url.lower().startswith("https://")


def _cookie_attributes(pw: Paywall, path: str) -> dict[str, Any]:
    """Every cookie of ours: HttpOnly, SameSite=Lax, Secure on https."""
    return {"path": path, "httponly": True, "samesite": "lax", "secure": cookie_secure(pw)}


def set_session_cookie(pw: Paywall, response: Response, token: str) -> None:
    max_age = int(SESSION_TTL.total_seconds())
    response.set_cookie(COOKIE_NAME, token, max_age=max_age, **_cookie_attributes(pw, "/"))


def set_intent_cookie(
    pw: Paywall, response: Response, intent: str, ttl: dt.timedelta = LOGIN_TOKEN_TTL
) -> None:
    """The asking browser's nonce, readable only by the sign-in callback."""
    max_age = int(ttl.total_seconds())
    attributes = _cookie_attributes(pw, "/api/login")
    response.set_cookie(INTENT_COOKIE, intent, max_age=max_age, **attributes)


def clear_session_cookie(pw: Paywall, response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, **_cookie_attributes(pw, "/"))
