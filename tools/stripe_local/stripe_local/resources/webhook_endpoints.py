"""Webhook endpoints: where events are delivered and the secret they are signed with.

The endpoint given to `LocalStripe(...)` is an ordinary endpoint object too, so it shows up in
`GET /v1/webhook_endpoints`. A secret is shown once, in the create response, as on Stripe.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from stripe_local.errors import StripeError
from stripe_local.ids import new_id
from stripe_local.listing import paginate
from stripe_local.params import Bool, ListOf, Metadata, Obj, Str, Url, list_params, merged_metadata
from stripe_local.resources.common import changes, metadata_update, present
from stripe_local.routing import ApiRoute, Ctx
from stripe_local.store import Store

CREATE = Obj(
    {
        "url": Url(),
        "enabled_events": ListOf(Str(), 500),
        "description": Str(5000),
        "metadata": Metadata(),
        "api_version": Str(),
    },
    required=["url", "enabled_events"],
)
UPDATE = Obj(
    {
        "url": Url(),
        "enabled_events": ListOf(Str(), 500),
        "description": Str(5000),
        "metadata": Metadata(),
        "disabled": Bool(),
    }
)
_DEFAULT = "_local"


def new_endpoint(
    store: Store,
    url: str,
    enabled_events: Iterable[str],
    secret: str | None = None,
    description: str | None = None,
    metadata: Any = None,
    api_version: str | None = None,
) -> dict[str, Any]:
    endpoint_id = new_id("we_")
    store.secrets[endpoint_id] = secret or new_id("whsec_")
    return store.insert(
        {
            "id": endpoint_id,
            "object": "webhook_endpoint",
            "api_version": api_version,
            "application": None,
            "created": store.now(),
            "description": description,
            "enabled_events": list(enabled_events),
            "livemode": False,
            "metadata": merged_metadata({}, metadata),
            "status": "enabled",
            "url": url,
        }
    )


def set_default_endpoint(
    store: Store, url: str, secret: str, enabled_events: Iterable[str] = ("*",)
) -> dict[str, Any]:
    """(Re)configure the endpoint given at construction (`LocalStripe.set_webhook`)."""
    current = store.find("webhook_endpoint", store.private_of(_DEFAULT).get("endpoint", ""))
    if current is None:
        current = new_endpoint(store, url, enabled_events, secret, "stripe_local default")
        store.private_of(_DEFAULT)["endpoint"] = current["id"]
    else:
        current.update(url=url, enabled_events=list(enabled_events), status="enabled")
        store.secrets[current["id"]] = secret
    return current


def _check_events(names: list[str] | None) -> None:
    if names is not None and not names:
        raise StripeError("enabled_events must name at least one event.", param="enabled_events")
    for position, name in enumerate(names or []):
        if name != "*" and ("." not in name or " " in name):
            raise StripeError(f"Invalid event type: {name}", param=f"enabled_events[{position}]")


def create_endpoint(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    _check_events(params["enabled_events"])
    endpoint = new_endpoint(
        store,
        params["url"],
        params["enabled_events"],
        description=params.get("description"),
        metadata=params.get("metadata"),
        api_version=params.get("api_version"),
    )
    return {**copy.deepcopy(endpoint), "secret": store.secrets[endpoint["id"]]}


def retrieve_endpoint(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    return store.get("webhook_endpoint", id, param="id", status=404)


def update_endpoint(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    endpoint = store.get("webhook_endpoint", id, param="id", status=404)
    _check_events(params.get("enabled_events") if "enabled_events" in params else None)
    updates = present(params, "url", "enabled_events", "description")
    updates.update(metadata_update(endpoint, params))
    if params.get("disabled") is not None:
        updates["status"] = "disabled" if params["disabled"] else "enabled"
    changes(endpoint, updates)
    return endpoint


def delete_endpoint(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    store.get("webhook_endpoint", id, param="id", status=404)
    store.remove("webhook_endpoint", id)
    store.secrets.pop(id, None)
    return {"id": id, "object": "webhook_endpoint", "deleted": True}


def list_endpoints(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    return paginate("/v1/webhook_endpoints", list(reversed(store.all("webhook_endpoint"))), params)


ROUTES = [
    ApiRoute("POST", "/v1/webhook_endpoints", create_endpoint, CREATE),
    ApiRoute("GET", "/v1/webhook_endpoints", list_endpoints, list_params()),
    ApiRoute("GET", "/v1/webhook_endpoints/{id}", retrieve_endpoint, Obj({})),
    ApiRoute("POST", "/v1/webhook_endpoints/{id}", update_endpoint, UPDATE),
    ApiRoute("DELETE", "/v1/webhook_endpoints/{id}", delete_endpoint, Obj({})),
]
