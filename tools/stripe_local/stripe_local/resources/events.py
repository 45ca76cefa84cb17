"""The event log: every event the server emitted, retrievable and listable (newest first)."""

from __future__ import annotations

from typing import Any

from stripe_local.listing import paginate
from stripe_local.params import ListOf, Obj, Str, list_params
from stripe_local.routing import ApiRoute, Ctx
from stripe_local.store import Store

LIST = list_params({"type": Str(), "types": ListOf(Str(), 20)})


def type_matches(pattern: str, event_type: str) -> bool:
    """`invoice.paid` matches itself; `invoice.*` matches every invoice event."""
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def retrieve_event(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    return store.get("event", id, param="id", status=404)


def list_events(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    items = list(reversed(store.events))
    if params.get("type"):
        items = [e for e in items if type_matches(params["type"], e["type"])]
    if params.get("types"):
        items = [e for e in items if any(type_matches(t, e["type"]) for t in params["types"])]
    return paginate("/v1/events", items, params)


ROUTES = [
    ApiRoute("GET", "/v1/events", list_events, LIST),
    ApiRoute("GET", "/v1/events/{id}", retrieve_event, Obj({})),
]
