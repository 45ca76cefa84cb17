"""A second Python process that answers requests, one JSON line each way.

Some of what a build needs is a slow load of a library (jieba-rs' dictionary, pypinyin's),
each a tenth of a second or more that a one-core stretch of the build (setting up, before
the workers fork) would otherwise spend waiting while the second core is idle. A helper
starts that load in another process as soon as the build knows it may need it; the build
then asks it for answers (words, pinyin) instead of loading the library itself.

A helper belongs to the process that started it: a forked child gets no answers from it
(`ask` returns None there without touching the pipes, which the parent still uses), so
callers always fall back to computing in-process.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from typing import Any


class LineHelper:
    """`python -m module` (one of site_builder.accel.processes) reading a JSON request per
    line on stdin and writing a JSON answer per line on stdout."""

    def __init__(self, module: str) -> None:
        self.owner = os.getpid()
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )

    def ask(self, request: Any) -> Any | None:
        """The answer to `request`, or None when the helper cannot give one (it died, or
        this is a forked child of its owner)."""
        if os.getpid() != self.owner:
            return None
        stdin, stdout = self.process.stdin, self.process.stdout
        if stdin is None or stdout is None:  # (always set: both are pipes)
            return None
        try:
            stdin.write(json.dumps(request, ensure_ascii=False) + "\n")
            stdin.flush()
            return json.loads(stdout.readline())
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        """End it now: it keeps no state, and waiting for it to see the end of its input
        could take as long as a forked build worker keeps a copy of the pipe open."""
        if os.getpid() != self.owner:
            return
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
