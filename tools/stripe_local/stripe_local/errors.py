"""Stripe's error shape, so the SDK raises the same exception classes it raises against Stripe.

The SDK maps status 400/404 to `InvalidRequestError`, 401 to `AuthenticationError`, 402 to
`CardError`; `param` and `code` become attributes the caller can inspect.
"""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An API error rendered as `{"error": {...}}` with an HTTP status."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int = 400,
        type: str = "invalid_request_error",
        decline_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status
        self.type = type
        self.decline_code = decline_code
        #: Events emitted before the error (set by `Store.run`); still delivered.
        self.events: list[dict[str, Any]] = []

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        return {"error": error}


def missing_param(param: str) -> StripeError:
    return StripeError(f"Missing required param: {param}.", param=param, code="parameter_missing")


def unknown_param(param: str) -> StripeError:
    return StripeError(
        f"Received unknown parameter: {param}", param=param, code="parameter_unknown"
    )


def invalid_param(param: str, message: str, code: str = "parameter_invalid") -> StripeError:
    return StripeError(message, param=param, code=code)


def only_one_of(*params: str) -> StripeError:
    return StripeError(
        f"You may only specify one of these parameters: {', '.join(params)}.", param=params[0]
    )


def no_such(kind: str, object_id: str, param: str | None = None, status: int = 400) -> StripeError:
    """`No such price: 'price_x'`: 404 when the id is in the URL, 400 when it is a parameter."""
    return StripeError(
        f"No such {kind}: '{object_id}'",
        param=param or kind.replace(" ", "_"),
        code="resource_missing",
        status=status,
    )
