"""The paywall under test: the example site built once, `kp serve` in a process of its own
(so its memory is its own), pointed at the local Stripe server and the chosen database."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.measure import stop_process_group
from bench.site_builds import clean_env, kp_executable

REPO = Path(__file__).resolve().parents[2]
TIMESTAMP = re.compile(r"^ts=\S+\s*")
LOGGED = re.compile(r"\blevel=(WARNING|ERROR|CRITICAL)\b")
IDS = re.compile(r"\b(evt|req|cs_test|cs|pi|sub|ch|cus|in|dp|re)_[A-Za-z0-9]{8,}")


def prepare_project(dest: Path, base_url: str | None = None) -> Path:
    """A copy of the example project (content/, themes/, mkdocs.yml) in `dest`, built with
    `kp build` (site/, private/, private/manifest.json) for `base_url` (default: its
    mkdocs.yml's site_url)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("content", "themes"):
        shutil.copytree(REPO / name, dest / name, dirs_exist_ok=True)
    shutil.copy2(REPO / "mkdocs.yml", dest / "mkdocs.yml")
    return build_project(dest, base_url)


def built_for(project: Path, base_url: str) -> Path:
    """`project`, rebuilt unless it was built for `base_url`: `kp serve` refuses a site
    built for another public URL (a run's paywall gets a free port)."""
    from kp_contract.manifest import read_manifest
    from kp_contract.public_url import same_public_url

    manifest = read_manifest(project / "private" / "manifest.json")
    if same_public_url(manifest.site_url, base_url):
        return project
    return build_project(project, base_url)


def build_project(dest: Path, base_url: str | None) -> Path:
    """`kp build` in `dest`, for `base_url` when given."""
    env = clean_env()
    env["KP_PROJECT_DIR"] = str(dest)
    if base_url is not None:
        env["KP_BASE_URL"] = base_url
    result = subprocess.run(
        [kp_executable(), "build"],
        cwd=dest,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0 or not (dest / "private" / "manifest.json").is_file():
        raise RuntimeError(
            f"kp build of the example site failed ({result.returncode}):\n"
            f"{(result.stderr or result.stdout)[-3000:]}"
        )
    return dest


def read_status_kib(pid: int, field_name: str) -> int | None:
    """A `kB` line of /proc/<pid>/status (VmRSS, VmHWM), None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def read_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of the process so far (/proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class MemorySampler:
    """Samples the server's resident memory; `peak_kib` is the kernel's high-water mark
    (VmHWM) when readable, else the largest VmRSS seen."""

    pid: int
    interval: float = 0.5
    peak_rss_kib: int = 0
    hwm_kib: int = 0
    cpu_seconds: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, name="chaos-memory", daemon=True)
        self._thread.start()
        return self

    def sample(self) -> None:
        rss = read_status_kib(self.pid, "VmRSS")
        hwm = read_status_kib(self.pid, "VmHWM")
        if rss is not None:
            self.peak_rss_kib = max(self.peak_rss_kib, rss)
        if hwm is not None:
            self.hwm_kib = max(self.hwm_kib, hwm)
        cpu = read_cpu_seconds(self.pid)
        if cpu is not None:
            self.cpu_seconds = max(self.cpu_seconds, cpu)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def peak_kib(self) -> int:
        return max(self.hwm_kib, self.peak_rss_kib)


@dataclass
class PaywallServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    memory: MemorySampler

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` distinct warnings and errors of the log (timestamps and object
        ids aside), each with how often it came."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        counts: dict[str, int] = {}
        for line in text.splitlines():
            if not LOGGED.search(line):
                continue  # the development mailer's copies of e-mails, tracebacks' lines
            message = IDS.sub(r"\1_…", TIMESTAMP.sub("", line).strip())
            counts[message] = counts.pop(message, 0) + 1  # re-inserted: ordered by last seen
        shown = list(counts.items())[-lines:]
        return "\n".join(f"{n:>5}× {message}" for message, n in shown)


def paywall_env(
    *,
    project: Path,
    var_dir: Path,
    database_url: str,
    port: int,
    stripe_url: str,
    stripe_key: str,
    webhook_secret: str,
) -> dict[str, str]:
    env = clean_env()
    for unset in ("KP_SMTP_HOST", "STRIPE_SECRET_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET"):
        env.pop(unset, None)
    env.update(
        {
            "KP_PROJECT_DIR": str(project),
            "KP_VAR_DIR": str(var_dir),
            "KP_DATABASE_URL": database_url,
            "KP_SECRET_KEY": secrets.token_hex(32),
            "KP_BASE_URL": f"http://127.0.0.1:{port}",
            "KP_LOG_LEVEL": "WARNING",
            "STRIPE_SECRET_KEY": stripe_key,
            "STRIPE_API_BASE": stripe_url,
            "STRIPE_WEBHOOK_SECRET": webhook_secret,
        }
    )
    return env


@contextlib.contextmanager
def serve_paywall(
    env: dict[str, str], port: int, start_timeout: float = 60
) -> Iterator[PaywallServer]:
    """`kp serve --port <port>` (one process: uvicorn in it), until it answers /healthz."""
    url = f"http://127.0.0.1:{port}"
    log_path = Path(env["KP_VAR_DIR"]) / "kp-serve.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # Output to a file: a pipe nobody reads fills up (the outbox mailer prints every mail).
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [kp_executable(), "serve", "--port", str(port)],
            cwd=env["KP_PROJECT_DIR"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = PaywallServer(url, process, log_path, MemorySampler(process.pid))
        try:
            _wait_healthy(server, start_timeout)
            server.memory.start()
            yield server
        finally:
            server.memory.stop()
            _stop(process)


def _wait_healthy(server: PaywallServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=2) as http:
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"kp serve exited ({server.process.returncode}):\n{server.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if http.get(f"{server.url}/healthz").status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"kp serve did not answer {server.url}/healthz in {timeout}s")
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    stop_process_group(process)
