"""Run one command and measure it: wall seconds and peak resident memory.

CPU seconds (user + system, the process and the children it waited for) are reported too:
on a machine shared with other work, wall time varies with the load and CPU time much less.

Peak memory is the larger of two readings: the kernel's own maximum resident set of the
process tree (`os.wait4` rusage: the biggest single process, exact) and, when psutil is
installed, the largest sum over the process and its children sampled every 50 ms of their
proportional set size (PSS: a page shared by forked workers counts once in total, not once
per worker, which summing RSS would do). Sampling is optional (`sample_memory`): reading a
process' PSS costs about 2 ms, a tenth of a core at this rate on a multi-process build, so
the harness times runs without it and samples one extra run for memory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

try:
    import psutil
except ImportError:  # optional: without it only the kernel's per-process maximum is read
    psutil = None

SAMPLE_SECONDS = 0.05


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float
    cpu_seconds: float
    """User + system CPU of the process tree: comparable even when the machine is busy."""
    returncode: int
    timed_out: bool
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


class _TreeSampler(threading.Thread):
    """Polls the summed PSS (else RSS) of a process and its descendants until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        if psutil is None:
            return
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                total = 0
                for proc in procs:
                    try:
                        total += _proportional(proc)
                    except psutil.Error:
                        continue
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            self.done.wait(SAMPLE_SECONDS)


def _proportional(proc: psutil.Process) -> int:
    """PSS where the system reports it (Linux), RSS elsewhere."""
    try:
        return int(proc.memory_full_info().pss)
    except (AttributeError, psutil.AccessDenied):
        return int(proc.memory_info().rss)


def run_measured(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 900.0,
    sample_memory: bool = True,
) -> Run:
    """Run `cmd` to completion (or kill its process group after `timeout` seconds); without
    `sample_memory`, peak memory is only the kernel's (the largest single process)."""
    log = cwd / ".bench-run.log"
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(part) for part in cmd],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        sampler = _TreeSampler(proc.pid)
        if sample_memory:
            sampler.start()
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            sampler.done.set()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if sample_memory:
            sampler.join()
    kernel_peak = usage.ru_maxrss * 1024  # Linux reports kilobytes
    output = log.read_text(encoding="utf-8", errors="replace")
    log.unlink()
    return Run(
        seconds=seconds,
        peak_rss_mb=max(kernel_peak, sampler.peak) / 1e6,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        returncode=proc.returncode,
        timed_out=timed_out.is_set(),
        output=output,
    )


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 15) -> None:
    """End a server the bench started in a process group of its own (`start_new_session`):
    SIGTERM to the group, SIGKILL after `grace` seconds; a group already gone is fine."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
