"""The leak check's search of the site's files, on every core (`kp build`'s leak check is
given `in_workers(jobs)` as its `search`; site_builder.leaks.search_files is the plain one)."""

from __future__ import annotations

from site_builder import leaks
from site_builder.accel.workers import fork_pool, state_of

MIN_FILES = 64
"""Below this many files, forking costs more than it saves."""


def _search_chunk(files: list[tuple[str, str]]) -> list[leaks.Leak]:
    """Worker: search (relative name, path) pairs with the matcher the pool was handed."""
    return leaks.search_files(state_of(leaks.Matcher), files)


def in_workers(jobs: int) -> leaks.FileSearch:
    """A `search` for `leaks.find_leaks` that searches in `jobs` forked processes."""

    def search(matcher: leaks.Matcher, files: list[tuple[str, str]]) -> list[leaks.Leak]:
        if jobs <= 1 or len(files) < MIN_FILES:
            return leaks.search_files(matcher, files)
        # Interleaved chunks: big files (the search index) do not all land on one worker.
        chunks = [files[n :: jobs * 4] for n in range(jobs * 4)]
        with fork_pool(jobs, matcher) as pool:
            results = pool.map(_search_chunk, chunks)
        return [leak for chunk in results for leak in chunk]

    return search
