"""Worker processes for the build: forked, so they inherit the set-up pages need."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
from collections.abc import Iterator
from multiprocessing.pool import Pool


def _start_worker() -> None:
    """Workers take SIGTERM and SIGINT as a new Python process does, whatever the process
    that forked them does with them: inside a server (`kp serve --watch`) the parent's
    SIGTERM handler only asks the server to stop, and `Pool.terminate()` would then wait
    for its workers forever. They collect garbage again (`collection_paused`): rendering
    makes and drops far more objects than setting up does."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    gc.enable()


def fork_pool(jobs: int) -> Pool:
    """A pool of `jobs` forked worker processes. What the parent holds when it forks is
    frozen for the garbage collector (`gc.freeze`): the workers' full collections skip the
    inherited objects (a tenth of a second each on a large site) instead of walking them,
    which would also copy every page of the parent's heap they touch."""
    gc.freeze()
    try:
        return multiprocessing.get_context("fork").Pool(jobs, initializer=_start_worker)
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """No automatic garbage collection in this process while a build sets up and merges
    its workers' results: it makes long-lived objects (the content index, pages,
    navigation, search entries), whose repeated full collections were a fifth of a second
    of a 1,000-page build's serial time, and little cyclic garbage. Collection resumes
    afterwards (in a long-lived process, `kp serve --watch`, it then reclaims what the build
    dropped). Also a decorator (`@collection_paused()`), as every `contextmanager` is."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
