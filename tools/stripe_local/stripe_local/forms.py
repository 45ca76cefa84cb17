"""Decode Stripe's form encoding: `a[b][0][c]=v`, `expand[]=x`, `expand[0]=x`.

The SDK (v16) sends arrays with explicit indexes and nested hashes in bracket notation; older
clients send `key[]=v`. Everything decodes into nested dicts of strings; arrays stay dicts
keyed by their index until a schema says the value is a list (metadata keys may be digits).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from stripe_local.errors import StripeError

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def split_key(key: str) -> list[str]:
    """`a[b][0]` → `["a", "b", "0"]`; an empty segment (`a[]`) stays `""` (append)."""
    match = _KEY.match(key)
    if not match:
        raise StripeError(f"Invalid parameter name: {key!r}", param=key)
    return [match.group(1), *_SEGMENT.findall(match.group(2))]


def decode(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Nested parameters from decoded form pairs, in the order they were sent."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = split_key(key)
        node = root
        for depth, part in enumerate(parts[:-1]):
            name = part if part != "" else str(len(node))
            child = node.get(name)
            if child is None or isinstance(child, str):
                if isinstance(child, str) and child != "":
                    where = _join(parts[: depth + 1])
                    raise StripeError(
                        f"Invalid parameter: {where} is both a value and a hash.", param=where
                    )
                child = {}
                node[name] = child
            node = child
        last = parts[-1] if parts[-1] != "" else str(len(node))
        if isinstance(node.get(last), dict):
            if value == "":
                continue
            where = _join(parts)
            raise StripeError(
                f"Invalid parameter: {where} is both a value and a hash.", param=where
            )
        node[last] = value
    return root


def decode_body(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StripeError("The request body is not valid UTF-8.") from exc
    return decode(parse_qsl(text, keep_blank_values=True))


def decode_query(query: str) -> dict[str, Any]:
    return decode(parse_qsl(query, keep_blank_values=True))


def _join(parts: list[str]) -> str:
    return parts[0] + "".join(f"[{p}]" for p in parts[1:])
