"""Webhook delivery: signed like Stripe, retried, recorded, and controllable by tests.

Modes:
- `sync` (default): events caused by the hosted pages and the `/_local/` control API are
  delivered before that request answers, so a test that clicks Pay can assert right after.
  Events caused by `/v1` API calls go out just after the API response (the caller may be the
  very app that receives the webhook, and must not wait on itself).
- `async`: everything is delivered in the background.
- `hold`: events queue up until `flush()`, which can reorder them.

One worker task per server delivers batches in order, with `httpx.AsyncClient`, so delivery
never blocks the event loop and the receiver may call back into this server meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from stripe_local.errors import StripeError
from stripe_local.signing import signature_header
from stripe_local.store import Store

MODES = ("sync", "async", "hold")
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt. `status_code` is None when the connection itself failed."""

    event_id: str
    event_type: str
    url: str
    attempt: int
    status_code: int | None
    error: str | None
    at: float


Batch = tuple[list[dict[str, Any]], "asyncio.Future[None]"]


class Dispatcher:
    def __init__(
        self,
        store: Store,
        mode: str = "sync",
        *,
        max_attempts: int = 4,
        backoff: Sequence[float] = (0.05, 0.2, 0.5),
        timeout: float = 10.0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"delivery must be one of {', '.join(MODES)}, not {mode!r}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.store = store
        self.mode = mode
        self._resume_mode = mode if mode != "hold" else "sync"
        self.max_attempts = max_attempts
        self.backoff = tuple(backoff) or (0.0,)
        self.timeout = timeout
        self.records: list[Delivery] = []
        self.held: list[dict[str, Any]] = []
        self._queue: asyncio.Queue[Batch] | None = None
        self._worker: asyncio.Task[None] | None = None

    # -- modes -----------------------------------------------------------------------------

    def hold(self) -> None:
        """Queue events from now on instead of delivering them."""
        with self.store.lock:
            if self.mode != "hold":
                self._resume_mode = self.mode
            self.mode = "hold"

    def release(self) -> None:
        """Stop holding (held events stay queued until `flush`)."""
        with self.store.lock:
            self.mode = self._resume_mode

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"delivery must be one of {', '.join(MODES)}, not {mode!r}")
        if mode == "hold":
            self.hold()
        else:
            with self.store.lock:
                self.mode = self._resume_mode = mode

    # -- dispatching -----------------------------------------------------------------------

    async def dispatch(self, events: list[dict[str, Any]], *, wait: bool) -> None:
        """Deliver `events` per the mode; with `wait`, in sync mode, return once delivered."""
        if not events:
            return
        with self.store.lock:
            if self.mode == "hold":
                self.held.extend(events)
                return
            wait = wait and self.mode == "sync"
        done = self._enqueue(events)
        if wait:
            await done

    async def flush(
        self, order: Sequence[str] | str | None = None, release: bool = True
    ) -> list[str]:
        """Deliver the held events (FIFO, `"reverse"`, or event ids/types first in the given
        order) and wait for them; `release` ends holding. Returns the delivered event ids."""
        with self.store.lock:
            batch = arrange(self.held, order)
            self.held.clear()
            if release and self.mode == "hold":
                self.mode = self._resume_mode
        await self._enqueue(batch)
        return [event["id"] for event in batch]

    async def resend(self, event_id: str) -> None:
        """Deliver a stored event again, now, whatever the mode."""
        with self.store.lock:
            event = self.store.get("event", event_id, param="event", status=404)
        await self._enqueue([event])

    async def drain(self) -> None:
        """Wait until everything queued so far has been delivered."""
        await self._enqueue([])

    # -- the worker ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker in the running event loop (the server's)."""
        loop = asyncio.get_running_loop()
        if self._worker is not None and not self._worker.done() and self._worker.get_loop() is loop:
            return
        self._queue = asyncio.Queue()
        self._worker = loop.create_task(self._work(self._queue), name="stripe_local-webhooks")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    def _enqueue(self, events: list[dict[str, Any]]) -> asyncio.Future[None]:
        self.start()
        assert self._queue is not None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((events, done))
        return done

    async def _work(self, queue: asyncio.Queue[Batch]) -> None:
        async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as client:
            while True:
                events, done = await queue.get()
                try:
                    for event in events:
                        await self._deliver(client, event)
                except Exception as exc:  # keep the worker alive; report to the waiter
                    if not done.done():
                        done.set_exception(exc)
                finally:
                    if not done.done():
                        done.set_result(None)

    async def _deliver(self, client: httpx.AsyncClient, event: dict[str, Any]) -> None:
        with self.store.lock:
            targets = [
                (e["url"], self.store.secrets[e["id"]])
                for e in self.store.endpoints_for(event["type"])
            ]
            payload = json.dumps(copy.deepcopy(event), indent=2).encode("utf-8")
        for url, secret in targets:
            if await self._post_with_retries(client, event, url, secret, payload):
                with self.store.lock:
                    event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)

    async def _post_with_retries(
        self,
        client: httpx.AsyncClient,
        event: dict[str, Any],
        url: str,
        secret: str,
        payload: bytes,
    ) -> bool:
        for attempt in range(1, self.max_attempts + 1):
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "Accept": "*/*; q=0.5, application/xml",
                "Cache-Control": "no-cache",
                # Signed with real time: receivers compare it with their own clock.
                "Stripe-Signature": signature_header(payload, secret),
            }
            status, error = None, None
            try:
                response = await client.post(url, content=payload, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            with self.store.lock:
                self.records.append(
                    Delivery(event["id"], event["type"], url, attempt, status, error, time.time())
                )
            if status is not None and 200 <= status < 300:
                return True
            if attempt < self.max_attempts:
                await asyncio.sleep(self.backoff[min(attempt - 1, len(self.backoff) - 1)])
        return False


def arrange(held: list[dict[str, Any]], order: Sequence[str] | str | None) -> list[dict[str, Any]]:
    """Held events in delivery order: FIFO; `"reverse"`; or the named event ids / types
    first, in the order named, then the rest FIFO."""
    if order is None or order == "fifo":
        return list(held)
    if order == "reverse":
        return list(reversed(held))
    if isinstance(order, str):
        order = [order]
    picked: list[dict[str, Any]] = []
    taken: set[str] = set()
    for name in order:
        matches = [e for e in held if name in (e["id"], e["type"]) and e["id"] not in taken]
        if not matches:
            raise StripeError(f"No held event has the id or type {name!r}.", param="order")
        picked.extend(matches)
        taken.update(e["id"] for e in matches)
    return picked + [e for e in held if e["id"] not in taken]
