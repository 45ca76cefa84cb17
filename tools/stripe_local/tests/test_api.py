"""The `/v1` API through the official SDK over real HTTP: resources, errors, encoding."""

from __future__ import annotations

import httpx
import pytest
import stripe


def test_products_create_retrieve_update_list(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(
        {"name": "Course", "description": "Learn", "metadata": {"slug": "c", "tier": "gold"}}
    )
    assert product.id.startswith("prod_")
    assert product.object == "product" and product.livemode is False and product.active
    assert client.v1.products.retrieve(product.id).name == "Course"

    updated = client.v1.products.update(
        product.id, {"name": "Course 2", "metadata": {"tier": "", "extra": "x"}}
    )
    assert updated.name == "Course 2"
    assert updated.metadata.to_dict() == {"slug": "c", "extra": "x"}  # "" unsets a key
    cleared = client.v1.products.update(product.id, {"metadata": ""})
    assert cleared.metadata.to_dict() == {}

    other = client.v1.products.create({"name": "Other", "active": False})
    listed = client.v1.products.list()
    assert listed.object == "list" and listed.url == "/v1/products" and not listed.has_more
    assert [p.id for p in listed.data] == [other.id, product.id]  # newest first
    assert [p.id for p in client.v1.products.list({"active": False}).data] == [other.id]


def test_product_default_price_data(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(
        {"name": "Plan", "default_price_data": {"currency": "eur", "unit_amount": 500}}
    )
    price = client.v1.prices.retrieve(product.default_price)
    assert (price.product, price.unit_amount, price.currency) == (product.id, 500, "eur")


def test_prices_and_lookup_keys(client: stripe.StripeClient) -> None:
    product = client.v1.products.create({"name": "Course"})
    once = client.v1.prices.create(
        {"product": product.id, "unit_amount": 1900, "currency": "usd", "lookup_key": "once"}
    )
    assert once.id.startswith("price_") and once.type == "one_time" and once.recurring is None
    assert str(once.unit_amount_decimal) == "1900"
    monthly = client.v1.prices.create(
        {
            "product_data": {"name": "Membership"},
            "unit_amount": 900,
            "currency": "USD",
            "recurring": {"interval": "month"},
            "lookup_key": "monthly",
            "nickname": "Monthly",
        }
    )
    assert monthly.type == "recurring" and monthly.currency == "usd"
    assert monthly.recurring.interval == "month" and monthly.recurring.interval_count == 1
    assert monthly.product.startswith("prod_") and monthly.product != product.id

    found = client.v1.prices.list({"lookup_keys": ["monthly", "once"], "expand": ["data.product"]})
    assert {p.id for p in found.data} == {once.id, monthly.id}
    assert {p.product.name for p in found.data} == {"Course", "Membership"}
    assert [p.id for p in client.v1.prices.list({"type": "recurring"}).data] == [monthly.id]
    assert [p.id for p in client.v1.prices.list({"product": product.id}).data] == [once.id]

    with pytest.raises(stripe.InvalidRequestError) as taken:
        client.v1.prices.create(
            {"product": product.id, "unit_amount": 2900, "currency": "usd", "lookup_key": "once"}
        )
    assert taken.value.param == "lookup_key"
    assert once.id in taken.value.user_message

    moved = client.v1.prices.create(
        {
            "product": product.id,
            "unit_amount": 2900,
            "currency": "usd",
            "lookup_key": "once",
            "transfer_lookup_key": True,
        }
    )
    assert client.v1.prices.retrieve(once.id).lookup_key is None
    assert [p.id for p in client.v1.prices.list({"lookup_keys": ["once"]}).data] == [moved.id]

    archived = client.v1.prices.update(moved.id, {"active": False, "lookup_key": ""})
    assert archived.active is False and archived.lookup_key is None
    assert moved.id not in [p.id for p in client.v1.prices.list({"active": True}).data]


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"unit_amount": 100, "currency": "usd"}, "product", "Missing required param"),
        ({"product": "prod_nope", "unit_amount": 1, "currency": "usd"}, "product", "No such"),
        (
            {"product_data": {"name": "x"}, "unit_amount": "ten", "currency": "usd"},
            "unit_amount",
            "Invalid integer",
        ),
        (
            {"product_data": {"name": "x"}, "unit_amount": 1, "currency": "usd", "bogus": "1"},
            "bogus",
            "unknown parameter",
        ),
        (
            {
                "product_data": {"name": "x"},
                "unit_amount": 1,
                "currency": "usd",
                "recurring": {"interval": "fortnight"},
            },
            "recurring[interval]",
            "must be one of",
        ),
        (
            {
                "product_data": {"name": "x"},
                "unit_amount": 1,
                "currency": "usd",
                "recurring": {"interval": "month", "bogus": "1"},
            },
            "recurring[bogus]",
            "unknown parameter",
        ),
        ({"product_data": {"name": "x"}, "unit_amount": 1, "currency": "xyz"}, "currency", "xyz"),
    ],
)
def test_bad_price_parameters_name_the_param(
    client: stripe.StripeClient, params: dict, param: str, words: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.create(params)
    assert caught.value.http_status == 400
    assert caught.value.param == param
    assert words in caught.value.user_message
    assert caught.value.json_body["error"]["type"] == "invalid_request_error"


def test_unknown_ids_are_404(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.retrieve("cus_missing")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"
    assert "No such customer: 'cus_missing'" in caught.value.user_message


def test_authentication(local) -> None:
    with pytest.raises(stripe.AuthenticationError) as wrong:
        stripe.StripeClient(
            "sk_test_wrongkey1234", base_addresses={"api": local.url}
        ).v1.products.list()
    assert wrong.value.http_status == 401
    assert "Invalid API Key provided: sk_test_" in wrong.value.user_message
    assert "wrongkey" not in wrong.value.user_message  # redacted
    with httpx.Client(trust_env=False) as http:
        missing = http.get(f"{local.url}/v1/products")
        basic = http.get(f"{local.url}/v1/products", auth=(local.api_key, ""))
        unknown = http.get(
            f"{local.url}/v1/nothing", headers={"Authorization": f"Bearer {local.api_key}"}
        )
    assert missing.status_code == 401
    assert "did not provide an API key" in missing.json()["error"]["message"]
    assert basic.status_code == 200
    assert unknown.status_code == 404
    assert "Unrecognized request URL" in unknown.json()["error"]["message"]


def test_pagination(client: stripe.StripeClient) -> None:
    created = [client.v1.customers.create({"email": f"c{i}@x.test"}).id for i in range(5)]
    newest_first = list(reversed(created))
    page = client.v1.customers.list({"limit": 2})
    assert [c.id for c in page.data] == newest_first[:2] and page.has_more
    page2 = client.v1.customers.list({"limit": 2, "starting_after": page.data[-1].id})
    assert [c.id for c in page2.data] == newest_first[2:4] and page2.has_more
    before = client.v1.customers.list({"limit": 2, "ending_before": newest_first[3]})
    assert [c.id for c in before.data] == newest_first[1:3]
    everything = [c.id for c in client.v1.customers.list({"limit": 2}).auto_paging_iter()]
    assert everything == newest_first
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.list({"limit": 101})
    assert caught.value.param == "limit"


def test_customers(client: stripe.StripeClient) -> None:
    ann = client.v1.customers.create({"email": "ann@x.test", "name": "Ann", "metadata": {"m": "1"}})
    client.v1.customers.create({"email": "bob@x.test"})
    assert ann.id.startswith("cus_") and ann.object == "customer"
    assert [c.id for c in client.v1.customers.list({"email": "ann@x.test"}).data] == [ann.id]
    changed = client.v1.customers.update(ann.id, {"name": "Ann B"})
    assert changed.name == "Ann B" and changed.metadata.to_dict() == {"m": "1"}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.create({"email": "not-an-email"})
    assert caught.value.param == "email"


def test_idempotency_keys_replay_and_conflict(local, client: stripe.StripeClient) -> None:
    first = client.v1.customers.create({"email": "i@x.test"}, {"idempotency_key": "key-1"})
    again = client.v1.customers.create({"email": "i@x.test"}, {"idempotency_key": "key-1"})
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(client.v1.customers.list().data) == 1
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create({"email": "other@x.test"}, {"idempotency_key": "key-1"})
    created = [e for e in local.events("customer.created")]
    assert len(created) == 1 and created[0]["request"]["idempotency_key"] == "key-1"
    assert created[0]["request"]["id"].startswith("req_")


def test_old_style_array_encoding(local, client: stripe.StripeClient) -> None:
    """`expand[]=…` and `lookup_keys[]=…` (older clients) work like indexed arrays."""
    product = client.v1.products.create({"name": "P"})
    price = client.v1.prices.create(
        {"product": product.id, "unit_amount": 1, "currency": "usd", "lookup_key": "k"}
    )
    with httpx.Client(trust_env=False) as http:
        response = http.get(
            f"{local.url}/v1/prices?lookup_keys[]=k&expand[]=data.product",
            headers={"Authorization": f"Bearer {local.api_key}"},
        )
    data = response.json()["data"]
    assert [p["id"] for p in data] == [price.id]
    assert data[0]["product"]["name"] == "P"


def test_coupons_and_promotion_codes(client: stripe.StripeClient) -> None:
    percent = client.v1.coupons.create({"percent_off": 25, "duration": "once", "name": "Launch"})
    assert percent.object == "coupon" and percent.percent_off == 25 and percent.valid
    fixed = client.v1.coupons.create(
        {"id": "TENOFF", "amount_off": 1000, "currency": "usd", "duration": "forever"}
    )
    assert fixed.id == "TENOFF"
    promo = client.v1.promotion_codes.create(
        {"promotion": {"type": "coupon", "coupon": percent.id}, "code": "LAUNCH25"}
    )
    assert promo.id.startswith("promo_") and promo.promotion.coupon == percent.id
    legacy = client.v1.promotion_codes.create({"coupon": fixed.id, "code": "TEN"})
    assert legacy.promotion.type == "coupon" and legacy.promotion.coupon == "TENOFF"
    assert [p.id for p in client.v1.promotion_codes.list({"code": "launch25"}).data] == [promo.id]

    with pytest.raises(stripe.InvalidRequestError) as duplicate:
        client.v1.promotion_codes.create({"coupon": fixed.id, "code": "LAUNCH25"})
    assert duplicate.value.param == "code"
    with pytest.raises(stripe.InvalidRequestError) as no_currency:
        client.v1.coupons.create({"amount_off": 100})
    assert no_currency.value.param == "currency"
    with pytest.raises(stripe.InvalidRequestError) as repeating:
        client.v1.coupons.create({"percent_off": 10, "duration": "repeating"})
    assert repeating.value.param == "duration_in_months"
    with pytest.raises(stripe.InvalidRequestError) as missing_coupon:
        client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": "NOPE"}})
    assert missing_coupon.value.param == "promotion[coupon]"


def test_events_api(local, client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"email": "e@x.test"})
    client.v1.customers.update(customer.id, {"name": "E"})
    events = client.v1.events.list()
    assert [e.type for e in events.data] == ["customer.updated", "customer.created"]
    updated = client.v1.events.list({"type": "customer.updated"}).data[0]
    assert updated.id.startswith("evt_") and updated.object == "event"
    assert updated.data.previous_attributes.to_dict() == {"name": None}
    assert updated.data.object.id == customer.id and updated.livemode is False
    assert updated.api_version == stripe.api_version
    assert len(client.v1.events.list({"type": "customer.*"}).data) == 2
    assert client.v1.events.retrieve(updated.id).id == updated.id
    assert [e["type"] for e in local.events()] == ["customer.created", "customer.updated"]


def test_webhook_endpoints_api(client: stripe.StripeClient, receiver) -> None:
    endpoint = client.v1.webhook_endpoints.create(
        {"url": "http://127.0.0.1:9/hook", "enabled_events": ["invoice.paid", "charge.refunded"]}
    )
    assert endpoint.id.startswith("we_") and endpoint.secret.startswith("whsec_")
    assert endpoint.enabled_events == ["invoice.paid", "charge.refunded"]
    fetched = client.v1.webhook_endpoints.retrieve(endpoint.id)
    assert "secret" not in fetched  # shown once, at creation
    urls = {e.url for e in client.v1.webhook_endpoints.list().data}
    assert urls == {"http://127.0.0.1:9/hook", receiver.url}
    disabled = client.v1.webhook_endpoints.update(endpoint.id, {"disabled": True})
    assert disabled.status == "disabled"
    deleted = client.v1.webhook_endpoints.delete(endpoint.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.webhook_endpoints.create({"url": "not a url", "enabled_events": ["*"]})
    assert caught.value.param == "url"
