"""Customers: created by the API or by a completed Checkout Session."""

from __future__ import annotations

from typing import Any

from stripe_local.ids import new_id, random_tail
from stripe_local.listing import paginate
from stripe_local.params import Email, ListOf, Metadata, Obj, Str, list_params, merged_metadata
from stripe_local.resources.common import changes, metadata_update, present
from stripe_local.routing import ApiRoute, Ctx
from stripe_local.store import Store

FIELDS = {
    "email": Email(512),
    "name": Str(256),
    "description": Str(350),
    "phone": Str(20),
    "metadata": Metadata(),
    "preferred_locales": ListOf(Str(10)),
}
CREATE = Obj(FIELDS)
UPDATE = Obj(FIELDS)
LIST = list_params({"email": Str(512)})


def new_customer(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    """Insert a customer; emits `customer.created`."""
    customer = store.insert(
        {
            "id": new_id("cus_"),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": store.now(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": params.get("description"),
            "discount": None,
            "email": params.get("email"),
            "invoice_prefix": random_tail(8).upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": merged_metadata({}, params.get("metadata")),
            "name": params.get("name"),
            "next_invoice_sequence": 1,
            "phone": params.get("phone"),
            "preferred_locales": params.get("preferred_locales") or [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
    )
    store.emit("customer.created", customer)
    return customer


def update_fields(store: Store, customer: dict[str, Any], updates: dict[str, Any]) -> None:
    """Change a customer and emit `customer.updated` when something actually changed."""
    previous = changes(customer, updates)
    if previous:
        store.emit("customer.updated", customer, previous)


def create_customer(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    return new_customer(store, params)


def retrieve_customer(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    return store.get("customer", id, param="id", status=404)


def update_customer(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    customer = store.get("customer", id, param="id", status=404)
    updates = present(params, "email", "name", "description", "phone", "preferred_locales")
    updates.update(metadata_update(customer, params))
    if "preferred_locales" in updates:
        updates["preferred_locales"] = updates["preferred_locales"] or []
    update_fields(store, customer, updates)
    return customer


def delete_customer(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    customer = store.get("customer", id, param="id", status=404)
    store.remove("customer", id)
    store.emit("customer.deleted", customer)
    return {"id": id, "object": "customer", "deleted": True}


def list_customers(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    items = list(reversed(store.all("customer")))
    if params.get("email") is not None:
        items = [c for c in items if c["email"] == params["email"]]
    return paginate("/v1/customers", items, params)


ROUTES = [
    ApiRoute("POST", "/v1/customers", create_customer, CREATE),
    ApiRoute("GET", "/v1/customers", list_customers, LIST),
    ApiRoute("GET", "/v1/customers/{id}", retrieve_customer, Obj({})),
    ApiRoute("POST", "/v1/customers/{id}", update_customer, UPDATE),
    ApiRoute("DELETE", "/v1/customers/{id}", delete_customer, Obj({})),
]
