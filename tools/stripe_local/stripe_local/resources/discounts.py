"""Coupons, promotion codes, and how a discount applies to an amount.

Promotion codes are created the newer way (`promotion[type]=coupon&promotion[coupon]=…`) and
the older way (`coupon=…`); either way the object shows `promotion: {type, coupon}` as the
SDK's API version does. A coupon's `applies_to[products]` limits it to those products' prices;
like Stripe's, the property is left out of the coupon unless asked for with
`expand[]=applies_to`.
"""

from __future__ import annotations

import re
from typing import Any

from stripe_local.errors import StripeError, invalid_param, missing_param, only_one_of
from stripe_local.expand import VIRTUAL
from stripe_local.ids import new_id, random_tail
from stripe_local.listing import paginate
from stripe_local.params import (
    Bool,
    Currency,
    Decimal,
    Enum,
    Int,
    ListOf,
    Metadata,
    Obj,
    Str,
    list_params,
    merged_metadata,
)
from stripe_local.resources.common import changes, metadata_update, present
from stripe_local.routing import ApiRoute, Ctx
from stripe_local.store import Store

_CODE = re.compile(r"^[A-Za-z0-9-]+$")

COUPON_CREATE = Obj(
    {
        "id": Str(200),
        "percent_off": Decimal(0.01, 100),
        "amount_off": Int(1, 99_999_999),
        "currency": Currency(),
        "duration": Enum("once", "repeating", "forever"),
        "duration_in_months": Int(1, 1200),
        "name": Str(40),
        "max_redemptions": Int(1),
        "redeem_by": Int(0),
        "metadata": Metadata(),
        "applies_to": Obj({"products": ListOf(Str(), max_items=100)}),
    }
)
COUPON_UPDATE = Obj({"name": Str(40), "metadata": Metadata()})
PROMO_CREATE = Obj(
    {
        "promotion": Obj({"type": Enum("coupon"), "coupon": Str()}, required=["type", "coupon"]),
        "coupon": Str(),
        "code": Str(500),
        "active": Bool(),
        "customer": Str(),
        "expires_at": Int(0),
        "max_redemptions": Int(1),
        "metadata": Metadata(),
        "restrictions": Obj(
            {
                "first_time_transaction": Bool(),
                "minimum_amount": Int(0),
                "minimum_amount_currency": Currency(),
            }
        ),
    }
)
PROMO_UPDATE = Obj({"active": Bool(), "metadata": Metadata()})
PROMO_LIST = list_params({"active": Bool(), "code": Str(500), "coupon": Str(), "customer": Str()})


# -- coupons ----------------------------------------------------------------------------------


def create_coupon(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    percent, amount = params.get("percent_off"), params.get("amount_off")
    if percent is not None and amount is not None:
        raise only_one_of("percent_off", "amount_off")
    if percent is None and amount is None:
        raise StripeError("You must pass either percent_off or amount_off.", param="percent_off")
    if amount is not None and not params.get("currency"):
        raise missing_param("currency")
    duration = params.get("duration") or "once"
    months = params.get("duration_in_months")
    if duration == "repeating" and months is None:
        raise missing_param("duration_in_months")
    if duration != "repeating" and months is not None:
        raise invalid_param("duration_in_months", "duration_in_months requires duration=repeating.")
    coupon_id = params.get("id") or random_tail(8).upper()
    if store.find("coupon", coupon_id) is not None:
        raise StripeError(
            f"Coupon already exists: {coupon_id}", param="id", code="resource_already_exists"
        )
    products = list(dict.fromkeys((params.get("applies_to") or {}).get("products") or []))
    for position, product_id in enumerate(products):
        store.get("product", product_id, param=f"applies_to[products][{position}]")
    coupon = store.insert(
        {
            "id": coupon_id,
            "object": "coupon",
            "amount_off": amount,
            "created": store.now(),
            "currency": params.get("currency") if amount is not None else None,
            "duration": duration,
            "duration_in_months": months,
            "livemode": False,
            "max_redemptions": params.get("max_redemptions"),
            "metadata": merged_metadata({}, params.get("metadata")),
            "name": params.get("name"),
            "percent_off": percent,
            "redeem_by": params.get("redeem_by"),
            "times_redeemed": 0,
            "valid": True,
        }
    )
    if products:
        store.private_of(coupon_id)["applies_to"] = products
    store.emit("coupon.created", coupon)
    return coupon


def coupon_products(store: Store, coupon: dict[str, Any]) -> list[str] | None:
    """The products a coupon is limited to (`applies_to[products]`), None for any."""
    return store.private_of(coupon["id"]).get("applies_to")


def _applies_to(store: Store, coupon: dict[str, Any]) -> dict[str, Any] | None:
    products = coupon_products(store, coupon)
    return {"products": list(products)} if products else None


VIRTUAL[("coupon", "applies_to")] = _applies_to


def retrieve_coupon(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    return _refreshed(store, store.get("coupon", id, param="id", status=404))


def update_coupon(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    coupon = store.get("coupon", id, param="id", status=404)
    updates = present(params, "name")
    updates.update(metadata_update(coupon, params))
    previous = changes(coupon, updates)
    if previous:
        store.emit("coupon.updated", coupon, previous)
    return coupon


def delete_coupon(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    coupon = store.get("coupon", id, param="id", status=404)
    store.remove("coupon", id)
    store.private.pop(id, None)
    store.emit("coupon.deleted", coupon)
    return {"id": id, "object": "coupon", "deleted": True}


def list_coupons(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    items = [_refreshed(store, c) for c in reversed(store.all("coupon"))]
    return paginate("/v1/coupons", items, params)


def _refreshed(store: Store, coupon: dict[str, Any]) -> dict[str, Any]:
    """`valid` turns false once the coupon is used up or past `redeem_by`."""
    used_up = coupon["max_redemptions"] is not None and (
        coupon["times_redeemed"] >= coupon["max_redemptions"]
    )
    expired = coupon["redeem_by"] is not None and store.now() > coupon["redeem_by"]
    coupon["valid"] = not (used_up or expired)
    return coupon


# -- promotion codes --------------------------------------------------------------------------


def create_promotion_code(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    promotion, legacy = params.get("promotion"), params.get("coupon")
    if promotion and legacy:
        raise only_one_of("promotion", "coupon")
    if not promotion and not legacy:
        raise missing_param("promotion")
    param = "coupon" if legacy else "promotion[coupon]"
    coupon_id = legacy or (promotion or {}).get("coupon")
    coupon = store.get("coupon", str(coupon_id), param=param)
    code = params.get("code") or random_tail(8).upper()
    if not _CODE.match(code):
        raise invalid_param("code", "Promotion codes may only contain letters, digits and dashes.")
    if find_active_code(store, code) is not None:
        raise StripeError(
            f"An active promotion code with `code: {code}` already exists.", param="code"
        )
    if params.get("customer"):
        store.get("customer", params["customer"], param="customer")
    restrictions = params.get("restrictions") or {}
    if restrictions.get("minimum_amount") is not None and not restrictions.get(
        "minimum_amount_currency"
    ):
        raise missing_param("restrictions[minimum_amount_currency]")
    promo = store.insert(
        {
            "id": new_id("promo_"),
            "object": "promotion_code",
            "active": params.get("active", True) is not False,
            "code": code,
            "created": store.now(),
            "customer": params.get("customer"),
            "expires_at": params.get("expires_at"),
            "livemode": False,
            "max_redemptions": params.get("max_redemptions"),
            "metadata": merged_metadata({}, params.get("metadata")),
            "promotion": {"coupon": coupon["id"], "type": "coupon"},
            "restrictions": {
                "currency_options": {},
                "first_time_transaction": bool(restrictions.get("first_time_transaction")),
                "minimum_amount": restrictions.get("minimum_amount"),
                "minimum_amount_currency": restrictions.get("minimum_amount_currency"),
            },
            "times_redeemed": 0,
        }
    )
    store.emit("promotion_code.created", promo)
    return promo


def retrieve_promotion_code(
    store: Store, params: dict[str, Any], ctx: Ctx, id: str
) -> dict[str, Any]:
    return store.get("promotion_code", id, param="id", status=404)


def update_promotion_code(
    store: Store, params: dict[str, Any], ctx: Ctx, id: str
) -> dict[str, Any]:
    promo = store.get("promotion_code", id, param="id", status=404)
    updates = present(params, "active")
    if "active" in updates:
        updates["active"] = updates["active"] is not False
        if updates["active"] and not promo["active"]:
            other = find_active_code(store, promo["code"])
            if other is not None:
                raise StripeError(
                    f"An active promotion code with `code: {promo['code']}` already exists.",
                    param="active",
                )
    updates.update(metadata_update(promo, params))
    previous = changes(promo, updates)
    if previous:
        store.emit("promotion_code.updated", promo, previous)
    return promo


def list_promotion_codes(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    items = list(reversed(store.all("promotion_code")))
    if params.get("active") is not None:
        items = [p for p in items if p["active"] == params["active"]]
    if params.get("code") is not None:
        items = [p for p in items if p["code"].lower() == params["code"].lower()]
    if params.get("coupon") is not None:
        items = [p for p in items if p["promotion"]["coupon"] == params["coupon"]]
    if params.get("customer") is not None:
        items = [p for p in items if p["customer"] == params["customer"]]
    return paginate("/v1/promotion_codes", items, params)


def find_active_code(store: Store, code: str) -> dict[str, Any] | None:
    """The active promotion code with this customer-facing code (case-insensitive)."""
    for promo in store.all("promotion_code"):
        if promo["active"] and promo["code"].lower() == code.lower():
            return promo
    return None


# -- applying discounts -----------------------------------------------------------------------


def check_coupon(store: Store, coupon: dict[str, Any], currency: str, param: str) -> None:
    """Refuse a coupon that is used up, expired, or in another currency."""
    if not _refreshed(store, coupon)["valid"]:
        raise StripeError(f"Coupon {coupon['id']} is no longer valid.", param=param)
    if coupon["amount_off"] is not None and coupon["currency"] != currency:
        raise StripeError(
            f"Coupon {coupon['id']} is in {coupon['currency']}, this payment is in {currency}.",
            param=param,
        )


def check_promotion_code(
    store: Store,
    promo: dict[str, Any],
    *,
    currency: str,
    subtotal: int,
    customer_id: str | None,
    param: str,
) -> dict[str, Any]:
    """Refuse an unusable promotion code; return its coupon."""
    if not promo["active"]:
        raise StripeError("This promotion code is not active.", param=param)
    if promo["expires_at"] is not None and store.now() > promo["expires_at"]:
        raise StripeError("This promotion code has expired.", param=param)
    if promo["max_redemptions"] is not None and promo["times_redeemed"] >= promo["max_redemptions"]:
        raise StripeError("This promotion code has been fully redeemed.", param=param)
    if promo["customer"] is not None and promo["customer"] != customer_id:
        raise StripeError("This promotion code is for another customer.", param=param)
    rules = promo["restrictions"]
    if rules["minimum_amount"] is not None and (
        rules["minimum_amount_currency"] != currency or subtotal < rules["minimum_amount"]
    ):
        raise StripeError(
            "This promotion code needs a larger order "
            f"(at least {rules['minimum_amount']} {rules['minimum_amount_currency']}).",
            param=param,
        )
    if (
        rules["first_time_transaction"]
        and customer_id is not None
        and _has_paid(store, customer_id)
    ):
        raise StripeError("This promotion code is only for first-time customers.", param=param)
    coupon = store.get("coupon", promo["promotion"]["coupon"], param=param)
    check_coupon(store, coupon, currency, param)
    return coupon


def _has_paid(store: Store, customer_id: str) -> bool:
    return any(
        c["customer"] == customer_id and c["status"] == "succeeded" for c in store.all("charge")
    )


def applicable_amount(
    store: Store, coupon: dict[str, Any], lines: list[tuple[dict[str, Any], int]], param: str
) -> int:
    """The part of an order (`(price, quantity)` lines) a coupon may take from: the lines of
    its `applies_to` products, or everything. A coupon for none of them is refused."""
    products = coupon_products(store, coupon)
    amount = sum(
        price["unit_amount"] * quantity
        for price, quantity in lines
        if products is None or price["product"] in products
    )
    if products is not None and not any(price["product"] in products for price, _ in lines):
        raise StripeError(
            f"Coupon {coupon['id']} applies to none of the items in this order "
            f"(it is limited to {', '.join(products)}).",
            param=param,
            code="coupon_not_applicable",
        )
    return amount


def discount_amount(coupon: dict[str, Any], subtotal: int) -> int:
    """Minor units taken off `subtotal` (percentages round half up, as Stripe rounds)."""
    if coupon["percent_off"] is not None:
        return min(subtotal, int(subtotal * coupon["percent_off"] / 100 + 0.5))
    return min(subtotal, coupon["amount_off"])


def redeem(store: Store, coupon: dict[str, Any], promo: dict[str, Any] | None) -> None:
    coupon["times_redeemed"] += 1
    _refreshed(store, coupon)
    if promo is not None:
        promo["times_redeemed"] += 1


ROUTES = [
    ApiRoute("POST", "/v1/coupons", create_coupon, COUPON_CREATE),
    ApiRoute("GET", "/v1/coupons", list_coupons, list_params()),
    ApiRoute("GET", "/v1/coupons/{id}", retrieve_coupon, Obj({})),
    ApiRoute("POST", "/v1/coupons/{id}", update_coupon, COUPON_UPDATE),
    ApiRoute("DELETE", "/v1/coupons/{id}", delete_coupon, Obj({})),
    ApiRoute("POST", "/v1/promotion_codes", create_promotion_code, PROMO_CREATE),
    ApiRoute("GET", "/v1/promotion_codes", list_promotion_codes, PROMO_LIST),
    ApiRoute("GET", "/v1/promotion_codes/{id}", retrieve_promotion_code, Obj({})),
    ApiRoute("POST", "/v1/promotion_codes/{id}", update_promotion_code, PROMO_UPDATE),
]
