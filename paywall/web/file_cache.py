"""Small built files kept in memory, so a hit costs one `stat` on the event loop.

Without it every request resolved its path (a `realpath` walk), stat'ed the file and read it
through `FileResponse` in worker threads: a thread hop or two per request, the largest part
of a public page's cost. A `CachedFile` holds the resolved file's identity (device, inode,
size, mtime), its validators and, when small enough, its bytes. A lookup stats the
*unresolved* name (following symlinks, as opening it would): the same identity means the
same file, already checked to lie inside its root, so its bytes are served as they are.
Anything else, a rebuild swapping `site/` or `private/` (new inodes), a file rewritten in
place (new mtime or size), a file gone, is a miss: the caller resolves and checks the path
again (off the loop) and stores the new entry. So a rebuild shows at once, with no
invalidation message.

The cache is per process and bounded (`max_file_bytes` per file, `max_total_bytes` in all,
least recently used dropped first). Larger files keep their metadata here and are streamed
by `FileResponse`. Only the event loop's thread touches the cache.
"""

from __future__ import annotations

import email.utils
import os
import stat
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_BYTES = 256 * 1024
"""Files up to this size are served from memory (the bench's pages are ~36 KB)."""
MAX_TOTAL_BYTES = 64 * 1024 * 1024
"""Memory for cached bytes per worker process; a 1,000-article site needs about 40 MB."""
MAX_ENTRIES = 50_000


Identity = tuple[int, int, int, int]


def identity_of(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class CachedFile:
    """A resolved, checked regular file: where it is, which file it was, and maybe its bytes."""

    path: Path
    identity: Identity
    mtime: float
    etag: str
    last_modified: str
    body: bytes | None
    """The whole file when it is small enough to keep; None: stream it from `path`."""

    @property
    def size(self) -> int:
        return self.identity[2]


def etag_for(st: os.stat_result) -> str:
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


def load(path: Path, max_file_bytes: int = MAX_FILE_BYTES) -> CachedFile | None:
    """Stat (and read, if small) an already resolved and checked file; None if it is not a
    regular file any more. Blocking: call it off the event loop."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        body = None
        if st.st_size <= max_file_bytes:
            with open(path, "rb") as handle:
                body = handle.read(max_file_bytes + 1)
                after = os.fstat(handle.fileno())
            if identity_of(after) != identity_of(st) or len(body) != st.st_size:
                return None  # rewritten while being read: let the next request try again
    except OSError:
        return None
    return CachedFile(
        path=path,
        identity=identity_of(st),
        mtime=st.st_mtime,
        etag=etag_for(st),
        last_modified=email.utils.formatdate(st.st_mtime, usegmt=True),
        body=body,
    )


class FileCache:
    """Entries by the unresolved file name a URL maps to (`site/a/b/index.html`)."""

    def __init__(
        self,
        *,
        max_file_bytes: int = MAX_FILE_BYTES,
        max_total_bytes: int = MAX_TOTAL_BYTES,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.max_entries = max_entries
        self._entries: OrderedDict[str, CachedFile] = OrderedDict()
        self._bytes = 0
        self.owner: object = None
        """What the entries were checked against (the lessons' cache: the manifest)."""

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def get(self, name: str) -> CachedFile | None:
        """The entry for `name` if the file there is still the one cached (one `stat`)."""
        entry = self._entries.get(name)
        if entry is None:
            return None
        try:
            st = os.stat(name)
        except OSError:
            self._drop(name)
            return None
        if identity_of(st) != entry.identity:
            self._drop(name)
            return None
        self._entries.move_to_end(name)
        return entry

    def put(self, name: str, entry: CachedFile) -> None:
        self._drop(name)
        size = len(entry.body) if entry.body is not None else 0
        if size > self.max_total_bytes:
            return
        self._entries[name] = entry
        self._bytes += size
        while self._bytes > self.max_total_bytes or len(self._entries) > self.max_entries:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def _drop(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is not None and entry.body is not None:
            self._bytes -= len(entry.body)
