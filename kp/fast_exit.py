"""Ending the `kp` process without tearing the interpreter down, for commands that ask.

When a command is done, Python would still free every object it made one by one, run the
modules' teardown and collect garbage: after `kp build` of a large site that is a tenth of
a second of nothing, about as long as the incremental build's own rendering. A command
whose work is complete — files written and closed, pools and connections shut — calls
`request()`; the console script (`kp.cli.run`) then flushes the standard streams and ends
the process with the command's exit code. In-process callers (tests, `main()` called
directly) are unaffected: only `run` exits early.
"""

from __future__ import annotations

import contextlib
import os
import sys

_requested = False


def request() -> None:
    """The current command leaves nothing that needs the interpreter's teardown."""
    global _requested
    _requested = True


def exit_if_requested(code: object) -> None:
    """End the process now with `code` (a SystemExit code) if the command asked for it."""
    if not _requested:
        return
    status = 0 if code is None else code if isinstance(code, int) else 1
    if not isinstance(code, int | None):
        print(code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or broken: nothing to add
            stream.flush()
    os._exit(status)
