"""All server state behind one lock: objects by type, private bookkeeping, the event log.

Operations run inside `Store.run`, which holds the lock and collects the events they emit;
the caller hands those to the webhook dispatcher *after* releasing the lock, so no network
I/O ever happens while state is locked.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from stripe_local.clock import Clock
from stripe_local.errors import StripeError, no_such
from stripe_local.ids import new_id

T = TypeVar("T")

#: How "No such …" messages name each object type.
LABELS = {
    "checkout.session": "checkout.session",
    "billing_portal.session": "billing portal session",
    "promotion_code": "promotion code",
    "webhook_endpoint": "webhook endpoint",
    "payment_intent": "payment_intent",
}


@dataclass(frozen=True)
class RequestInfo:
    """The API request an event came from (`event.request`); both None for automatic ones."""

    id: str | None = None
    idempotency_key: str | None = None


class Store:
    def __init__(self, api_version: str, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.api_version = api_version
        self._objects: dict[str, dict[str, dict[str, Any]]] = {}
        #: Per-object data that Stripe keeps but does not show (e.g. a session's coupon).
        self.private: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        #: Endpoint signing secrets, by endpoint id (never part of the endpoint object).
        self.secrets: dict[str, str] = {}
        self._outbox: list[dict[str, Any]] | None = None
        self._request = RequestInfo()
        #: While True every `/v1` request answers 503, as an unreachable Stripe would
        #: (`LocalStripe.pause_api`); the hosted pages, `/_local/` and webhooks keep working.
        self.api_paused = False
        #: `/v1` requests answered 503 because the API was paused.
        self.api_refused = 0

    def now(self) -> int:
        return self.clock.now()

    # -- objects ---------------------------------------------------------------------------

    def insert(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._objects.setdefault(obj["object"], {})[obj["id"]] = obj
        return obj

    def find(self, kind: str, object_id: str) -> dict[str, Any] | None:
        return self._objects.get(kind, {}).get(object_id)

    def get(
        self, kind: str, object_id: str, *, param: str | None = None, status: int = 400
    ) -> dict[str, Any]:
        """The object, or Stripe's `No such …` error naming `param`."""
        found = self.find(kind, object_id)
        if found is None:
            label = LABELS.get(kind, kind)
            raise no_such(label, object_id, param or kind.split(".")[-1], status)
        return found

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Objects of a type, oldest first."""
        return list(self._objects.get(kind, {}).values())

    def remove(self, kind: str, object_id: str) -> None:
        self._objects.get(kind, {}).pop(object_id, None)

    def private_of(self, object_id: str) -> dict[str, Any]:
        return self.private.setdefault(object_id, {})

    # -- events ----------------------------------------------------------------------------

    def endpoints_for(self, event_type: str) -> list[dict[str, Any]]:
        """Enabled webhook endpoints subscribed to `event_type`."""
        return [
            e
            for e in self.all("webhook_endpoint")
            if e["status"] == "enabled"
            and ("*" in e["enabled_events"] or event_type in e["enabled_events"])
        ]

    def emit(
        self,
        event_type: str,
        obj: dict[str, Any],
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record an event carrying a snapshot of `obj` (and what changed, for updates)."""
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        event = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": len(self.endpoints_for(event_type)),
            "request": {"id": self._request.id, "idempotency_key": self._request.idempotency_key},
            "type": event_type,
        }
        self.events.append(event)
        self.insert(event)
        if self._outbox is not None:
            self._outbox.append(event)
        return event

    def run(
        self, operation: Callable[..., T], *args: Any, request: RequestInfo | None = None
    ) -> tuple[T, list[dict[str, Any]]]:
        """Run `operation(self, *args)` under the lock; return its result and emitted events.
        A `StripeError` leaves with `.events`: those emitted before it was raised."""
        with self.lock:
            saved_outbox, saved_request = self._outbox, self._request
            self._outbox = []
            self._request = request or RequestInfo()
            try:
                result = operation(self, *args)
                return result, self._outbox
            except StripeError as error:
                # Whatever was created before the error stays, so its events still go out.
                error.events = self._outbox
                raise
            finally:
                self._outbox, self._request = saved_outbox, saved_request
