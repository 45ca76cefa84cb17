"""Helpers shared by the resource modules."""

from __future__ import annotations

from typing import Any

from stripe_local.errors import StripeError
from stripe_local.params import merged_metadata


def changes(obj: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """Apply `updates` to `obj`; return the previous values of what changed (for events)."""
    previous: dict[str, Any] = {}
    for key, value in updates.items():
        if obj.get(key) != value:
            previous[key] = obj.get(key)
            obj[key] = value
    return previous


def metadata_update(obj: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """`{"metadata": merged}` when the request sent metadata, else nothing."""
    if "metadata" not in params:
        return {}
    return {"metadata": merged_metadata(obj.get("metadata") or {}, params["metadata"])}


def present(params: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The subset of `keys` the request actually sent (an empty value means "set to null")."""
    return {key: params[key] for key in keys if key in params}


def require_state(condition: bool, message: str, param: str | None = None) -> None:
    if not condition:
        raise StripeError(message, param=param)
