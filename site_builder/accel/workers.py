"""Worker processes for the build: forked, so they inherit the set-up pages need.

What a pool's workers work with is handed to them as one object (`fork_pool`'s `state`):
forked workers inherit it as it is, without pickling, which the objects a build sets up
(the mkdocs configuration, the theme's Jinja environment, the leak matcher) would not
survive. Each worker keeps it where the functions it runs find it (`state_of`).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
from collections.abc import Iterator
from multiprocessing.pool import Pool
from typing import TypeVar

T = TypeVar("T")

PARALLEL_MIN_PAGES = 24
"""Below this many pages to render (or link), a second process costs more than it saves."""

_state: object = None
"""The object the pool this process works for was given (set in each worker)."""


def state_of(kind: type[T]) -> T:
    """The state this worker was handed by `fork_pool`, which must be a `kind`."""
    if not isinstance(_state, kind):
        raise RuntimeError(f"not a worker of a pool handed a {kind.__name__}")
    return _state


def _start_worker(state: object) -> None:
    """Workers take SIGTERM and SIGINT as a new Python process does, whatever the process
    that forked them does with them: inside a server (`kp serve --watch`) the parent's
    SIGTERM handler only asks the server to stop, and `Pool.terminate()` would then wait
    for its workers forever. They collect garbage again (`collection_paused`): rendering
    makes and drops far more objects than setting up does."""
    global _state
    _state = state
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    gc.enable()


def fork_pool(jobs: int, state: object = None) -> Pool:
    """A pool of `jobs` forked worker processes, handed `state` (`state_of`). What the
    parent holds when it forks is frozen for the garbage collector (`gc.freeze`): the
    workers' full collections skip the inherited objects (a tenth of a second each on a
    large site) instead of walking them, which would also copy every page of the parent's
    heap they touch."""
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        return context.Pool(jobs, initializer=_start_worker, initargs=(state,))
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
