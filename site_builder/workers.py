"""Worker processes for the build: forked, so they inherit the set-up pages need."""

from __future__ import annotations

import multiprocessing
import signal
from multiprocessing.pool import Pool


def _default_signals() -> None:
    """Workers take SIGTERM and SIGINT as a new Python process does, whatever the process
    that forked them does with them: inside a server (`kp serve --watch`) the parent's
    SIGTERM handler only asks the server to stop, and `Pool.terminate()` would then wait
    for its workers forever."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def fork_pool(jobs: int) -> Pool:
    """A pool of `jobs` forked worker processes."""
    return multiprocessing.get_context("fork").Pool(jobs, initializer=_default_signals)
