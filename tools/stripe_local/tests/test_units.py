"""Pure pieces: form decoding, parameter schemas, period arithmetic, flush ordering."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from stripe_local import forms
from stripe_local.__main__ import parse_args
from stripe_local.errors import StripeError
from stripe_local.html import e
from stripe_local.money import format_amount, shift
from stripe_local.params import CLEAR, Int, ListOf, Metadata, Obj, Str, merged_metadata
from stripe_local.webhooks import arrange


def test_decode_bracket_notation() -> None:
    pairs = [
        ("mode", "payment"),
        ("line_items[0][price]", "price_1"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price]", "price_2"),
        ("expand[]", "line_items"),
        ("expand[]", "customer"),
        ("metadata[a b]", "x"),
        ("metadata[empty]", ""),
    ]
    assert forms.decode(pairs) == {
        "mode": "payment",
        "line_items": {"0": {"price": "price_1", "quantity": "2"}, "1": {"price": "price_2"}},
        "expand": {"0": "line_items", "1": "customer"},
        "metadata": {"a b": "x", "empty": ""},
    }


def test_decode_refuses_value_and_hash_for_one_key() -> None:
    with pytest.raises(StripeError) as caught:
        forms.decode([("metadata", "x"), ("metadata[a]", "y")])
    assert caught.value.param == "metadata"
    with pytest.raises(StripeError):
        forms.decode([("a[b", "1")])


def test_schema_names_nested_params() -> None:
    schema = Obj(
        {"items": ListOf(Obj({"price": Str(), "quantity": Int(1)}, required=["price"]))},
        required=["items"],
    )
    assert schema.coerce_fields({"items": {"1": {"price": "b"}, "0": {"price": "a"}}}) == {
        "items": [{"price": "a"}, {"price": "b"}]
    }
    for raw, param in [
        ({}, "items"),
        ({"items": {"0": {"quantity": "1"}}}, "items[0][price]"),
        ({"items": {"0": {"price": "a", "quantity": "0"}}}, "items[0][quantity]"),
        ({"items": {"0": {"price": "a", "oops": "1"}}}, "items[0][oops]"),
        ({"items": {"x": {"price": "a"}}}, "items[x]"),
        ({"extra": "1", "items": {"0": {"price": "a"}}}, "extra"),
    ]:
        with pytest.raises(StripeError) as caught:
            schema.coerce_fields(raw)
        assert caught.value.param == param


def test_metadata_rules() -> None:
    assert Metadata().coerce("", "metadata") is CLEAR
    assert merged_metadata({"a": "1", "b": "2"}, {"a": "", "c": "3"}) == {"b": "2", "c": "3"}
    assert merged_metadata({"a": "1"}, CLEAR) == {}
    with pytest.raises(StripeError) as caught:
        Metadata().coerce({"k" * 41: "v"}, "metadata")
    assert caught.value.param == f"metadata[{'k' * 41}]"


def _ts(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def test_monthly_periods_keep_the_anchor_day() -> None:
    anchor = _ts(2027, 1, 31, 12)
    assert shift(anchor, "month", 1) == _ts(2027, 2, 28, 12)
    assert shift(anchor, "month", 2) == _ts(2027, 3, 31, 12)
    assert shift(anchor, "year", 1) == _ts(2028, 1, 31, 12)
    assert shift(_ts(2028, 2, 29), "year", 1) == _ts(2029, 2, 28)
    assert shift(anchor, "week", 2) == anchor + 14 * 86400


def test_amounts() -> None:
    assert format_amount(1999, "usd") == "$19.99"
    assert format_amount(1000, "jpy") == "¥1,000"
    assert format_amount(500, "sek") == "5.00 SEK"


def test_arrange_held_events() -> None:
    held = [
        {"id": "evt_1", "type": "a.x"},
        {"id": "evt_2", "type": "b.y"},
        {"id": "evt_3", "type": "a.x"},
    ]
    assert [e["id"] for e in arrange(held, None)] == ["evt_1", "evt_2", "evt_3"]
    assert [e["id"] for e in arrange(held, "reverse")] == ["evt_3", "evt_2", "evt_1"]
    assert [e["id"] for e in arrange(held, ["b.y"])] == ["evt_2", "evt_1", "evt_3"]
    assert [e["id"] for e in arrange(held, ["evt_3", "a.x"])] == ["evt_3", "evt_1", "evt_2"]
    with pytest.raises(StripeError):
        arrange(held, ["c.z"])


def test_html_escaping() -> None:
    assert e('<script>"x"</script>') == "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"


def test_cli_arguments() -> None:
    args = parse_args(["--port", "12345", "--webhook-url", "http://x/h", "--webhook-secret", "s"])
    assert (args.port, args.webhook_url, args.webhook_secret) == (12345, "http://x/h", "s")
    assert (args.retry_schedule, args.chaos_seed, args.delivery_concurrency) == ((), None, 1)
    args = parse_args(["--retry-schedule", "0.5,1,2", "--chaos-seed", "7"])
    assert (args.retry_schedule, args.chaos_seed) == ((0.5, 1.0, 2.0), 7)
    result = subprocess.run(
        [sys.executable, "-m", "stripe_local", "--webhook-url", "http://x/h"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 2
    assert "--webhook-url needs --webhook-secret" in result.stderr
