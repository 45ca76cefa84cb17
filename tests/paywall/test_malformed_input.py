"""Malformed input is a 4xx naming what was wrong, never a 500 (issue "Money is never lost
or doubled", item 6): every route that reads a body (sign-in, sign-out, checkout, billing
portal, newsletter, unsubscribe, the beacon) and the query parameters of the GET routes.
(The webhook's payload shape is tested with the webhooks.)"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=kp"


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    body: bytes = b""
    content_type: str | None = None
    status: int = 400
    says: str = ""  # what the answer must name

    def send(self, client: httpx.Client, **headers: str) -> httpx.Response:
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        return client.request(self.method, self.path, content=self.body, headers=headers)


def j(value: object) -> bytes:
    return json.dumps(value).encode()


CASES = [
    # POST /api/login: JSON
    Case("login-deep-json", "POST", "/api/login", b"[" * 50_000, JSON, 400, "nested too deeply"),
    Case("login-deeper-json", "POST", "/api/login", b"[" * 100_000, JSON, 413, "too large"),
    Case("login-json-array", "POST", "/api/login", b"[1, 2]", JSON, 400, "not an array"),
    Case("login-json-null", "POST", "/api/login", b"null", JSON, 400, "must be an object"),
    Case("login-json-string", "POST", "/api/login", b'"a@b.co"', JSON, 400, "not a string"),
    Case("login-json-not-utf8", "POST", "/api/login", b"\xff\xfe{}", JSON, 400, "not UTF-8"),
    Case("login-not-json", "POST", "/api/login", b"{email:", JSON, 400, "not JSON"),
    Case(
        "login-email-array",
        "POST",
        "/api/login",
        j({"email": ["a@example.com"]}),
        JSON,
        400,
        "field 'email' must be a string, not an array",
    ),
    Case(
        "login-email-number",
        "POST",
        "/api/login",
        j({"email": 5}),
        JSON,
        400,
        "field 'email' must be a string, not a number",
    ),
    Case(
        "login-next-object",
        "POST",
        "/api/login",
        j({"email": "a@example.com", "next": {"x": 1}}),
        JSON,
        400,
        "field 'next' must be a string, not an object",
    ),
    Case(
        "login-next-surrogate",
        "POST",
        "/api/login",
        b'{"email": "a@example.com", "next": "/x\\ud800/"}',
        JSON,
        400,
        "field 'next' is not valid Unicode",
    ),
    Case(
        "login-via-surrogate",
        "POST",
        "/api/login",
        b'{"email": "b@example.com", "via": "/articles/\\udfff/"}',
        JSON,
        400,
        "field 'via' is not valid Unicode",
    ),
    Case(
        "login-from-nul",
        "POST",
        "/api/login",
        j({"email": "a@example.com", "from": "/x/\u0000"}),
        JSON,
        400,
        "field 'from' contains a NUL",
    ),
    Case(
        "login-ref-control",
        "POST",
        "/api/login",
        j({"email": "a@example.com", "ref": "ab\u0007c"}),
        JSON,
        400,
        "field 'ref' contains a control character",
    ),
    # POST /api/login: forms and other types
    Case(
        "login-form-nul",
        "POST",
        "/api/login",
        b"email=a%40example.com&next=%2Fx%00",
        FORM,
        400,
        "field 'next' contains a NUL",
    ),
    Case(
        "login-form-long-field",
        "POST",
        "/api/login",
        b"email=a%40example.com&from=%2F" + b"x" * 5000,
        FORM,
        400,
        "field 'from' is longer than 4000 characters",
    ),
    Case(
        "login-long-email",
        "POST",
        "/api/login",
        b"email=" + b"a" * 320 + b"%40example.com",
        FORM,
        400,
        "longer than 320 characters",
    ),
    Case("login-text-plain", "POST", "/api/login", b"email=a", "text/plain", 415, "text/plain"),
    Case("login-no-type", "POST", "/api/login", b"email=a@example.com", None, 415, "(none)"),
    Case(
        "login-multipart-no-boundary",
        "POST",
        "/api/login",
        b"x",
        "multipart/form-data",
        400,
        "boundary",
    ),
    Case("login-multipart-garbage", "POST", "/api/login", b"garbage", MULTIPART, 400, "multipart"),
    # the other forms
    Case("logout-deep-json", "POST", "/api/logout", b"[" * 50_000, JSON, 400, "nested too deeply"),
    Case(
        "checkout-nul",
        "POST",
        "/api/checkout",
        b"course=demo%00",
        FORM,
        400,
        "field 'course' contains a NUL",
    ),
    Case(
        "checkout-json",
        "POST",
        "/api/checkout",
        j({"course": "demo"}),
        JSON,
        415,
        "application/json",
    ),
    Case("checkout-multipart", "POST", "/api/checkout", b"garbage", MULTIPART, 400, "multipart"),
    Case(
        "checkout-long-from",
        "POST",
        "/api/checkout",
        b"course=demo&from=%2F" + b"y" * 5000,
        FORM,
        400,
        "field 'from' is longer",
    ),
    Case(
        "portal-multipart", "POST", "/api/billing-portal", b"garbage", MULTIPART, 400, "multipart"
    ),
    Case("portal-text", "POST", "/api/billing-portal", b"x", "text/plain", 415, "text/plain"),
    Case(
        "newsletter-nul",
        "POST",
        "/api/newsletter",
        b"subscribe=1%00",
        FORM,
        400,
        "field 'subscribe' contains a NUL",
    ),
    Case("newsletter-xml", "POST", "/api/newsletter", b"<x/>", "text/xml", 415, "text/xml"),
    Case(
        "unsubscribe-nul",
        "POST",
        "/api/newsletter/unsubscribe",
        b"token=abc%00",
        FORM,
        400,
        "field 'token' contains a NUL",
    ),
    Case(
        "unsubscribe-multipart",
        "POST",
        "/api/newsletter/unsubscribe",
        b"garbage",
        MULTIPART,
        400,
        "multipart",
    ),
    # the beacon (sendBeacon posts JSON as text/plain)
    Case("beacon-deep-json", "POST", "/api/e", b"[" * 1500, "text/plain", 400, "nested too deeply"),
    Case("beacon-not-utf8", "POST", "/api/e", b"\xff{}", "text/plain", 400, "not UTF-8"),
    Case("beacon-array", "POST", "/api/e", b"[]", "text/plain", 400, "not a JSON object"),
    Case(
        "beacon-e-number",
        "POST",
        "/api/e",
        j({"e": 5, "p": "/"}),
        "text/plain",
        400,
        "field 'e' must be a string",
    ),
    Case(
        "beacon-p-list",
        "POST",
        "/api/e",
        j({"e": "view", "p": ["/"]}),
        "text/plain",
        400,
        "field 'p' must be a string",
    ),
    Case("beacon-too-big", "POST", "/api/e", b"x" * 3000, "text/plain", 413, "too large"),
    # query parameters of the GET routes
    Case("auth-bad-uri", "GET", "/api/auth?uri=http%3A%2F%2F%5B", status=400, says="unsafe uri"),
    Case("auth-nul-uri", "GET", "/api/auth?uri=%2Fa%00", status=400, says="unsafe uri"),
    Case("auth-no-uri", "GET", "/api/auth", status=400, says="missing query parameter uri"),
    Case(
        "unsubscribe-bad-token",
        "GET",
        "/api/newsletter/unsubscribe?token=%00%ff" + "x" * 3000,
        status=400,
        says="Link not valid",
    ),
    Case("callback-bad-token", "GET", "/api/login/callback?token=%ff%00", status=400),
]
# GET routes that ignore or sanitize junk in their query: any answer but a 5xx.
TOLERANT = [
    "/account/?next=%00%ff&lang=%ff",
    "/account/?next=" + "%2F" * 3000,
    "/admin/?lang=%00",
    "/checkout/cancel?from=%00%ff//evil.example",
    "/articles/hello/?x=%00&lang=%ff",
    "/api/me?lang=%ff",
    "/%ff%00",
]


def _check(case: Case, r: httpx.Response) -> None:
    assert r.status_code == case.status, (case.id, r.status_code, r.text[:300])
    assert case.says in r.text, (case.id, r.text[:300])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_input_is_a_4xx_naming_what_was_wrong(app_server, case: Case) -> None:
    _check(case, case.send(app_server.client()))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("path", TOLERANT)
def test_junk_in_a_query_is_never_a_5xx(app_server, path: str) -> None:
    r = app_server.client().get(path)
    assert r.status_code < 500, (path, r.status_code, r.text[:300])


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_malformed_input_on_postgresql(app_server) -> None:
    """The same cases where text goes on to PostgreSQL (which stores no NUL and no lone
    surrogate): one server, every case."""
    client = app_server.client()
    for case in CASES:
        _check(case, case.send(client))
    for path in TOLERANT:
        assert client.get(path).status_code < 500, path


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_browser_gets_the_reason_in_the_site_page(app_server) -> None:
    r = app_server.client().post(
        "/api/checkout",
        content=b"course=demo%00",
        headers={"Content-Type": FORM, "Accept": "text/html"},
    )
    assert r.status_code == 400
    assert "<html" in r.text and "Request not understood" in r.text
    assert "contains a NUL character" in r.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_well_formed_json_and_forms_still_sign_in(app_server) -> None:
    client = app_server.client()
    ok = client.post(
        "/api/login",
        json={"email": "json@example.com", "next": "/x/", "ref": None},
        headers={"Accept": "application/json"},
    )
    assert ok.status_code == 200 and ok.json()["ok"] is True
    form = client.post("/api/login", data={"email": "form@example.com", "lang": "zh"})
    assert form.status_code == 200
    empty = client.post("/api/logout")
    assert empty.status_code == 303
