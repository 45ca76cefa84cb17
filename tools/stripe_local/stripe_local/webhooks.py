"""Webhook delivery: signed like Stripe, retried, recorded, and controllable by tests.

Modes:
- `sync` (default): events caused by the hosted pages and the `/_local/` control API are
  delivered before that request answers, so a test that clicks Pay can assert right after.
  Events caused by `/v1` API calls go out just after the API response (the caller may be the
  very app that receives the webhook, and must not wait on itself).
- `async`: everything is delivered in the background.
- `hold`: events queue up until `flush()`, which can reorder them.

Retries, as Stripe retries. A delivery (one event to one endpoint) is tried `max_attempts`
times in a row, `backoff` seconds apart (the quick retries). If none was answered 2xx, it is
delivered again later, after each of `retry_schedule`'s delays in turn (e.g.
`backoff_schedule(0.1, 2, 8)` = 0.1, 0.2, 0.4 … s: Stripe's three days of exponential backoff,
compressed); with `retry_cap`, never later than that many seconds after its first attempt. A
delivery with no retry left is given up (`given_up`). `settled()` is true once every delivery
was answered 2xx or given up and nothing is queued, held, in flight or scheduled.

Chaos (`Chaos`): Stripe delivers at least once, in no guaranteed order. With a `Chaos`, each
delivery is sent 1–5 times (`copies` weighs each count), every extra copy either at the same
moment as the first (concurrently) or up to `late_within` seconds later, and events overtake
each other within a window of `window` consecutive events. One `random.Random(seed)` makes
every choice, so the same events in the same order get the same plan.

Concurrency: with `concurrency` 1 and no chaos, one worker task delivers in order, one request
at a time (the ordering tests rely on it). Otherwise up to `concurrency` deliveries are in
flight at once. Delivery uses `httpx.AsyncClient`, so it never blocks the event loop and the
receiver may call back into this server meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import random
import time
from collections import deque
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import httpx

from stripe_local.errors import StripeError
from stripe_local.signing import signature_header
from stripe_local.store import Store

MODES = ("sync", "async", "hold")
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt. `status_code` is None when the connection itself failed;
    `duplicate` marks an extra copy sent by `Chaos`; `at` is when the answer (or the error)
    came back."""

    event_id: str
    event_type: str
    url: str
    attempt: int
    status_code: int | None
    error: str | None
    at: float
    duplicate: bool = False


@dataclass(frozen=True)
class GiveUp:
    """A delivery abandoned after its last retry, never answered 2xx."""

    event_id: str
    event_type: str
    url: str
    attempts: int
    at: float


@dataclass(frozen=True)
class DeliveryStats:
    """Counts over the dispatcher's life (`LocalStripe.delivery_stats()`)."""

    events: int  # events handed to delivery (a resend counts again)
    deliveries: int  # (event, endpoint) pairs: what must eventually be answered 2xx
    delivered: int
    given_up: int
    pending: int  # neither delivered nor given up yet
    attempts: int  # HTTP requests made, duplicates included
    duplicates: int  # extra copies sent by `Chaos`
    failed_attempts: int  # answered non-2xx, or no answer at all
    settled: bool


def backoff_schedule(first: float, factor: float = 2.0, count: int = 8) -> tuple[float, ...]:
    """`count` delays growing by `factor` from `first`: Stripe's exponential redelivery,
    compressed into seconds (`backoff_schedule(0.1, 2, 4)` = 0.1, 0.2, 0.4, 0.8)."""
    if first < 0 or factor < 1 or count < 0:
        raise ValueError("backoff_schedule needs first >= 0, factor >= 1, count >= 0")
    return tuple(first * factor**n for n in range(count))


@dataclass(frozen=True)
class Chaos:
    """How unruly delivery is: duplicates (×1–5), concurrency, reordering. See the module."""

    seed: int = 0
    #: Weights of sending 1, 2, 3 … copies of each delivery.
    copies: tuple[float, ...] = (0.5, 0.2, 0.15, 0.1, 0.05)
    #: Share of the extra copies sent at the same moment as the first (the others come late).
    concurrent: float = 0.5
    #: Late copies go out up to this many seconds after the first.
    late_within: float = 1.0
    #: An event may be delivered after up to `window - 1` events that came after it.
    window: int = 8
    #: Seconds a partly filled window waits for more events before it is delivered.
    linger: float = 0.05

    def __post_init__(self) -> None:
        weights = tuple(float(w) for w in self.copies)
        if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError("chaos copies: non-negative weights of 1, 2 … copies, not all 0")
        if not 0 <= self.concurrent <= 1:
            raise ValueError("chaos concurrent: a share between 0 and 1")
        if self.late_within < 0 or self.linger < 0:
            raise ValueError("chaos late_within and linger: seconds, not negative")
        if self.window < 1:
            raise ValueError("chaos window: at least 1 event")
        object.__setattr__(self, "copies", weights)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Chaos:
        """A `Chaos` from JSON-ish settings (the `/_local/chaos` control, the command line)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown chaos setting(s): {', '.join(unknown)}")
        values: dict[str, Any] = dict(data)
        try:
            if "copies" in values:
                values["copies"] = tuple(float(w) for w in values["copies"])
            for name in ("seed", "window"):
                if name in values:
                    values[name] = int(values[name])
            for name in ("concurrent", "late_within", "linger"):
                if name in values:
                    values[name] = float(values[name])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"chaos settings: {exc}") from None
        return cls(**values)

    def plan(self, rng: random.Random) -> tuple[int, list[float]]:
        """How many extra copies go out with the first, and the delays of the late ones."""
        count = rng.choices(range(1, len(self.copies) + 1), weights=self.copies)[0]
        together, late = 0, []
        for _ in range(count - 1):
            if rng.random() < self.concurrent:
                together += 1
            else:
                late.append(rng.uniform(0, self.late_within))
        return together, late


@dataclass(eq=False)
class _Target:
    """One event to one endpoint, until it is answered 2xx or given up."""

    event: dict[str, Any]
    url: str
    secret: str
    payload: bytes
    attempts: int = 0
    rounds: int = 0
    first_at: float | None = None
    state: str = "open"  # open | delivered | given_up


@dataclass(eq=False)
class _Batch:
    """The events of one `dispatch`: its future resolves once each had its first round."""

    done: asyncio.Future[None]
    waiting: int = 0

    def finish_one(self) -> None:
        self.waiting -= 1
        self.check()

    def check(self) -> None:
        if self.waiting <= 0 and not self.done.done():
            self.done.set_result(None)


QueueItem = tuple[list[dict[str, Any]], "asyncio.Future[None]"] | _Target


@dataclass
class _Counters:
    events: int = 0
    deliveries: int = 0
    delivered: int = 0
    attempts: int = 0
    duplicates: int = 0
    failed_attempts: int = 0


class Dispatcher:
    def __init__(
        self,
        store: Store,
        mode: str = "sync",
        *,
        max_attempts: int = 4,
        backoff: Sequence[float] = (0.05, 0.2, 0.5),
        timeout: float = 10.0,
        retry_schedule: Sequence[float] = (),
        retry_cap: float | None = None,
        concurrency: int = 1,
        chaos: Chaos | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"delivery must be one of {', '.join(MODES)}, not {mode!r}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if any(delay < 0 for delay in retry_schedule):
            raise ValueError("retry_schedule: delays in seconds, not negative")
        self.store = store
        self.mode = mode
        self._resume_mode = mode if mode != "hold" else "sync"
        self.max_attempts = max_attempts
        self.backoff = tuple(backoff) or (0.0,)
        self.timeout = timeout
        self.retry_schedule = tuple(float(delay) for delay in retry_schedule)
        self.retry_cap = retry_cap
        self.concurrency = concurrency
        self.chaos = chaos
        self._rng = random.Random(chaos.seed if chaos else 0)
        self.records: list[Delivery] = []
        self.given_up: list[GiveUp] = []
        self.held: list[dict[str, Any]] = []
        self._counts = _Counters()
        self._queue: asyncio.Queue[QueueItem] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._client: httpx.AsyncClient | None = None
        self._intake: deque[tuple[_Target, _Batch | None]] = deque()
        self._buffer: list[tuple[_Target, _Batch | None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._open_batches: set[asyncio.Future[None]] = set()
        self._open_targets = 0
        self._busy = False

    # -- modes and settings ----------------------------------------------------------------

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

    def set_chaos(self, chaos: Chaos | None) -> None:
        """Deliver with `chaos` from now on (None: one copy each, in order)."""
        with self.store.lock:
            self.chaos = chaos
            self._rng = random.Random(chaos.seed if chaos else 0)

    @property
    def _ordered(self) -> bool:
        return self.concurrency == 1 and self.chaos is None

    # -- dispatching -----------------------------------------------------------------------

    async def dispatch(self, events: list[dict[str, Any]], *, wait: bool) -> None:
        """Deliver `events` per the mode; with `wait`, in sync mode, return once each had its
        first round of delivery (later retries are not waited for)."""
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
        """Wait until everything queued so far has had its first round of delivery."""
        self.start()
        pending = list(self._open_batches)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def settled(self) -> bool:
        """Nothing left to do: every delivery answered 2xx or given up; nothing queued,
        held, in flight or scheduled for a retry."""
        with self.store.lock:
            if self.held:
                return False
        return (
            self._open_targets == 0
            and not self._open_batches
            and not self._tasks
            and not self._intake
            and not self._buffer
            and not self._busy
            and (self._queue is None or self._queue.empty())
        )

    async def wait_settled(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for `settled()`; whether it was reached."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.settled():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def stats(self) -> DeliveryStats:
        counts = self._counts
        with self.store.lock:
            given_up = len(self.given_up)
        return DeliveryStats(
            events=counts.events,
            deliveries=counts.deliveries,
            delivered=counts.delivered,
            given_up=given_up,
            pending=self._open_targets,
            attempts=counts.attempts,
            duplicates=counts.duplicates,
            failed_attempts=counts.failed_attempts,
            settled=self.settled(),
        )

    # -- the worker ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker in the running event loop (the server's)."""
        loop = asyncio.get_running_loop()
        if self._worker is not None and not self._worker.done() and self._worker.get_loop() is loop:
            return
        self._queue = asyncio.Queue()
        self._slots = asyncio.Semaphore(self.concurrency)
        self._intake = deque()
        self._buffer = []
        self._tasks = set()
        self._open_batches = set()
        self._worker = loop.create_task(self._work(self._queue), name="stripe_local-webhooks")

    async def stop(self) -> None:
        tasks = list(self._tasks)
        if self._worker is not None:
            tasks.append(self._worker)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._worker = None
        self._tasks.clear()

    def _enqueue(self, events: list[dict[str, Any]]) -> asyncio.Future[None]:
        self.start()
        assert self._queue is not None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._open_batches.add(done)
        done.add_done_callback(self._open_batches.discard)
        self._counts.events += len(events)
        self._queue.put_nowait((events, done))
        return done

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, queue: asyncio.Queue[QueueItem]) -> None:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        client = httpx.AsyncClient(timeout=self.timeout, trust_env=False, limits=limits)
        async with client:
            self._client = client
            while True:
                item: QueueItem | None
                if self._buffer or self._intake:
                    if queue.empty():
                        await asyncio.sleep(self.chaos.linger if self.chaos else 0)
                    item = None if queue.empty() else queue.get_nowait()
                else:
                    item = await queue.get()
                if item is not None:
                    self._accept(item)
                while self._intake or self._buffer:
                    window = self.chaos.window if self.chaos else 1
                    while self._intake and len(self._buffer) < window:
                        self._buffer.append(self._intake.popleft())
                    if len(self._buffer) < window and item is not None:
                        break  # a partly filled window waits (`linger`) for more events
                    pick = self._rng.randrange(len(self._buffer)) if self.chaos else 0
                    target, batch = self._buffer.pop(pick)
                    if self._ordered:
                        self._busy = True
                        try:
                            await self._round(target, batch)
                        finally:
                            self._busy = False
                    else:
                        assert self._slots is not None
                        self._busy = True
                        try:
                            await self._slots.acquire()  # wait for a free slot: backpressure
                        finally:
                            self._busy = False
                        self._spawn(self._round(target, batch, slot_held=True))

    def _accept(self, item: QueueItem) -> None:
        """Turn a queued batch into deliveries (or take back a retry), in line for the
        window they are shuffled in."""
        if isinstance(item, _Target):
            self._intake.append((item, None))
            return
        events, done = item
        batch = _Batch(done)
        for event in events:
            with self.store.lock:
                endpoints = [
                    (e["url"], self.store.secrets[e["id"]])
                    for e in self.store.endpoints_for(event["type"])
                ]
                payload = json.dumps(copy.deepcopy(event), indent=2).encode("utf-8")
            for url, secret in endpoints:
                self._open_targets += 1
                self._counts.deliveries += 1
                batch.waiting += 1
                self._intake.append((_Target(event, url, secret, payload), batch))
        batch.check()

    async def _round(
        self, target: _Target, batch: _Batch | None, *, slot_held: bool = False
    ) -> None:
        """One round of delivery: the first copy (with its quick retries) and the copies sent
        with it; then done, or a retry scheduled, or given up."""
        try:
            together, late = 0, list[float]()
            if batch is not None and self.chaos is not None:
                together, late = self.chaos.plan(self._rng)
            for delay in late:
                self._spawn(self._late_copy(target, delay))
            sends = [self._send(target, duplicate=False)]
            sends += [self._send(target, duplicate=True) for _ in range(together)]
            answered = await asyncio.gather(*sends)
        finally:
            if slot_held:
                assert self._slots is not None
                self._slots.release()
        target.rounds += 1
        if any(answered):
            self._delivered(target)
        else:
            self._after_failed_round(target)
        if batch is not None:
            batch.finish_one()

    async def _late_copy(self, target: _Target, delay: float) -> None:
        """A duplicate that arrives after the first copy (and maybe after later events)."""
        await asyncio.sleep(delay)
        assert self._slots is not None
        async with self._slots:
            await self._send(target, duplicate=True)

    async def _retry_later(self, target: _Target, delay: float) -> None:
        await asyncio.sleep(delay)
        assert self._queue is not None
        self._queue.put_nowait(target)

    def _delivered(self, target: _Target) -> None:
        if target.state != "open":
            return
        target.state = "delivered"
        self._open_targets -= 1
        self._counts.delivered += 1
        with self.store.lock:
            target.event["pending_webhooks"] = max(0, target.event["pending_webhooks"] - 1)

    def _after_failed_round(self, target: _Target) -> None:
        index = target.rounds - 1
        delay = self.retry_schedule[index] if index < len(self.retry_schedule) else None
        if (
            delay is not None
            and self.retry_cap is not None
            and target.first_at is not None
            and time.monotonic() + delay - target.first_at > self.retry_cap
        ):
            delay = None
        if delay is not None:
            self._spawn(self._retry_later(target, delay))
            return
        target.state = "given_up"
        self._open_targets -= 1
        with self.store.lock:
            self.given_up.append(
                GiveUp(
                    target.event["id"],
                    target.event["type"],
                    target.url,
                    target.attempts,
                    time.time(),
                )
            )

    async def _send(self, target: _Target, *, duplicate: bool) -> bool:
        """POST the event (the first copy with its quick retries); whether it got a 2xx."""
        assert self._client is not None
        tries = 1 if duplicate else self.max_attempts
        for attempt in range(1, tries + 1):
            target.attempts += 1
            if target.first_at is None:
                target.first_at = time.monotonic()
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "Accept": "*/*; q=0.5, application/xml",
                "Cache-Control": "no-cache",
                # Signed with real time: receivers compare it with their own clock.
                "Stripe-Signature": signature_header(target.payload, target.secret),
            }
            status, error = None, None
            try:
                response = await self._client.post(
                    target.url, content=target.payload, headers=headers
                )
                status = response.status_code
            except Exception as exc:  # noqa: BLE001 - any failure is a failed attempt
                error = f"{type(exc).__name__}: {exc}"
            ok = status is not None and 200 <= status < 300
            self._counts.attempts += 1
            self._counts.duplicates += duplicate
            self._counts.failed_attempts += not ok
            with self.store.lock:
                self.records.append(
                    Delivery(
                        target.event["id"],
                        target.event["type"],
                        target.url,
                        target.attempts,
                        status,
                        error,
                        time.time(),
                        duplicate,
                    )
                )
            if ok:
                return True
            if attempt < tries:
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
