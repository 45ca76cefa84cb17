"""Reading a request's form fields: a form post, or (where a route takes one) a JSON object.

Whatever comes in, the answer is either the fields as strings or `BadInput` naming what was
wrong (400, or 415 for a body type the route does not read), never an exception that would
answer 500: a body that is not UTF-8, not JSON, nested too deeply for the parser, a JSON
value that is not an object, a field that is not a string, too long, or holds a NUL, a
control character or text that is not Unicode (a lone surrogate, which no database stores).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from starlette.exceptions import HTTPException
from starlette.requests import Request

MAX_FIELD_CHARS = 4000
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
JSON_TYPE = "application/json"


class BadInput(ValueError):
    """A request the paywall cannot read; `str()` says what was wrong (user-safe)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def media_type(request: Request) -> str:
    """`application/json` of `application/json; charset=utf-8`, lower case."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def json_kind(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def parse_json(body: bytes) -> Any:
    """The decoded JSON document, or `BadInput` saying why it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise BadInput("JSON body is nested too deeply") from None
    except ValueError as exc:
        raise BadInput(f"body is not JSON ({exc})") from None


def check_text(value: str, what: str, max_chars: int = MAX_FIELD_CHARS) -> str:
    """`value` if it is text a page or the database can hold, else `BadInput` naming `what`
    (e.g. "field 'next'")."""
    if len(value) > max_chars:
        raise BadInput(f"{what} is longer than {max_chars} characters")
    if "\x00" in value:
        raise BadInput(f"{what} contains a NUL character")
    if any(ord(c) < 0x20 and c not in "\t\r\n" for c in value):
        raise BadInput(f"{what} contains a control character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{what} is not valid Unicode text") from None
    return value


def field_label(name: str) -> str:
    return f"field {name[:40]!r}"


async def read_fields(
    request: Request,
    *,
    accept_json: bool = False,
    other_types: Literal["refuse", "ignore"] = "refuse",
) -> dict[str, str]:
    """The fields of a form post (or, with `accept_json`, of a JSON object body) as strings.

    An empty body is no fields, whatever its type. Another body type is refused with 415
    (`other_types="ignore"`: read as no fields, for posts whose body is optional). In JSON,
    null is an absent field and anything else but a string is refused; file uploads in a
    multipart form are ignored."""
    body = await request.body()
    if not body:
        return {}
    kind = media_type(request)
    fields: dict[str, str] = {}
    if accept_json and (kind == JSON_TYPE or kind.endswith("+json")):
        document = parse_json(body)
        if not isinstance(document, dict):
            raise BadInput(f"JSON body must be an object, not {json_kind(document)}")
        for name, value in document.items():
            if value is None:
                continue
            if not isinstance(value, str):
                raise BadInput(f"{field_label(name)} must be a string, not {json_kind(value)}")
            fields[name] = value
    elif kind in FORM_TYPES:
        try:
            form = await request.form()
        except HTTPException as exc:  # Starlette's answer to a malformed multipart body
            raise BadInput(f"form body unreadable: {exc.detail}") from None
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
    elif other_types == "ignore":
        return {}
    else:
        wanted = " or ".join((*FORM_TYPES, JSON_TYPE) if accept_json else FORM_TYPES)
        raise BadInput(f"Content-Type {kind or '(none)'!r} is not read here: send {wanted}", 415)
    for name, value in fields.items():
        check_text(name, f"the name of {field_label(name)}", 200)
        check_text(value, field_label(name))
    return fields
