"""`expand[]=…`: replace id references in a response by the objects they name.

Works on dotted paths (`data.product`, `subscription.latest_invoice`) like Stripe, up to four
levels, and on a few properties that are only present when expanded (`line_items`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from stripe_local.errors import StripeError
from stripe_local.store import Store

#: Which object type an id-valued property refers to.
FIELD_KINDS = {
    "product": "product",
    "price": "price",
    "default_price": "price",
    "customer": "customer",
    "subscription": "subscription",
    "invoice": "invoice",
    "latest_invoice": "invoice",
    "payment_intent": "payment_intent",
    "latest_charge": "charge",
    "charge": "charge",
    "dispute": "dispute",
    "coupon": "coupon",
    "promotion_code": "promotion_code",
}

#: Properties computed only on request: (object type, property) → builder.
Virtual = Callable[[Store, dict[str, Any]], Any]
VIRTUAL: dict[tuple[str, str], Virtual] = {}


def expand(store: Store, response: dict[str, Any], paths: list[str] | None) -> dict[str, Any]:
    for path in paths or []:
        parts = path.split(".")
        if len(parts) > 4:
            raise StripeError(
                f"You cannot expand more than 4 levels of a property. Property: {path}",
                param="expand",
            )
        _expand(store, response, parts, path)
    return response


def _expand(store: Store, node: Any, parts: list[str], path: str) -> None:
    if isinstance(node, list):
        for item in node:
            _expand(store, item, parts, path)
        return
    if not isinstance(node, dict):
        return
    if node.get("object") == "list" and parts[0] == "data":
        if parts[1:]:
            _expand(store, node["data"], parts[1:], path)
        return
    key, rest = parts[0], parts[1:]
    virtual = VIRTUAL.get((node.get("object", ""), key))
    if virtual is not None:
        node[key] = virtual(store, node)
    elif key in node and isinstance(node[key], str) and key in FIELD_KINDS:
        found = store.find(FIELD_KINDS[key], node[key])
        if found is not None:
            node[key] = copy.deepcopy(found)
    elif key not in node or (node[key] is not None and not isinstance(node[key], dict | list)):
        raise StripeError(f"This property cannot be expanded ({key}).", param="expand")
    if rest and node.get(key) is not None:
        _expand(store, node[key], rest, path)
