"""Products and prices, including lookup keys (unique among prices, transferable)."""

from __future__ import annotations

from typing import Any

from stripe_local.errors import StripeError, missing_param, only_one_of
from stripe_local.ids import new_id
from stripe_local.listing import paginate
from stripe_local.params import (
    Bool,
    Currency,
    Enum,
    Int,
    ListOf,
    Metadata,
    Obj,
    Str,
    Url,
    list_params,
    merged_metadata,
)
from stripe_local.resources.common import changes, metadata_update, present
from stripe_local.routing import ApiRoute, Ctx
from stripe_local.store import Store

_MAX_INTERVAL_COUNT = {"day": 365, "week": 52, "month": 12, "year": 1}

RECURRING = Obj(
    {
        "interval": Enum("day", "week", "month", "year"),
        "interval_count": Int(1, 365),
        "usage_type": Enum("licensed"),
    },
    required=["interval"],
)
PRODUCT_FIELDS = {
    "name": Str(250),
    "description": Str(),
    "active": Bool(),
    "metadata": Metadata(),
    "images": ListOf(Url(), 8),
    "url": Url(),
    "statement_descriptor": Str(22),
    "unit_label": Str(12),
    "tax_code": Str(),
    "shippable": Bool(),
}
PRICE_DATA_FIELDS = {
    "currency": Currency(),
    "unit_amount": Int(0, 99_999_999),
    "recurring": RECURRING,
    "metadata": Metadata(),
    "tax_behavior": Enum("exclusive", "inclusive", "unspecified"),
}
PRODUCT_CREATE = Obj(
    {
        **PRODUCT_FIELDS,
        "id": Str(250),
        "default_price_data": Obj(PRICE_DATA_FIELDS, required=["currency", "unit_amount"]),
    },
    required=["name"],
)
PRODUCT_UPDATE = Obj({**PRODUCT_FIELDS, "default_price": Str()})
PRODUCT_LIST = list_params(
    {"active": Bool(), "ids": ListOf(Str()), "shippable": Bool(), "url": Str()}
)
PRICE_CREATE = Obj(
    {
        **PRICE_DATA_FIELDS,
        "product": Str(),
        "product_data": Obj(
            {
                "name": Str(250),
                "active": Bool(),
                "metadata": Metadata(),
                "statement_descriptor": Str(22),
                "unit_label": Str(12),
                "tax_code": Str(),
                "id": Str(250),
            },
            required=["name"],
        ),
        "active": Bool(),
        "nickname": Str(),
        "lookup_key": Str(200),
        "transfer_lookup_key": Bool(),
        "billing_scheme": Enum("per_unit"),
    },
    required=["currency"],
)
PRICE_UPDATE = Obj(
    {
        "active": Bool(),
        "lookup_key": Str(200),
        "transfer_lookup_key": Bool(),
        "nickname": Str(),
        "metadata": Metadata(),
        "tax_behavior": Enum("exclusive", "inclusive", "unspecified"),
    }
)
PRICE_LIST = list_params(
    {
        "active": Bool(),
        "currency": Currency(),
        "product": Str(),
        "type": Enum("one_time", "recurring"),
        "lookup_keys": ListOf(Str(200), 10),
        "recurring": Obj({"interval": Enum("day", "week", "month", "year")}),
    }
)
DELETE = Obj({})


# -- products ---------------------------------------------------------------------------------


def new_product(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    """Insert a product (also used by `product_data` on prices); emits `product.created`."""
    product_id = params.get("id") or new_id("prod_")
    if store.find("product", product_id) is not None:
        raise StripeError(
            f"Product already exists: {product_id}", param="id", code="resource_already_exists"
        )
    now = store.now()
    product = store.insert(
        {
            "id": product_id,
            "object": "product",
            "active": params.get("active", True) is not False,
            "created": now,
            "default_price": None,
            "description": params.get("description"),
            "images": params.get("images") or [],
            "livemode": False,
            "marketing_features": [],
            "metadata": merged_metadata({}, params.get("metadata")),
            "name": params["name"],
            "package_dimensions": None,
            "shippable": params.get("shippable"),
            "statement_descriptor": params.get("statement_descriptor"),
            "tax_code": params.get("tax_code"),
            "unit_label": params.get("unit_label"),
            "updated": now,
            "url": params.get("url"),
        }
    )
    store.emit("product.created", product)
    return product


def create_product(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    product = new_product(store, params)
    price_data = params.get("default_price_data")
    if price_data:
        price = new_price(store, {**price_data, "product": product["id"]})
        previous = changes(product, {"default_price": price["id"]})
        store.emit("product.updated", product, previous)
    return product


def retrieve_product(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    return store.get("product", id, param="id", status=404)


def update_product(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    product = store.get("product", id, param="id", status=404)
    if params.get("name", "x") is None:
        raise StripeError("You cannot unset a product's name.", param="name")
    default_price = params.get("default_price")
    if default_price is not None:
        price = store.get("price", default_price, param="default_price")
        if price["product"] != product["id"]:
            raise StripeError(
                f"The price {default_price} belongs to another product.", param="default_price"
            )
    updates = present(params, *PRODUCT_FIELDS, "default_price")
    updates.pop("metadata", None)
    updates.update(metadata_update(product, params))
    if "active" in updates:
        updates["active"] = updates["active"] is not False
    previous = changes(product, updates)
    if previous:
        product["updated"] = store.now()
        store.emit("product.updated", product, previous)
    return product


def list_products(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    items = list(reversed(store.all("product")))
    if params.get("active") is not None:
        items = [p for p in items if p["active"] == params["active"]]
    if params.get("ids"):
        items = [p for p in items if p["id"] in params["ids"]]
    if params.get("shippable") is not None:
        items = [p for p in items if p["shippable"] == params["shippable"]]
    if params.get("url") is not None:
        items = [p for p in items if p["url"] == params["url"]]
    return paginate("/v1/products", items, params)


def delete_product(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    product = store.get("product", id, param="id", status=404)
    if any(p["product"] == id for p in store.all("price")):
        raise StripeError("This product cannot be deleted because it has one or more prices.")
    store.remove("product", id)
    store.emit("product.deleted", product)
    return {"id": id, "object": "product", "deleted": True}


# -- prices -----------------------------------------------------------------------------------


def _check_recurring(recurring: dict[str, Any] | None) -> dict[str, Any] | None:
    if recurring is None:
        return None
    interval = recurring["interval"]
    count = recurring.get("interval_count") or 1
    if count > _MAX_INTERVAL_COUNT[interval]:
        raise StripeError(
            "The maximum billing interval is one year (1 year, 12 months, 52 weeks or 365 days).",
            param="recurring[interval_count]",
        )
    return {
        "interval": interval,
        "interval_count": count,
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def _claim_lookup_key(store: Store, key: str, transfer: bool, owner: str) -> None:
    """Lookup keys are unique among prices; `transfer_lookup_key` moves one to `owner`."""
    for other in store.all("price"):
        if other["lookup_key"] == key and other["id"] != owner:
            if not transfer:
                raise StripeError(
                    f"A price (`{other['id']}`) already uses that lookup key.",
                    param="lookup_key",
                    code="lookup_key_exists",
                )
            previous = changes(other, {"lookup_key": None})
            store.emit("price.updated", other, previous)


def new_price(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("product") and params.get("product_data"):
        raise only_one_of("product", "product_data")
    if params.get("product_data"):
        product_id = new_product(store, params["product_data"])["id"]
    elif params.get("product"):
        product_id = store.get("product", params["product"], param="product")["id"]
    else:
        raise missing_param("product")
    if params.get("unit_amount") is None:
        raise missing_param("unit_amount")
    recurring = _check_recurring(params.get("recurring"))
    price_id = new_id("price_")
    if params.get("lookup_key"):
        _claim_lookup_key(
            store, params["lookup_key"], bool(params.get("transfer_lookup_key")), price_id
        )
    price = store.insert(
        {
            "id": price_id,
            "object": "price",
            "active": params.get("active", True) is not False,
            "billing_scheme": "per_unit",
            "created": store.now(),
            "currency": params["currency"],
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": params.get("lookup_key"),
            "metadata": merged_metadata({}, params.get("metadata")),
            "nickname": params.get("nickname"),
            "product": product_id,
            "recurring": recurring,
            "tax_behavior": params.get("tax_behavior") or "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": params["unit_amount"],
            "unit_amount_decimal": str(params["unit_amount"]),
        }
    )
    store.emit("price.created", price)
    return price


def create_price(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    return new_price(store, params)


def retrieve_price(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    return store.get("price", id, param="id", status=404)


def update_price(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    price = store.get("price", id, param="id", status=404)
    if params.get("lookup_key"):
        _claim_lookup_key(
            store, params["lookup_key"], bool(params.get("transfer_lookup_key")), price["id"]
        )
    updates = present(params, "active", "lookup_key", "nickname", "tax_behavior")
    if "active" in updates:
        updates["active"] = updates["active"] is not False
    updates.update(metadata_update(price, params))
    previous = changes(price, updates)
    if previous:
        store.emit("price.updated", price, previous)
    return price


def list_prices(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    items = list(reversed(store.all("price")))
    for key in ("active", "currency", "product", "type"):
        if params.get(key) is not None:
            items = [p for p in items if p[key] == params[key]]
    if params.get("lookup_keys"):
        items = [p for p in items if p["lookup_key"] in params["lookup_keys"]]
    interval = (params.get("recurring") or {}).get("interval")
    if interval:
        items = [p for p in items if (p["recurring"] or {}).get("interval") == interval]
    return paginate("/v1/prices", items, params)


ROUTES = [
    ApiRoute("POST", "/v1/products", create_product, PRODUCT_CREATE),
    ApiRoute("GET", "/v1/products", list_products, PRODUCT_LIST),
    ApiRoute("GET", "/v1/products/{id}", retrieve_product, Obj({})),
    ApiRoute("POST", "/v1/products/{id}", update_product, PRODUCT_UPDATE),
    ApiRoute("DELETE", "/v1/products/{id}", delete_product, DELETE),
    ApiRoute("POST", "/v1/prices", create_price, PRICE_CREATE),
    ApiRoute("GET", "/v1/prices", list_prices, PRICE_LIST),
    ApiRoute("GET", "/v1/prices/{id}", retrieve_price, Obj({})),
    ApiRoute("POST", "/v1/prices/{id}", update_price, PRICE_UPDATE),
]
