"""A reader's journey through the generated nginx front (tests/deploy/conftest.py: Debian's
nginx, two `kp serve` workers on PostgreSQL, the local Stripe server's webhooks through
nginx): teasers served by nginx alone, a purchase, sign-in, the full lesson from private/,
a refund showing within the documented bound, the canaries never served to an anonymous
reader, traversal refused by nginx and by the paywall, and every paywall route proxied."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from paywall.members.access_cache import CHECK_INTERVAL

from .conftest import (
    AUTH_CACHE_SECONDS,
    LESSON,
    LESSON_CANARY,
    MEMBERS_ARTICLE,
    MEMBERS_CANARY,
    SECRET_KEY,
    Stack,
    open_magic_link,
    raw_request,
)

pytestmark = pytest.mark.postgres

COURSE = "community-launch"
TEASER_MARK = 'class="kp-paywall"'
CS_ID = re.compile(r"cs_[A-Za-z0-9_]+")
CANARIES = (LESSON_CANARY, MEMBERS_CANARY)


def auth_calls(stack: Stack) -> int:
    """How many times the workers answered /api/auth (their request log, which a worker
    writes just after answering: it settles when no line came for 0.3 s, 5 s at most)."""
    deadline, count = time.monotonic() + 5, -1
    while (now := len(stack.worker_lines("path=/api/auth "))) != count:
        if time.monotonic() > deadline:
            break
        count = now
        time.sleep(0.3)
    return now


def shows_full(client: httpx.Client, url: str, canary: str) -> bool:
    r = client.get(url)
    assert r.status_code == 200, f"{url}: {r.status_code}"  # same status, full or teaser
    assert r.headers["cache-control"] == "private, no-store"
    assert r.headers["vary"] == "Cookie"
    if canary in r.text:
        return True
    assert TEASER_MARK in r.text, f"{url}: neither the full page nor the teaser"
    return False


def sign_in(stack: Stack, client: httpx.Client, address: str, next_url: str = "/") -> None:
    r = client.post("/api/login", data={"email": address, "next": next_url})
    assert r.status_code == 200, r.text[:300]
    link = stack.outbox.link(address)
    assert link.startswith(stack.url + "/api/login/callback?"), link
    done = open_magic_link(client, link)
    assert done.status_code == 303, done.text[:300]


def test_anonymous_teasers_are_served_by_nginx_alone(stack: Stack) -> None:
    before = auth_calls(stack)
    reader = stack.client()
    for url in (LESSON, LESSON + "index.html", MEMBERS_ARTICLE):
        assert not shows_full(reader, url, LESSON_CANARY if "courses" in url else MEMBERS_CANARY)
    # A session cookie nobody issued is asked about, and refused.
    stranger = stack.client(cookies={"kp_session": "not-a-session"})
    assert not shows_full(stranger, LESSON, LESSON_CANARY)
    assert auth_calls(stack) == before + 1
    served_alone = stack.access_lines_waiting(f"GET {LESSON} ")
    assert served_alone and all(line.endswith("up=-") for line in served_alone), served_alone


def test_purchase_sign_in_full_lesson_refund(stack: Stack) -> None:
    buyer = stack.client()
    assert not shows_full(buyer, LESSON, LESSON_CANARY)
    r = buyer.post("/api/checkout", data={"course": COURSE, "from": LESSON})
    assert r.status_code == 303, r.text[:300]
    cs_id = CS_ID.search(r.headers["location"])
    assert cs_id, r.headers["location"]

    redirect = stack.stripe.pay(cs_id.group(0), email="reader@example.com")
    assert redirect and redirect.startswith(f"{stack.url}/checkout/success?session_id=")
    completed = [d for d in stack.stripe.deliveries if d[1] == "checkout.session.completed"]
    assert completed and all(status == 200 for _, _, status in completed), completed
    webhooks = stack.access_lines_waiting("POST /api/stripe/webhook ")
    assert webhooks and all(" 200 up=127.0.0.1:" in line for line in webhooks), webhooks
    assert buyer.get(redirect.removeprefix(stack.url)).status_code == 200

    # The purchase e-mail's link signs the buyer in; the lesson is theirs at once.
    assert not shows_full(buyer, LESSON, LESSON_CANARY)
    link = stack.outbox.link("reader@example.com")
    assert open_magic_link(buyer, link).status_code == 303
    assert shows_full(buyer, LESSON, LESSON_CANARY)
    assert shows_full(buyer, LESSON + "index.html", LESSON_CANARY)
    assert shows_full(buyer, MEMBERS_ARTICLE, MEMBERS_CANARY)
    account = buyer.get("/account/")
    assert account.status_code == 200
    assert "Launch Your Knowledge Community" in account.text
    assert "assets/stylesheets/" in account.text  # the page shell, from private/

    # Refund: every worker's /api/auth refuses within its access cache's CHECK_INTERVAL
    # (the other worker did not handle the webhook); nginx's cached grant lasts at most
    # the bound.
    refunded = time.monotonic()
    stack.stripe.refund(cs_id.group(0))
    while buyer.get("/api/auth", params={"uri": LESSON}).status_code != 403:
        assert time.monotonic() - refunded < CHECK_INTERVAL + 1.0, "a worker still grants"
        time.sleep(0.05)
    while shows_full(buyer, LESSON, LESSON_CANARY):
        assert time.monotonic() - refunded < AUTH_CACHE_SECONDS + 1.0, "refund not applied"
        time.sleep(0.1)
    assert time.monotonic() - refunded <= AUTH_CACHE_SECONDS + 1.0
    assert shows_full(buyer, MEMBERS_ARTICLE, MEMBERS_CANARY)  # still a member

    # Signing out clears the cookie: the next request is a teaser, straight from nginx.
    assert buyer.post("/api/logout", data={"next": "/"}).status_code == 303
    assert "kp_session" not in buyer.cookies
    assert not shows_full(buyer, MEMBERS_ARTICLE, MEMBERS_CANARY)


def test_grants_are_reused_from_nginx_cache_within_the_bound(stack: Stack) -> None:
    member = stack.client()
    sign_in(stack, member, "cached@example.com")
    before = auth_calls(stack)
    started = time.monotonic()
    for _ in range(20):
        assert shows_full(member, MEMBERS_ARTICLE, MEMBERS_CANARY)
    elapsed = time.monotonic() - started
    calls = auth_calls(stack) - before
    assert calls <= 1 + int(elapsed // AUTH_CACHE_SECONDS), (calls, elapsed)
    # The session revoked elsewhere (its cookie kept, replayed): refused within the bound.
    cookie = member.cookies["kp_session"]
    other = stack.client(cookies={"kp_session": cookie})
    assert other.post("/api/logout", data={"next": "/"}).status_code == 303
    revoked = time.monotonic()
    while shows_full(member, MEMBERS_ARTICLE, MEMBERS_CANARY):
        assert time.monotonic() - revoked < AUTH_CACHE_SECONDS + 1.0, "revocation not applied"
        time.sleep(0.1)


def site_urls(site: Path) -> list[str]:
    urls = []
    for path in sorted(site.rglob("*")):
        if path.is_file():
            rel = path.relative_to(site).as_posix()
            urls.append(
                "/" + (rel.removesuffix("index.html") if rel.endswith("index.html") else rel)
            )
    return urls


def test_canaries_never_reach_an_anonymous_reader(stack: Stack) -> None:
    reader = stack.client()
    urls = site_urls(stack.project / "site")
    assert LESSON in urls and MEMBERS_ARTICLE in urls and len(urls) > 50
    for url in urls:
        r = reader.get(url)
        assert r.status_code == 200, f"{url}: {r.status_code}"
        for canary in CANARIES:
            assert canary.encode() not in r.content, f"{canary} served at {url}"


TRAVERSALS = [
    "/courses/../private/manifest.json",
    "/courses/%2e%2e/private/manifest.json",
    "/courses/%2E%2E/%2e%2e/private/manifest.json",
    "/courses/..%2fprivate/manifest.json",
    "/courses/%2e%2e%2fprivate%2fmanifest.json",
    "/..%5cprivate%5cmanifest.json",
    "/%252e%252e/private/manifest.json",
    "/manifest.json",
    "/private/manifest.json",
    "/_shell/en.html",
    "/private/_shell/en.html",
    f"/private{LESSON}index.html",
    f"{LESSON}../../../private/manifest.json",
    f"{LESSON}%2e%2e/%2e%2e/%2e%2e/private/manifest.json",
    f"/courses/{COURSE}/../{COURSE}/02-plan-ten-articles/%2e/index.html",
    "/courses/community-launch/02-plan-ten-articles%2findex.html",
    "/.env",
    "/courses/%00/",
]


def refused(status: int, body: bytes, where: str) -> None:
    assert status in (400, 404), f"{where}: {status}"
    for leak in (*CANARIES, '"private_file"', "<!--kp:body-->", "__KP_TITLE__"):
        assert leak.encode() not in body, f"{where}: served {leak!r}"


@pytest.mark.parametrize("raw_path", TRAVERSALS)
def test_traversal_is_refused_by_nginx_and_by_the_paywall(stack: Stack, raw_path: str) -> None:
    # Anonymous, and as an entitled member (the gated file must not be reachable either).
    refused_anon = raw_request(stack.url, raw_path)
    refused(refused_anon.status_code, refused_anon.body, f"nginx {raw_path}")
    for worker in stack.worker_urls:
        direct = raw_request(worker, raw_path)
        refused(direct.status_code, direct.body, f"paywall {raw_path}")
    # /api/auth refuses the same spellings (400, never a grant).
    auth = raw_request(stack.url, "/api/auth?uri=" + raw_path.replace("?", "%3f"))
    assert auth.status_code in (204, 400, 401), f"/api/auth?uri={raw_path}: {auth.status_code}"
    if ".." in raw_path.lower() or "%2e" in raw_path.lower():
        assert auth.status_code == 400, f"/api/auth?uri={raw_path}: {auth.status_code}"


def test_traversal_as_a_member_reaches_no_private_file(stack: Stack) -> None:
    member = stack.client()
    sign_in(stack, member, "curious@example.com")
    cookie = {"Cookie": f"kp_session={member.cookies['kp_session']}"}
    for raw_path in TRAVERSALS:
        r = raw_request(stack.url, raw_path, headers=cookie)
        refused(r.status_code, r.body, f"member {raw_path}")


def test_every_paywall_route_is_proxied(stack: Stack) -> None:
    from kp_contract.settings import load_settings
    from paywall.app import create_app

    settings = load_settings(_env_file=None, KP_PROJECT_DIR=stack.project, KP_SECRET_KEY=SECRET_KEY)
    app = create_app(settings)
    client = stack.client()
    checked = []
    for route in app.routes:
        path = getattr(route, "path", "")
        if path == "/{path:path}":
            continue  # the catch-all file server: nginx serves site/ itself
        path = re.sub(r"\{[^}]+\}", "x0", path)  # /certificates/{id}/ → /certificates/x0/
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method == "HEAD":
                continue
            logged = len(stack.access_lines())
            client.request(method, path)
            last = stack.access_line_after(logged)
            assert last.startswith(f"{method} {path} "), last
            assert " up=127.0.0.1:" in last, f"{method} {path} not proxied: {last}"
            checked.append(f"{method} {path}")
    assert {"POST /api/stripe/webhook", "GET /api/auth", "POST /api/e", "GET /healthz"} <= set(
        checked
    ), checked


def test_client_address_is_passed_and_not_spoofable(stack: Stack) -> None:
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=stack.url, transport=transport, timeout=20) as client:
        r = client.post(
            "/api/login",
            data={"email": "from-afar@example.com", "next": "/"},
            headers={"Origin": stack.url, "X-Forwarded-For": "203.0.113.7"},
        )
    assert r.status_code == 200, r.text[:300]
    sent = stack.worker_lines("auth.link_sent email=f***@example.com ")  # from-afar@
    assert len(sent) == 1 and "ip=127.0.0.2" in sent[0], sent
    assert not stack.worker_lines("203.0.113.7")


def test_webhook_body_limit_and_raw_body(stack: Stack) -> None:
    from kp_contract.settings import Settings

    limit = Settings.model_fields["max_webhook_bytes"].default
    with httpx.Client(timeout=20) as client:
        logged = len(stack.access_lines())
        big = client.post(
            f"{stack.url}/api/stripe/webhook",
            content=b"{" + b" " * limit + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert big.status_code == 413
        assert stack.access_line_after(logged).endswith("up=-")  # refused by nginx itself
        unsigned = client.post(
            f"{stack.url}/api/stripe/webhook",
            content=b'{"id": "evt_x"}',
            headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"},
        )
        assert unsigned.status_code == 400  # the paywall checked the signature
        assert " up=127.0.0.1:" in stack.access_line_after(logged + 1)


HEADERS_COMPARED = (
    "cache-control",
    "vary",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "content-security-policy",
    "cross-origin-opener-policy",
)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/about/",
        "/about",
        "/about/?x=1",
        "/no-such-page/",
        "/feed.xml",
        "/sitemap.xml",
        LESSON,
    ],
)
def test_answers_match_kp_serve(stack: Stack, path: str) -> None:
    with httpx.Client(timeout=20) as client:
        front = client.get(stack.url + path)
        direct = client.get(stack.worker_urls[0] + path)
    assert front.status_code == direct.status_code, path
    if front.is_redirect:
        assert front.headers["location"] == direct.headers["location"]
        return
    assert front.content == direct.content, path
    base = front.headers["content-type"].split(";")[0]
    assert base == direct.headers["content-type"].split(";")[0], path
    for name in HEADERS_COMPARED:
        assert front.headers.get(name) == direct.headers.get(name), (path, name)
