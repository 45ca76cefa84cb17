"""Stripe list objects and cursor pagination (`limit`, `starting_after`, `ending_before`)."""

from __future__ import annotations

from typing import Any

from stripe_local.errors import invalid_param


def list_object(url: str, data: list[dict[str, Any]], has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def embedded_list(url: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    """A list nested in another object (subscription items, invoice lines) with its count."""
    return {**list_object(url, data), "total_count": len(data)}


def paginate(
    url: str, newest_first: list[dict[str, Any]], params: dict[str, Any]
) -> dict[str, Any]:
    """One page of `newest_first` (already filtered) as Stripe pages it."""
    items = _created_filter(newest_first, params.get("created"))
    limit = params.get("limit") or 10
    ids = [item["id"] for item in items]
    after, before = params.get("starting_after"), params.get("ending_before")
    if after is not None:
        if after not in ids:
            raise invalid_param("starting_after", f"No such object: '{after}'", "resource_missing")
        rest = items[ids.index(after) + 1 :]
        return list_object(url, rest[:limit], len(rest) > limit)
    if before is not None:
        if before not in ids:
            raise invalid_param("ending_before", f"No such object: '{before}'", "resource_missing")
        newer = items[: ids.index(before)]
        return list_object(url, newer[-limit:], len(newer) > limit)
    return list_object(url, items[:limit], len(items) > limit)


def _created_filter(
    items: list[dict[str, Any]], bounds: dict[str, int] | None
) -> list[dict[str, Any]]:
    if not bounds:
        return items
    checks = {
        "gt": lambda c, b: c > b,
        "gte": lambda c, b: c >= b,
        "lt": lambda c, b: c < b,
        "lte": lambda c, b: c <= b,
    }
    return [
        item
        for item in items
        if all(checks[op](item["created"], bound) for op, bound in bounds.items())
    ]
