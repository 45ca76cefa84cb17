"""The paywall's runtime context: settings, database, clock, mailer, manifest and Stripe client.

One `Paywall` object is built per app (`request.app.state.paywall`) and per CLI command
(both through `paywall.app.make_paywall`), so
handlers get their dependencies from one place and tests can swap the clock or the mailer.
Nothing here is per-process state that another worker would need: the database is the truth.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import stripe
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kp_contract.manifest import Manifest, read_manifest
from kp_contract.settings import Settings
from paywall.database.access_generation import track_access_changes
from paywall.database.engine import MAX_CONNECTIONS, make_engine, make_sessionmaker
from paywall.runtime.db_threads import STRIPE_THREADS, DatabaseThreads, StripeBusy
from paywall.runtime.hooks import Hooks

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Mailer(Protocol):
    """Sends one e-mail (outbox files + console by default, SMTP when configured)."""

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None: ...


class StripeNotConfigured(RuntimeError):
    """No `STRIPE_SECRET_KEY`: checkout and the portal explain this instead of crashing."""


class LocalAccessChanges:
    """How many transactions that changed access this process has committed (through any
    of this `Paywall`'s sessions): caches here drop what they hold as soon as it moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    def committed(self) -> None:
        with self._lock:
            self._count += 1


class _ManifestCache:
    """Reload `private/manifest.json` when a new build swapped it in (mtime changed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._manifest: Manifest | None = None

    def get(self) -> Manifest | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_ino)
        with self._lock:
            if stamp != self._stamp:
                self._manifest = read_manifest(self.path)
                self._stamp = stamp
            return self._manifest


@dataclass
class Paywall:
    settings: Settings
    mailer: Mailer
    clock: Clock = utc_now
    hooks: Hooks = field(default_factory=Hooks)
    """What other parts attach to sign-in and fulfilment; `paywall.app.make_paywall` installs
    the growth engine's."""
    engine: Engine = field(init=False)
    sessions: sessionmaker[Session] = field(init=False)
    db_threads: DatabaseThreads = field(init=False)
    """The threads database work runs in (`paywall.runtime.db_threads.run_db`), apart from
    the ones serving files."""
    stripe_threads: DatabaseThreads = field(init=False)
    """The threads requests call Stripe's API in (`run_stripe`), apart from both."""
    _manifest: _ManifestCache = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings)
        self.sessions = make_sessionmaker(self.engine)
        self.access_changes = LocalAccessChanges()
        track_access_changes(self.sessions, self.access_changes.committed)
        self.db_threads = DatabaseThreads(MAX_CONNECTIONS, self.settings.db_busy_timeout)
        self.stripe_threads = DatabaseThreads(
            STRIPE_THREADS, self.settings.db_busy_timeout, busy_error=StripeBusy, what="Stripe"
        )
        self._manifest = _ManifestCache(self.settings.manifest_path)

    def now(self) -> dt.datetime:
        """Aware UTC time from the injectable clock (tests move it instead of sleeping)."""
        return self.clock()

    def manifest(self) -> Manifest | None:
        """The current build's manifest, or None when nothing has been built yet."""
        return self._manifest.get()

    @property
    def stripe_configured(self) -> bool:
        return self.settings.stripe_secret_key is not None

    def stripe(self) -> stripe.StripeClient:
        """The official SDK client; `STRIPE_API_BASE` points it at a local test server."""
        key = self.settings.stripe_secret_key
        if key is None:
            raise StripeNotConfigured("STRIPE_SECRET_KEY is not set")
        api_base = self.settings.stripe_api_base
        return stripe.StripeClient(
            key.get_secret_value(),
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=2,
        )
