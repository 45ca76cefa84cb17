"""Run a uvicorn server in the foreground until Ctrl-C or SIGTERM, both ending cleanly
(`kp demo`, `kp serve --watch`: they have more to stop after the server)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import click


class StopRequested(Exception):
    """SIGTERM, turned into the same clean shutdown as Ctrl-C."""


def _raise_stop(signum: int, frame: Any) -> None:
    raise StopRequested


def run_in_foreground(server: Any, where: str, on_stop: Callable[[], None] | None = None) -> None:
    """`server.run()` (a uvicorn.Server) until it is stopped; `on_stop` runs afterwards in
    any case. A server that never started listening is an error naming `where`."""
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        server.run()  # re-raises the signal that stopped it once it has shut down
    except (KeyboardInterrupt, StopRequested):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if on_stop is not None:
            on_stop()
    if not server.started:
        raise click.ClickException(f"could not listen on {where}")
