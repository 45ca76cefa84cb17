"""The Starlette application: `/v1` API, hosted pages, `/_local/` control API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from stripe_local.api import Api
from stripe_local.control import Control
from stripe_local.pages import Pages
from stripe_local.store import Store
from stripe_local.webhooks import Dispatcher


async def _index(request: Request) -> PlainTextResponse:
    return PlainTextResponse(
        "stripe_local: a local Stripe test server.\n"
        "API under /v1 (Bearer auth), hosted checkout /c/pay/<cs_id>, portal /p/session/<id>,\n"
        "test hooks under /_local/.\n"
    )


def create_app(store: Store, dispatcher: Dispatcher, api_key: str) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()

    routes = [
        Route("/", _index),
        *Api(store, dispatcher, api_key).routes(),
        *Pages(store, dispatcher).routes(),
        *Control(store, dispatcher).routes(),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
