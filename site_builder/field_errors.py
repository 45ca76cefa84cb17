"""Front-matter validation errors as editors read them: which key, what was wrong, the value
that was given, and what would be right (a misspelt key's likely meaning, a quoted number).

And the valid rest of a page whose front matter has errors (`valid_part`), so the checks
beyond the model (a course's Stripe reference, its tier, the CTA) still run and every error
is reported in one build instead of one after the other.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from site_builder.errors import ContentError, shown

_FIXED = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}
_PATTERNS = {
    "slug": "use lower-case letters, digits and hyphens, like first-steps",
    "currency": "expected a three-letter currency code like usd or eur",
}
"""Messages for keys whose pattern says nothing to an editor."""

CURRENCY_PATTERN = r"^[a-zA-Z]{3}$"

M = TypeVar("M", bound=BaseModel)


def field_errors(
    label: str,
    exc: ValidationError,
    *,
    keys: Collection[str] = (),
    what: str = "",
    prefix: str = "",
) -> list[ContentError]:
    """One `ContentError` per problem pydantic found. `keys` are the model's own (an unknown
    key is compared with them), `what` names the kind of page ('an article'), `prefix` goes
    before every key (`extra.`)."""
    errors = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or None
        message = _message(err, keys, what)
        errors.append(
            ContentError(label, f"{prefix}{key}" if key else prefix.rstrip(".") or None, message)
        )
    return errors


def _message(err: Any, keys: Collection[str], what: str) -> str:
    kind: str = err["type"]
    if kind == "extra_forbidden":
        return _unknown_key(str(err["loc"][-1]), keys, what)
    if kind in _FIXED:
        return _FIXED[kind]
    value = err.get("input")
    field = str(err["loc"][-1]) if err["loc"] else ""
    if kind.startswith(("date_", "datetime_")) or (field == "date" and kind == "value_error"):
        return f"expected a date like 2026-05-01, got {shown(value)}"
    pattern = (err.get("ctx") or {}).get("pattern")
    if kind == "string_pattern_mismatch" and field in _PATTERNS:
        message = _PATTERNS[field]
    elif kind == "string_pattern_mismatch" and pattern == CURRENCY_PATTERN:
        message = _PATTERNS["currency"]  # a currency as a mapping's key or value
    else:
        message = str(err["msg"]).removeprefix("Value error, ")
    if kind == "bool_type":
        message += " (true or false, without quotes)"
    if kind == "value_error" and isinstance(value, dict):
        return message  # a rule across a mapping's keys: the message names them
    message = f"{message}, got {shown(value)}"
    if kind == "string_type" and isinstance(value, int | float) and field:
        message += f' (to use it as text, quote it: {field}: "{shown(value)}")'
    return message


def _unknown_key(key: str, keys: Collection[str], what: str) -> str:
    if not keys:
        return "unknown key"
    close = difflib.get_close_matches(key, list(keys), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    owner = f"{what}'s" if what else "the"
    return f"unknown key{hint} ({owner} keys: {', '.join(keys)})"


def invalid_keys(exc: ValidationError) -> frozenset[str]:
    """The top-level keys pydantic rejected or found missing."""
    return frozenset(str(err["loc"][0]) for err in exc.errors() if err["loc"])


def valid_part(model: type[M], data: dict[str, Any], bad: Collection[str]) -> M:
    """The model from the keys that passed (unvalidated: read only keys not in `bad`; a
    missing required key is in `bad` and has no attribute at all)."""
    fields = model.model_fields
    return model.model_construct(**{k: v for k, v in data.items() if k in fields and k not in bad})
