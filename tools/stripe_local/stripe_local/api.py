"""The `/v1` HTTP layer: authentication, form decoding, idempotency, expansion, errors.

Resource modules declare `ApiRoute`s; this module turns them into Starlette routes that
answer exactly as Stripe does for the SDK: JSON bodies, `Request-Id`, Stripe's error shape,
401 for a missing or wrong key, replays for a repeated `Idempotency-Key`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stripe_local import forms
from stripe_local.errors import StripeError
from stripe_local.expand import expand
from stripe_local.ids import new_id
from stripe_local.params import EXPAND, Obj
from stripe_local.resources import (
    billing,
    catalog,
    checkout,
    customers,
    discounts,
    events,
    payments,
    portal,
    webhook_endpoints,
)
from stripe_local.routing import ApiRoute, Ctx
from stripe_local.store import RequestInfo, Store
from stripe_local.webhooks import Dispatcher

ALL_ROUTES: list[ApiRoute] = [
    *catalog.ROUTES,
    *customers.ROUTES,
    *discounts.ROUTES,
    *checkout.ROUTES,
    *portal.ROUTES,
    *billing.ROUTES,
    *payments.ROUTES,
    *events.ROUTES,
    *webhook_endpoints.ROUTES,
]

_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details."
)


#: What a paused API answers: Stripe's shape for its own trouble (the SDK raises `APIError`
#: and, with `max_network_retries`, retries first).
PAUSED = StripeError(
    "stripe_local: the API is paused (a simulated Stripe outage); try again later.",
    status=503,
    type="api_error",
)


def error_response(error: StripeError, request_id: str) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers={"Request-Id": request_id})


def redact(key: str) -> str:
    """`sk_test_abcdefgh1234` → `sk_test_********1234`, as Stripe echoes a wrong key."""
    prefix = key[:8] if key.startswith(("sk_test_", "sk_live_", "rk_test_", "pk_test_")) else ""
    rest = key[len(prefix) :]
    tail = rest[-4:] if len(rest) > 8 else ""
    return prefix + "*" * max(4, len(rest) - len(tail)) + tail


def presented_key(request: Request) -> str | None:
    """The API key from `Authorization: Bearer …` (or Basic auth with the key as user)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(value.strip()).decode("utf-8").split(":", 1)[0]
        except ValueError:
            return None
        return user or None
    return None


class Api:
    """Serves the declared `/v1` routes over one store and dispatcher."""

    def __init__(self, store: Store, dispatcher: Dispatcher, api_key: str) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.api_key = api_key
        #: Idempotency-Key → (request fingerprint, status, body).
        self._replays: dict[str, tuple[str, int, dict[str, Any]]] = {}

    def routes(self) -> list[Route]:
        by_path: dict[str, dict[str, ApiRoute]] = {}
        for api_route in ALL_ROUTES:
            by_path.setdefault(api_route.path, {})[api_route.method] = api_route
        routes = [self._route(path, methods) for path, methods in by_path.items()]
        routes.append(Route("/v1/{rest:path}", self._unknown, methods=["GET", "POST", "DELETE"]))
        return routes

    def _route(self, path: str, methods: dict[str, ApiRoute]) -> Route:
        schemas = {m: r.schema.extended({"expand": EXPAND}) for m, r in methods.items()}

        async def endpoint(request: Request) -> Response:
            api_route = methods.get(request.method)
            if api_route is None:
                return await self._unknown(request)
            return await self._serve(request, api_route, schemas[request.method])

        return Route(path, endpoint, methods=list(methods))

    def _paused(self, request_id: str) -> Response | None:
        with self.store.lock:
            if not self.store.api_paused:
                return None
            self.store.api_refused += 1
        return error_response(PAUSED, request_id)

    async def _unknown(self, request: Request) -> Response:
        request_id = new_id("req_")
        denied = self._paused(request_id)
        if denied is None:
            denied = self._authenticate(request, request_id)
        if denied is not None:
            return denied
        error = StripeError(
            f"Unrecognized request URL ({request.method}: {request.url.path}).", status=404
        )
        return error_response(error, request_id)

    def _authenticate(self, request: Request, request_id: str) -> Response | None:
        key = presented_key(request)
        if key is None:
            return error_response(StripeError(_NO_KEY, status=401), request_id)
        if key != self.api_key:
            message = f"Invalid API Key provided: {redact(key)}"
            return error_response(StripeError(message, status=401), request_id)
        return None

    async def _serve(self, request: Request, api_route: ApiRoute, schema: Obj) -> Response:
        request_id = new_id("req_")
        denied = self._paused(request_id)
        if denied is None:
            denied = self._authenticate(request, request_id)
        if denied is not None:
            return denied
        idempotency_key = request.headers.get("idempotency-key")
        try:
            if request.method == "POST":
                raw = forms.decode_body(await request.body())
            else:
                raw = forms.decode_query(request.url.query)
            params = schema.coerce_fields(raw)
        except StripeError as error:
            return error_response(error, request_id)
        headers = {"Request-Id": request_id}
        if request.headers.get("stripe-version"):
            headers["Stripe-Version"] = request.headers["stripe-version"]
        fingerprint = _fingerprint(request, raw)
        if request.method == "POST" and idempotency_key:
            replay = self._replay(idempotency_key, fingerprint, request_id)
            if replay is not None:
                return replay
        status, body = await self._call(request, api_route, params, request_id, idempotency_key)
        if request.method == "POST" and idempotency_key:
            with self.store.lock:
                self._replays[idempotency_key] = (fingerprint, status, body)
        return JSONResponse(body, status_code=status, headers=headers)

    async def _call(
        self,
        request: Request,
        api_route: ApiRoute,
        params: dict[str, Any],
        request_id: str,
        idempotency_key: str | None,
    ) -> tuple[int, dict[str, Any]]:
        ctx = Ctx(base_url=str(request.base_url).rstrip("/"))
        path_params = dict(request.path_params)
        info = RequestInfo(request_id, idempotency_key if request.method == "POST" else None)

        def operation(store: Store) -> dict[str, Any]:
            result = api_route.handler(store, params, ctx, **path_params)
            return expand(store, copy.deepcopy(result), params.get("expand"))

        try:
            body, emitted = self.store.run(operation, request=info)
            status = 200
        except StripeError as error:
            body, emitted, status = error.body(), error.events, error.status
        # Not awaited in sync mode: the caller may be the webhook receiver itself.
        await self.dispatcher.dispatch(emitted, wait=False)
        return status, body

    def _replay(self, key: str, fingerprint: str, request_id: str) -> Response | None:
        with self.store.lock:
            saved = self._replays.get(key)
        if saved is None:
            return None
        saved_fingerprint, status, body = saved
        if saved_fingerprint != fingerprint:
            error = StripeError(
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type="idempotency_error",
            )
            return error_response(error, request_id)
        headers = {"Request-Id": request_id, "Idempotent-Replayed": "true"}
        return JSONResponse(body, status_code=status, headers=headers)


def _fingerprint(request: Request, params: dict[str, Any]) -> str:
    text = json.dumps([request.method, request.url.path, params], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def route_table() -> Iterable[tuple[str, str]]:
    """(method, path) of every supported endpoint, for documentation and tests."""
    return [(r.method, r.path) for r in ALL_ROUTES]
