"""Parameter schemas: coerce decoded form values and reject bad input the way Stripe does.

Each endpoint declares an `Obj` of fields. Unknown keys are refused (`Received unknown
parameter: line_items[0][bogus]`), missing required ones named (`Missing required param:
mode.`), and strings become ints, booleans, lists and hashes. An empty string means "unset"
(Stripe's convention), which coerces to `None` (or `CLEAR` for metadata).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from stripe_local.errors import StripeError, invalid_param, missing_param, unknown_param

#: Returned for `metadata=` (empty): remove every key.
CLEAR = object()

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY_CODES = (
    "usd eur gbp cny jpy hkd sgd twd aud cad chf sek nok dkk pln czk inr krw brl mxn nzd myr thb"
    " php idr zar aed ils try huf ron bgn"
)
_CURRENCIES = frozenset(_CURRENCY_CODES.split())


class Field:
    """A parameter type; `coerce` returns the Python value or raises naming the parameter."""

    def coerce(self, value: Any, name: str) -> Any:
        raise NotImplementedError

    @staticmethod
    def scalar(value: Any, name: str, what: str) -> str:
        if not isinstance(value, str):
            raise invalid_param(name, f"Invalid {what}: {name} must be a single value, not a hash.")
        return value


class Str(Field):
    def __init__(self, max_length: int = 5000) -> None:
        self.max_length = max_length

    def coerce(self, value: Any, name: str) -> str | None:
        text = self.scalar(value, name, "string")
        if text == "":
            return None
        if len(text) > self.max_length:
            raise invalid_param(
                name, f"Invalid string: {name} is longer than {self.max_length} characters."
            )
        return text


class Int(Field):
    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def coerce(self, value: Any, name: str) -> int | None:
        text = self.scalar(value, name, "integer")
        if text == "":
            return None
        if not re.fullmatch(r"-?\d+", text):
            raise invalid_param(name, f"Invalid integer: {text}", "parameter_invalid_integer")
        number = int(text)
        if self.minimum is not None and number < self.minimum:
            raise invalid_param(
                name, f"This value must be greater than or equal to {self.minimum}.", "invalid"
            )
        if self.maximum is not None and number > self.maximum:
            raise invalid_param(
                name, f"This value must be less than or equal to {self.maximum}.", "invalid"
            )
        return number


class Decimal(Field):
    def __init__(self, minimum: float | None = None, maximum: float | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def coerce(self, value: Any, name: str) -> float | None:
        text = self.scalar(value, name, "decimal")
        if text == "":
            return None
        try:
            number = float(text)
        except ValueError:
            raise invalid_param(name, f"Invalid decimal: {text}") from None
        if (self.minimum is not None and number < self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            raise invalid_param(
                name, f"Invalid {name}: must be between {self.minimum} and {self.maximum}."
            )
        return number


class Bool(Field):
    def coerce(self, value: Any, name: str) -> bool | None:
        text = self.scalar(value, name, "boolean")
        if text == "":
            return None
        if text not in ("true", "false"):
            raise invalid_param(name, f"Invalid boolean: {text}")
        return text == "true"


class Enum(Field):
    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def coerce(self, value: Any, name: str) -> str | None:
        text = self.scalar(value, name, "string")
        if text == "":
            return None
        if text not in self.choices:
            raise invalid_param(
                name,
                f"Invalid {name}: must be one of {', '.join(self.choices)}",
            )
        return text


class Email(Str):
    def coerce(self, value: Any, name: str) -> str | None:
        text = super().coerce(value, name)
        if text is not None and not _EMAIL.match(text):
            raise invalid_param(name, f"Invalid email address: {text}", "email_invalid")
        return text


class Url(Str):
    def coerce(self, value: Any, name: str) -> str | None:
        text = super().coerce(value, name)
        if text is not None and not re.match(r"^https?://[^\s/]+", text):
            raise invalid_param(name, "Not a valid URL", "url_invalid")
        return text


class Currency(Field):
    def coerce(self, value: Any, name: str) -> str | None:
        text = self.scalar(value, name, "currency").lower()
        if text == "":
            return None
        if text not in _CURRENCIES:
            raise invalid_param(
                name,
                f"Invalid currency: {text}. Supported here: {', '.join(sorted(_CURRENCIES))}.",
            )
        return text


class Metadata(Field):
    """`metadata[key]=value`; an empty value removes the key, `metadata=` removes all."""

    def coerce(self, value: Any, name: str) -> Any:
        if value == "":
            return CLEAR
        if not isinstance(value, dict):
            raise invalid_param(name, f"Invalid hash: {name} must be a hash of key-value pairs.")
        if len(value) > 50:
            raise invalid_param(name, "Metadata can have at most 50 keys.")
        for key, item in value.items():
            where = f"{name}[{key}]"
            if not isinstance(item, str):
                raise invalid_param(
                    where, f"Invalid value for {where}: metadata values are strings."
                )
            if len(key) > 40:
                raise invalid_param(where, "Metadata keys can have up to 40 characters.")
            if len(item) > 500:
                raise invalid_param(where, "Metadata values can have up to 500 characters.")
        return dict(value)


class ListOf(Field):
    """An array, sent as `key[0]=…` (SDK v16) or `key[]=…`; a scalar means a one-item list."""

    def __init__(self, item: Field, max_items: int = 100) -> None:
        self.item = item
        self.max_items = max_items

    def coerce(self, value: Any, name: str) -> list[Any] | None:
        if value == "":
            return None
        if isinstance(value, str):
            entries: list[tuple[str, Any]] = [("0", value)]
        else:
            bad = [k for k in value if not k.isdigit()]
            if bad:
                raise invalid_param(f"{name}[{bad[0]}]", f"Invalid array: {name} must be a list.")
            entries = sorted(value.items(), key=lambda kv: int(kv[0]))
        if len(entries) > self.max_items:
            raise invalid_param(name, f"{name} can have at most {self.max_items} entries.")
        out = []
        for position, (_, item) in enumerate(entries):
            coerced = self.item.coerce(item, f"{name}[{position}]")
            if coerced is not None:
                out.append(coerced)
        return out


class Obj(Field):
    """A hash of named fields; `required` ones must be present and non-empty."""

    def __init__(self, fields: Mapping[str, Field], required: Iterable[str] = ()) -> None:
        self.fields = dict(fields)
        self.required = tuple(required)

    def coerce(self, value: Any, name: str) -> dict[str, Any] | None:
        if value == "":
            return None
        if not isinstance(value, dict):
            raise invalid_param(name, f"Invalid hash: {name} must be a hash of parameters.")
        return self.coerce_fields(value, prefix=name)

    def coerce_fields(self, value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, raw in value.items():
            where = f"{prefix}[{key}]" if prefix else key
            field = self.fields.get(key)
            if field is None:
                raise unknown_param(where)
            out[key] = field.coerce(raw, where)
        for key in self.required:
            if out.get(key) is None:
                raise missing_param(f"{prefix}[{key}]" if prefix else key)
        return out

    def extended(self, fields: Mapping[str, Field], required: Iterable[str] = ()) -> Obj:
        return Obj({**self.fields, **fields}, (*self.required, *required))


class CreatedFilter(Field):
    """`created=…` or `created[gte]=…` etc., as on every Stripe list endpoint."""

    def coerce(self, value: Any, name: str) -> dict[str, int] | None:
        if value == "":
            return None
        if isinstance(value, str):
            exact = Int().coerce(value, name)
            return {"gte": exact, "lte": exact} if exact is not None else None
        bounds = Obj({k: Int() for k in ("gt", "gte", "lt", "lte")}).coerce(value, name) or {}
        return {k: v for k, v in bounds.items() if v is not None}


#: Accepted on every endpoint.
EXPAND = ListOf(Str(), max_items=20)
LIST_FIELDS: dict[str, Field] = {
    "limit": Int(1, 100),
    "starting_after": Str(),
    "ending_before": Str(),
    "created": CreatedFilter(),
}


def list_params(fields: Mapping[str, Field] | None = None) -> Obj:
    """The schema of a list endpoint: pagination, `created`, plus its own filters."""
    return Obj({**LIST_FIELDS, **(fields or {})})


def merged_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    """Stripe's metadata update rule: set given keys, drop keys sent empty, `CLEAR` drops all."""
    if update is None:
        return dict(current)
    if update is CLEAR:
        return {}
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def require_email(value: str | None, name: str) -> str:
    if value is None:
        raise missing_param(name)
    if not _EMAIL.match(value):
        raise StripeError(f"Invalid email address: {value}", param=name, code="email_invalid")
    return value
