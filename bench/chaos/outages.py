"""Outages at random moments: the Stripe API paused, the database stopped and restarted.

One outage at a time, from a thread of its own: after a random gap (or at once when a buyer
asks for one, so some outages fall exactly on a payment or a renewal), a kind is drawn, it
lasts a random duration, and its window is recorded, so deliveries answered 5xx can be
matched with it.

Database outages: the private PostgreSQL cluster is stopped (`pg_ctl stop -m fast`, or
`immediate`, which is a crash) and started again. SQLite cannot be stopped; there the outage
holds its write lock (`BEGIN EXCLUSIVE`) so writers stall, which shows up as slow answers and
timed-out deliveries rather than 5xx.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from stripe_local.server import LocalStripe

from bench.chaos.postgres import PrivateCluster


@dataclass(frozen=True)
class Outage:
    kind: str  # "stripe" | "database"
    start: float  # time.time()
    end: float
    detail: str
    aligned: bool  # asked for by a buyer at that moment


class DatabaseSwitch(Protocol):
    detail: str

    def take_down(self, rng: random.Random) -> str: ...

    def bring_back(self) -> None: ...


@dataclass
class PostgresSwitch:
    cluster: PrivateCluster
    detail: str = "pg_ctl stop/start"

    def take_down(self, rng: random.Random) -> str:
        mode = rng.choice(("fast", "fast", "immediate"))
        self.cluster.stop(mode)
        return f"pg_ctl stop -m {mode}"

    def bring_back(self) -> None:
        for attempt in range(3):
            try:
                self.cluster.start()
                return
            except RuntimeError:
                if attempt == 2:
                    raise
                time.sleep(1)


@dataclass
class SqliteSwitch:
    path: str
    detail: str = "sqlite write lock"
    _conn: sqlite3.Connection | None = None

    def take_down(self, rng: random.Random) -> str:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        self._conn = conn
        return "BEGIN EXCLUSIVE (writers stall)"

    def bring_back(self) -> None:
        if self._conn is not None:
            self._conn.execute("ROLLBACK")
            self._conn.close()
            self._conn = None


@dataclass
class OutageInjector:
    stripe: LocalStripe
    database: DatabaseSwitch | None
    seed: int
    gap: tuple[float, float] = (2.0, 8.0)
    duration: tuple[float, float] = (1.0, 4.0)
    kinds: tuple[str, ...] = ("stripe", "database")
    log: Callable[[str], None] = lambda message: None
    outages: list[Outage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _rng: random.Random = field(init=False)
    _stop: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Event = field(default_factory=threading.Event)
    _asked: str | None = None
    _active: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        if self.database is None:
            self.kinds = tuple(kind for kind in self.kinds if kind != "database")

    def start(self) -> OutageInjector:
        self._thread = threading.Thread(target=self._run, name="chaos-outages", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the current outage (API resumed, database back) and stop injecting."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(120)

    def trigger(self, kind: str | None = None) -> bool:
        """Start an outage now (of `kind`, or a random one) unless one is under way."""
        with self._lock:
            if self._active or self._asked is not None or not self.kinds:
                return False
            if kind not in self.kinds:
                kind = None
            self._asked = kind or "any"
        self._wake.set()
        return True

    @property
    def active(self) -> bool:
        return self._active

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._rng.uniform(*self.gap))
            self._wake.clear()
            if self._stop.is_set() or not self.kinds:
                return
            with self._lock:
                asked, self._asked = self._asked, None
                self._active = True
            try:
                kind = asked if asked in self.kinds else self._next_kind()
                self._outage(kind, aligned=asked is not None)
            except Exception as exc:  # noqa: BLE001 - reported in the table, the run goes on
                self.errors.append(f"{type(exc).__name__}: {exc}")
                self.log(f"chaos: outage failed: {exc}")
            finally:
                with self._lock:
                    self._active = False

    def _next_kind(self) -> str:
        """Every kind once first (so even a short run sees each), then at random."""
        unseen = [kind for kind in self.kinds if all(o.kind != kind for o in self.outages)]
        return self._rng.choice(unseen or list(self.kinds))

    def _outage(self, kind: str, *, aligned: bool) -> None:
        length = self._rng.uniform(*self.duration)
        start = time.time()
        end: float | None = None
        if kind == "stripe":
            start = self.stripe.pause_api()  # the server's own moments, not the request's
            detail = "API paused"
            try:
                self._stop.wait(length)
            finally:
                end = self.stripe.resume_api()
        else:
            assert self.database is not None
            detail = self.database.take_down(self._rng)
            try:
                self._stop.wait(length)
            finally:
                self.database.bring_back()
        end = end or time.time()
        self.outages.append(Outage(kind, start, end, detail, aligned))
        self.log(f"chaos: {kind} outage {end - start:.1f}s ({detail})")

    def seconds(self, kind: str) -> float:
        return sum(o.end - o.start for o in self.outages if o.kind == kind)

    def during(self, at: float, grace: float) -> bool:
        """Whether `at` falls in an outage (or within `grace` seconds after one ended)."""
        return any(o.start <= at <= o.end + grace for o in self.outages)
