"""Checkout Sessions: validated like Stripe validates them, paid on the hosted page.

`complete_session` is what pressing Pay does: it checks everything first (email, promotion
code, card) and only then creates the customer, the payment or subscription, and the events.
"""

from __future__ import annotations

from typing import Any

from stripe_local import cards
from stripe_local.errors import StripeError, invalid_param, missing_param, only_one_of
from stripe_local.expand import VIRTUAL
from stripe_local.ids import new_id
from stripe_local.listing import list_object, paginate
from stripe_local.params import (
    Bool,
    Currency,
    Email,
    Enum,
    Int,
    ListOf,
    Metadata,
    Obj,
    Str,
    Url,
    list_params,
    merged_metadata,
    require_email,
)
from stripe_local.resources.billing import new_discount, start_subscription
from stripe_local.resources.catalog import RECURRING, new_price
from stripe_local.resources.customers import new_customer
from stripe_local.resources.discounts import (
    applicable_amount,
    check_coupon,
    check_promotion_code,
    coupon_products,
    discount_amount,
    find_active_code,
    redeem,
)
from stripe_local.resources.payments import attempt_payment, new_payment_intent
from stripe_local.routing import ApiRoute, Ctx
from stripe_local.store import Store

SESSION_LIFETIME = 24 * 3600
_LOCALE_CODES = (
    "auto bg cs da de el en en-GB es es-419 et fi fil fr fr-CA hr hu id it ja ko lt lv ms mt nb"
    " nl pl pt pt-BR ro ru sk sl sv th tr vi zh zh-HK zh-TW"
)
LOCALES = tuple(_LOCALE_CODES.split())
PAYMENT_METHOD_TYPES = ("card", "alipay", "wechat_pay")
ONE_TIME_ONLY = ("alipay", "wechat_pay")
"""Wallets Checkout takes in `payment` mode only (Stripe: "Subscription mode: No")."""
_ALIPAY = "aud cad cny eur gbp hkd jpy nzd sgd usd myr"
_WECHAT_PAY = "aud cad chf cny dkk eur gbp hkd jpy nok sek sgd usd"
WALLET_CURRENCIES = {
    "alipay": frozenset(_ALIPAY.split(" ")),
    "wechat_pay": frozenset(_WECHAT_PAY.split(" ")),
}

LINE_ITEM = Obj(
    {
        "price": Str(),
        "quantity": Int(1, 999_999),
        "price_data": Obj(
            {
                "currency": Currency(),
                "unit_amount": Int(0, 99_999_999),
                "product": Str(),
                "product_data": Obj(
                    {"name": Str(250), "description": Str(), "metadata": Metadata()},
                    required=["name"],
                ),
                "recurring": RECURRING,
            },
            required=["currency", "unit_amount"],
        ),
    }
)
CREATE = Obj(
    {
        "mode": Enum("payment", "subscription"),
        "line_items": ListOf(LINE_ITEM),
        "success_url": Url(),
        "cancel_url": Url(),
        "customer": Str(),
        "customer_email": Email(800),
        "customer_creation": Enum("always", "if_required"),
        "client_reference_id": Str(200),
        "metadata": Metadata(),
        "allow_promotion_codes": Bool(),
        "discounts": ListOf(Obj({"coupon": Str(), "promotion_code": Str()}), max_items=1),
        "subscription_data": Obj(
            {"metadata": Metadata(), "description": Str(500), "trial_period_days": Int(1, 730)}
        ),
        "payment_intent_data": Obj(
            {"metadata": Metadata(), "description": Str(1000), "receipt_email": Email()}
        ),
        "locale": Enum(*LOCALES),
        "expires_at": Int(0),
        "payment_method_types": ListOf(Enum(*PAYMENT_METHOD_TYPES)),
        "payment_method_options": Obj(
            {
                "wechat_pay": Obj(
                    {"client": Enum("web", "ios", "android"), "app_id": Str()},
                    required=["client"],
                ),
                "alipay": Obj({}),
                "card": Obj({}),
            }
        ),
        "submit_type": Enum("auto", "book", "donate", "pay"),
        "ui_mode": Enum("hosted"),
    },
    required=["mode"],
)
LIST = list_params(
    {
        "customer": Str(),
        "payment_intent": Str(),
        "subscription": Str(),
        "status": Enum("open", "complete", "expired"),
    }
)


# -- creating ---------------------------------------------------------------------------------


def _line_prices(store: Store, line_items: list[dict[str, Any]]) -> list[tuple[dict, int]]:
    """Each line's price (created from `price_data` if given) and quantity, validated."""
    if not line_items:
        raise missing_param("line_items")
    lines = []
    for position, item in enumerate(line_items):
        where = f"line_items[{position}]"
        if item.get("price") and item.get("price_data"):
            raise only_one_of(f"{where}[price]", f"{where}[price_data]")
        if item.get("quantity") is None:
            raise StripeError(
                f"Quantity is required. Add `quantity` to `{where}`.",
                param=f"{where}[quantity]",
                code="parameter_missing",
            )
        if item.get("price_data"):
            price = new_price(store, {**item["price_data"], "active": False})
        elif item.get("price"):
            price = store.get("price", item["price"], param=f"{where}[price]")
            if not price["active"]:
                raise invalid_param(
                    f"{where}[price]",
                    f"The price specified ({price['id']}) is inactive. This field only accepts "
                    "active prices.",
                )
        else:
            raise StripeError(
                f"You must specify either `price` or `price_data` in {where}.",
                param=f"{where}[price]",
                code="parameter_missing",
            )
        lines.append((price, item["quantity"]))
    return lines


def _check_lines_fit_mode(mode: str, lines: list[tuple[dict, int]]) -> None:
    currency = lines[0][0]["currency"]
    for position, (price, _) in enumerate(lines):
        where = f"line_items[{position}][price]"
        if price["currency"] != currency:
            raise invalid_param(
                where,
                "All line items must use the same currency; got "
                f"{price['currency']} after {currency}.",
            )
        if mode == "payment" and price["type"] == "recurring":
            raise invalid_param(
                where,
                "You specified `payment` mode but passed a recurring price. Either switch to "
                "`subscription` mode or use only one-time prices.",
            )
    if mode == "subscription":
        recurring = [p["recurring"] for p, _ in lines if p["recurring"]]
        if not recurring:
            raise invalid_param(
                "line_items",
                "You must provide at least one recurring price in `subscription` mode when "
                "using prices.",
            )
        if len(lines) != len(recurring):
            raise invalid_param(
                "line_items",
                "stripe_local bills only recurring prices in `subscription` mode; "
                "a one-time price was passed.",
            )
        periods = {(r["interval"], r["interval_count"]) for r in recurring}
        if len(periods) > 1:
            raise invalid_param(
                "line_items", "All recurring prices in a subscription must share one interval."
            )


def _check_mode_params(params: dict[str, Any], mode: str) -> None:
    if mode == "subscription":
        for key in ("payment_intent_data", "customer_creation", "submit_type"):
            if params.get(key) is not None:
                raise invalid_param(key, f"You can not pass `{key}` in `subscription` mode.")
    if mode == "payment" and params.get("subscription_data") is not None:
        raise invalid_param(
            "subscription_data", "You can not pass `subscription_data` in `payment` mode."
        )


def _resolve_discount(
    store: Store, params: dict[str, Any], currency: str, subtotal: int
) -> tuple[dict | None, dict | None]:
    """The coupon and promotion code named by `discounts[0]`, validated."""
    discounts = params.get("discounts") or []
    if not discounts:
        return None, None
    entry = discounts[0]
    if entry.get("coupon") and entry.get("promotion_code"):
        raise only_one_of("discounts[0][coupon]", "discounts[0][promotion_code]")
    if entry.get("promotion_code"):
        param = "discounts[0][promotion_code]"
        promo = store.get("promotion_code", entry["promotion_code"], param=param)
        coupon = check_promotion_code(
            store,
            promo,
            currency=currency,
            subtotal=subtotal,
            customer_id=params.get("customer"),
            param=param,
        )
        return coupon, promo
    if entry.get("coupon"):
        coupon = store.get("coupon", entry["coupon"], param="discounts[0][coupon]")
        check_coupon(store, coupon, currency, "discounts[0][coupon]")
        return coupon, None
    raise missing_param("discounts[0][coupon]")


def _check_payment_methods(params: dict[str, Any], mode: str) -> list[str]:
    """The session's payment method types, refused as Stripe refuses them: wallets in
    subscription mode, WeChat Pay without its `client` option, a currency a wallet
    does not take (checked once the currency is known, by `_check_method_currency`)."""
    types = list(dict.fromkeys(params.get("payment_method_types") or ["card"]))
    for position, kind in enumerate(types):
        if mode != "payment" and kind in ONE_TIME_ONLY:
            raise invalid_param(
                f"payment_method_types[{position}]",
                f"The payment method type `{kind}` cannot be used in `{mode}` mode; it is "
                "only available for one-time payments (`mode=payment`).",
            )
    options = params.get("payment_method_options") or {}
    if "wechat_pay" in types:
        wechat = options.get("wechat_pay")
        if not wechat or not wechat.get("client"):
            raise missing_param("payment_method_options[wechat_pay][client]")
        if wechat["client"] in ("ios", "android") and not wechat.get("app_id"):
            raise missing_param("payment_method_options[wechat_pay][app_id]")
    return types


def _check_method_currency(types: list[str], currency: str) -> None:
    for position, kind in enumerate(types):
        allowed = WALLET_CURRENCIES.get(kind)
        if allowed is not None and currency not in allowed:
            raise invalid_param(
                f"payment_method_types[{position}]",
                f"The currency provided ({currency}) is invalid for payment method type "
                f"`{kind}`; it takes {', '.join(sorted(allowed))}.",
            )


def create_session(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    mode = params["mode"]
    if params.get("customer") and params.get("customer_email"):
        raise only_one_of("customer", "customer_email")
    if params.get("allow_promotion_codes") and params.get("discounts"):
        raise only_one_of("allow_promotion_codes", "discounts")
    _check_mode_params(params, mode)
    method_types = _check_payment_methods(params, mode)
    if params.get("customer"):
        store.get("customer", params["customer"], param="customer")
    now = store.now()
    expires_at = params.get("expires_at") or now + SESSION_LIFETIME
    if not now + 1800 <= expires_at <= now + SESSION_LIFETIME:
        raise invalid_param(
            "expires_at", "expires_at must be between 30 minutes and 24 hours from now."
        )
    lines = _line_prices(store, params.get("line_items") or [])
    _check_lines_fit_mode(mode, lines)
    currency = lines[0][0]["currency"]
    _check_method_currency(method_types, currency)
    subtotal = sum(price["unit_amount"] * quantity for price, quantity in lines)
    if mode == "subscription" and (params.get("subscription_data") or {}).get("trial_period_days"):
        subtotal = 0  # nothing is due today: the first payment is at the trial's end
    coupon, promo = _resolve_discount(store, params, currency, subtotal)
    param = "discounts[0][promotion_code]" if promo else "discounts[0][coupon]"
    if coupon is not None:
        applicable_amount(store, coupon, lines, param)  # refused before anything is created
    session_id = new_id("cs_test_")
    session = store.insert(
        {
            "id": session_id,
            "object": "checkout.session",
            "after_expiration": None,
            "allow_promotion_codes": params.get("allow_promotion_codes"),
            "amount_subtotal": subtotal,
            "amount_total": subtotal,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_address_collection": None,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "client_secret": None,
            "consent": None,
            "consent_collection": None,
            "created": now,
            "currency": currency,
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer": params.get("customer"),
            "customer_creation": (
                (params.get("customer_creation") or "if_required")
                if mode == "payment" and not params.get("customer")
                else None
            ),
            "customer_details": None,
            "customer_email": params.get("customer_email"),
            "discounts": [],
            "expires_at": expires_at,
            "invoice": None,
            "invoice_creation": None,
            "livemode": False,
            "locale": params.get("locale"),
            "metadata": merged_metadata({}, params.get("metadata")),
            "mode": mode,
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": "always",
            "payment_method_options": {
                kind: dict(option)
                for kind, option in (params.get("payment_method_options") or {}).items()
                if kind in method_types
            },
            "payment_method_types": method_types,
            "payment_status": "unpaid",
            "phone_number_collection": {"enabled": False},
            "recovered_from": None,
            "saved_payment_method_options": None,
            "setup_intent": None,
            "shipping_address_collection": None,
            "shipping_cost": None,
            "shipping_options": [],
            "status": "open",
            "submit_type": params.get("submit_type"),
            "subscription": None,
            "success_url": params.get("success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted",
            "url": f"{ctx.base_url}/c/pay/{session_id}",
        }
    )
    private = store.private_of(session_id)
    private["lines"] = [(new_id("li_"), price["id"], quantity) for price, quantity in lines]
    private["subscription_data"] = params.get("subscription_data") or {}
    private["payment_intent_data"] = params.get("payment_intent_data") or {}
    if coupon is not None:
        _set_discount(store, session, coupon, promo, param)
    return session


def _lines_of(store: Store, session: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
    lines = store.private_of(session["id"])["lines"]
    return [(store.get("price", price_id), quantity) for _, price_id, quantity in lines]


def _set_discount(
    store: Store,
    session: dict[str, Any],
    coupon: dict[str, Any],
    promo: dict[str, Any] | None,
    param: str,
) -> None:
    """Apply the coupon to the lines it may take from (its `applies_to` products, or all);
    nothing is due today during a trial, so nothing is taken then."""
    base = applicable_amount(store, coupon, _lines_of(store, session), param)
    taken = discount_amount(coupon, min(base, session["amount_subtotal"]))
    session["discounts"] = [{"coupon": coupon["id"], "promotion_code": promo and promo["id"]}]
    session["total_details"]["amount_discount"] = taken
    session["amount_total"] = session["amount_subtotal"] - taken
    private = store.private_of(session["id"])
    private["coupon"], private["promotion_code"] = coupon["id"], promo and promo["id"]


def session_lines(store: Store, session: dict[str, Any]) -> list[dict[str, Any]]:
    """The session's line items (`item` objects), the discount spread in proportion over
    the lines it applies to."""
    private = store.private_of(session["id"])
    taken = session["total_details"]["amount_discount"]
    coupon = store.find("coupon", private.get("coupon") or "")
    products = coupon_products(store, coupon) if coupon else None
    prices = [store.get("price", price_id) for _, price_id, _ in private["lines"]]
    takes = [products is None or price["product"] in products for price in prices]
    base = sum(
        price["unit_amount"] * quantity
        for price, (_, _, quantity), applies in zip(prices, private["lines"], takes, strict=True)
        if applies
    )
    last_taking = max((i for i, applies in enumerate(takes) if applies), default=-1)
    items, left = [], taken
    for position, (line_id, _, quantity) in enumerate(private["lines"]):
        price = prices[position]
        product = store.find("product", price["product"]) or {"name": price["product"]}
        amount = price["unit_amount"] * quantity
        if not takes[position]:
            discount = 0
        elif position == last_taking:
            discount = left
        else:
            discount = taken * amount // (base or 1)
        left -= discount
        items.append(
            {
                "id": line_id,
                "object": "item",
                "amount_discount": discount,
                "amount_subtotal": amount,
                "amount_tax": 0,
                "amount_total": amount - discount,
                "currency": price["currency"],
                "description": product["name"],
                "price": dict(price),
                "quantity": quantity,
            }
        )
    return items


def _line_items_list(store: Store, session: dict[str, Any]) -> dict[str, Any]:
    return list_object(
        f"/v1/checkout/sessions/{session['id']}/line_items", session_lines(store, session)
    )


VIRTUAL[("checkout.session", "line_items")] = _line_items_list


# -- reading and expiring ---------------------------------------------------------------------


def retrieve_session(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    return store.get("checkout.session", id, param="session", status=404)


def list_line_items(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    session = store.get("checkout.session", id, param="session", status=404)
    return paginate(f"/v1/checkout/sessions/{id}/line_items", session_lines(store, session), params)


def list_sessions(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    items = list(reversed(store.all("checkout.session")))
    for key in ("customer", "payment_intent", "subscription", "status"):
        if params.get(key) is not None:
            items = [s for s in items if s[key] == params[key]]
    return paginate("/v1/checkout/sessions", items, params)


def expire(store: Store, session: dict[str, Any]) -> None:
    """Open → expired; emits `checkout.session.expired`."""
    session["status"] = "expired"
    session["url"] = None
    store.emit("checkout.session.expired", session)


def expire_session(store: Store, params: dict[str, Any], ctx: Ctx, id: str) -> dict[str, Any]:
    session = store.get("checkout.session", id, param="session", status=404)
    if session["status"] != "open":
        raise StripeError(
            "Only Checkout Sessions with a status of `open` can be expired; this one is "
            f"`{session['status']}`.",
            code="checkout_session_not_open",
        )
    expire(store, session)
    return session


# -- paying (the hosted page) -----------------------------------------------------------------


def open_session(store: Store, session_id: str) -> dict[str, Any]:
    """The session if it can still be paid; expires it first when its time is up."""
    session = store.get("checkout.session", session_id, param="session", status=404)
    if session["status"] == "open" and store.now() >= session["expires_at"]:
        expire(store, session)
    if session["status"] != "open":
        raise StripeError(
            f"This Checkout Session is no longer active (status: {session['status']}).",
            code="checkout_session_not_open",
            status=409,
        )
    return session


def apply_promotion_code(store: Store, session: dict[str, Any], code: str) -> None:
    """A code typed on the hosted page; refused unless the session allows promotion codes."""
    if not session["allow_promotion_codes"]:
        raise StripeError("This checkout does not accept promotion codes.", param="promotion_code")
    promo = find_active_code(store, code.strip())
    if promo is None:
        raise StripeError("This code is invalid.", param="promotion_code")
    coupon = check_promotion_code(
        store,
        promo,
        currency=session["currency"],
        subtotal=session["amount_subtotal"],
        customer_id=session["customer"],
        param="promotion_code",
    )
    _set_discount(store, session, coupon, promo, "promotion_code")


def payer_email(store: Store, session: dict[str, Any], typed: str | None) -> str:
    """The e-mail the payment is for: the customer's, `customer_email`, or the typed one."""
    if session["customer"]:
        known = store.get("customer", session["customer"])["email"]
        if known:
            return known
    elif session["customer_email"]:
        return session["customer_email"]
    return require_email((typed or "").strip() or None, "email")


def needs_email(store: Store, session: dict[str, Any]) -> bool:
    """Whether the hosted page must ask for an e-mail address."""
    if session["customer"]:
        return not store.get("customer", session["customer"])["email"]
    return not session["customer_email"]


def _card(number: str | None) -> cards.Card:
    card = cards.lookup(number or cards.DEFAULT_CARD)
    if card is None:
        raise StripeError(
            "Your card number is not a Stripe test card (try 4242 4242 4242 4242).",
            param="card",
            code="incorrect_number",
            status=402,
            type="card_error",
        )
    if card.decline_code is not None:
        raise StripeError(
            card.message or "Your card was declined.",
            param="card",
            code="card_declined",
            decline_code=card.decline_code,
            status=402,
            type="card_error",
        )
    return card


def complete_session(
    store: Store,
    session_id: str,
    email: str | None = None,
    promotion_code: str | None = None,
    card_number: str | None = None,
    payment_method: str | None = None,
) -> str | None:
    """Press Pay with the chosen payment method (the session's first type by default; a
    wallet, Alipay or WeChat Pay, is authorized in its app and always succeeds here).
    Returns the success URL (with the session id filled in), if any."""
    session = open_session(store, session_id)
    method = payment_method or session["payment_method_types"][0]
    if method not in session["payment_method_types"]:
        offered = ", ".join(session["payment_method_types"])
        raise StripeError(
            f"This checkout does not offer `{method}` (it offers {offered}).",
            param="payment_method",
        )
    if promotion_code and promotion_code.strip():
        apply_promotion_code(store, session, promotion_code)
    address = payer_email(store, session, email)
    card = _card(card_number if method == "card" else None)
    customer = _customer_for(store, session, address)
    if customer is not None:
        customer_private = store.private_of(customer["id"])
        customer_private["card"] = card.number
        customer_private["payment_method"] = new_id("pm_")
    if session["mode"] == "payment":
        _collect_payment(store, session, card, customer, address, method)
    else:
        _start_subscription(store, session, customer)
    _redeem_discount(store, session)
    session.update(
        status="complete",
        url=None,
        customer=customer["id"] if customer else None,
        customer_details={
            "address": None,
            "email": address,
            "name": None,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
    )
    store.emit("checkout.session.completed", session)
    success = session["success_url"]
    return success.replace("{CHECKOUT_SESSION_ID}", session["id"]) if success else None


def _customer_for(store: Store, session: dict[str, Any], email: str) -> dict[str, Any] | None:
    """The given customer, a new one (subscriptions, `customer_creation=always`), or none:
    Stripe makes no Customer for a one-time payment unless asked to."""
    if session["customer"]:
        return store.get("customer", session["customer"])
    if session["mode"] == "subscription" or session["customer_creation"] == "always":
        return new_customer(store, {"email": email})
    return None


def _collect_payment(
    store: Store,
    session: dict[str, Any],
    card: cards.Card,
    customer: dict[str, Any] | None,
    email: str,
    method: str = "card",
) -> None:
    if session["amount_total"] == 0:
        session["payment_status"] = "no_payment_required"
        return
    data = store.private_of(session["id"])["payment_intent_data"]
    intent = new_payment_intent(
        store,
        amount=session["amount_total"],
        currency=session["currency"],
        customer_id=customer["id"] if customer else None,
        description=data.get("description"),
        metadata=data.get("metadata"),
        receipt_email=data.get("receipt_email") or email,
        payment_method_types=session["payment_method_types"],
    )
    payment_method = (
        store.private_of(customer["id"])["payment_method"]
        if customer and method == "card"
        else new_id("pm_")
    )
    attempt_payment(store, intent, card, payment_method, email, method=method)
    session["payment_intent"] = intent["id"]
    session["payment_status"] = "paid"


def _start_subscription(
    store: Store, session: dict[str, Any], customer: dict[str, Any] | None
) -> None:
    if customer is None:  # `_customer_for` always makes one in subscription mode
        raise RuntimeError(f"subscription session {session['id']} has no customer")
    private = store.private_of(session["id"])
    lines = [(store.get("price", price_id), quantity) for _, price_id, quantity in private["lines"]]
    discount = None
    if private.get("coupon"):
        coupon = store.get("coupon", private["coupon"])
        promo = store.find("promotion_code", private.get("promotion_code") or "")
        discount = new_discount(
            store, coupon, promo, customer_id=customer["id"], checkout_session=session["id"]
        )
    data = private["subscription_data"]
    sub = start_subscription(
        store,
        customer=customer,
        lines=lines,
        metadata=data.get("metadata"),
        description=data.get("description"),
        discount=discount,
        trial_days=data.get("trial_period_days"),
    )
    session["subscription"] = sub["id"]
    session["invoice"] = sub["latest_invoice"]
    session["payment_status"] = "paid" if session["amount_total"] > 0 else "no_payment_required"


def _redeem_discount(store: Store, session: dict[str, Any]) -> None:
    private = store.private_of(session["id"])
    if private.get("coupon"):
        coupon = store.get("coupon", private["coupon"])
        redeem(store, coupon, store.find("promotion_code", private.get("promotion_code") or ""))


ROUTES = [
    ApiRoute("POST", "/v1/checkout/sessions", create_session, CREATE),
    ApiRoute("GET", "/v1/checkout/sessions", list_sessions, LIST),
    ApiRoute("GET", "/v1/checkout/sessions/{id}", retrieve_session, Obj({})),
    ApiRoute("GET", "/v1/checkout/sessions/{id}/line_items", list_line_items, list_params()),
    ApiRoute("POST", "/v1/checkout/sessions/{id}/expire", expire_session, Obj({})),
]
