"""The `kp-serve-watch` row: `kp serve --watch` on the corpus, from writing one article to
the served page showing the edit, as a writer sees it (the watcher's polling and settling,
the warm rebuild, the swap). The moment a build lands is taken from the live-reload
endpoint an open page waits on; the page is then fetched and must hold the edit.
CPU and memory are the server process' own (psutil), when psutil is installed.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx

from bench.corpus import Corpus
from bench.measure import Run, psutil
from bench.site_builds import IncrementalEdits, Measurement, clean_env, kp_executable

HOST = "127.0.0.1"


def measure_serve_watch(
    corpus: Corpus, repeat: int, timeout: float, measurement: Measurement
) -> None:
    """`repeat` edits of one article while `kp serve --watch` runs; one Run per edit."""
    from stripe_local.asgi_thread import free_port

    port = free_port()
    base = f"http://{HOST}:{port}"
    log = corpus.root / "serve-watch.log"
    env = clean_env() | {"KP_VAR_DIR": str(corpus.root / "var-serve-watch")}
    env["KP_LOG_LEVEL"] = "WARNING"
    cmd = [kp_executable(), "serve", "--watch", "--port", str(port)]
    edits = IncrementalEdits(corpus)
    deadline = time.monotonic() + timeout
    with log.open("w", encoding="utf-8") as out:
        server = subprocess.Popen(cmd, cwd=corpus.root, env=env, stdout=out, stderr=out)
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                _wait_until_serving(client, server, deadline)
                url = _article_url(corpus.root / "site", edits.path)
                for _ in range(repeat):
                    measurement.runs.append(_one_edit(client, server, edits, url, deadline))
        except (TimeoutError, RuntimeError, httpx.HTTPError) as exc:
            measurement.skipped = f"kp serve --watch: {exc}"
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            edits.restore()
    if measurement.skipped:
        tail = log.read_text(encoding="utf-8").strip().splitlines()[-3:]
        measurement.skipped += " | " + " | ".join(tail)


def _wait_until_serving(client: httpx.Client, server: subprocess.Popen, deadline: float) -> None:
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"exited with {server.returncode}")
        try:
            if client.get("/__kp/reload").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("did not start in time")
        time.sleep(0.1)


def _article_url(site: Path, article: Path) -> str:
    page = next(site.glob(f"**/{article.stem}/index.html"), None)
    if page is None:
        raise RuntimeError(f"no page for {article.name} in {site}")
    return "/" + page.parent.relative_to(site).as_posix() + "/"


def _one_edit(
    client: httpx.Client,
    server: subprocess.Popen,
    edits: IncrementalEdits,
    url: str,
    deadline: float,
) -> Run:
    since = client.get("/__kp/reload").json()["build"]
    cpu, rss = _usage(server.pid)
    edits.edit()
    started = time.perf_counter()
    while client.get("/__kp/reload", params={"since": since}).json()["build"] == since:
        if time.monotonic() > deadline:
            raise TimeoutError("no rebuild in time")
    if f"run {edits.count}." not in client.get(url).text:
        raise RuntimeError(f"{url} does not show edit {edits.count} after the rebuild")
    seconds = time.perf_counter() - started
    cpu_after, rss_after = _usage(server.pid)
    return Run(seconds, max(rss, rss_after), cpu_after - cpu, 0, False, "")


def _usage(pid: int) -> tuple[float, float]:
    """CPU seconds and resident MB of the server process (NaN without psutil)."""
    if psutil is None:
        return float("nan"), float("nan")
    process = psutil.Process(pid)
    times = process.cpu_times()
    return times.user + times.system, process.memory_info().rss / 2**20
