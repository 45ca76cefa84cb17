"""The yardstick for `kp serve`: Debian's nginx serving the bench's built `site/` statically.

Started by the bench itself in a temporary prefix (its own configuration, pid file, logs
and temp paths) on a free loopback port, with `daemon off`, and stopped when done; nothing
of the system's nginx is used but the binary and `mime.types`. When `nginx` is not
installed (`apt-get install nginx`) the row is skipped with a note.

The gated-through-nginx row (issue 15) belongs next to this one, in this module: nginx with
the configuration `kp deploy nginx` generates, in front of two `kp serve` workers on
PostgreSQL. Until it is written the table names it as not measured (`GATED_NGINX_NOTE`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")
MIME_TYPES = Path("/etc/nginx/mime.types")


def nginx_executable() -> str | None:
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def static_config(prefix: Path, site: Path, port: int) -> str:
    """An nginx.conf serving `site` on 127.0.0.1:`port`, everything else inside `prefix`."""
    temp = {name: prefix / "tmp" / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
    mime = f"include {MIME_TYPES};" if MIME_TYPES.is_file() else "default_type text/html;"
    user = "user root root;" if os.geteuid() == 0 else ""
    return f"""
{user}
daemon off;
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    {mime}
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    server {{
        listen 127.0.0.1:{port};
        root {site};
        location / {{ try_files $uri $uri/ =404; }}
    }}
}}
"""


@contextlib.contextmanager
def nginx_serving(site: Path, port: int) -> Iterator[str]:
    """nginx serving `site` statically at the returned URL until the block ends."""
    nginx = nginx_executable()
    if nginx is None:
        raise FileNotFoundError("nginx is not installed (apt-get install nginx)")
    with tempfile.TemporaryDirectory(prefix="kp-bench-nginx-") as tmp:
        prefix = Path(tmp)
        conf = prefix / "nginx.conf"
        conf.write_text(static_config(prefix, site, port), encoding="utf-8")
        log = (prefix / "stdout.log").open("wb")
        proc = subprocess.Popen(
            [nginx, "-p", str(prefix), "-c", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_answering(url, proc, prefix)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()


def _wait_answering(url: str, proc: subprocess.Popen[bytes], prefix: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = (
                (prefix / "error.log").read_text(errors="replace")
                if (prefix / "error.log").is_file()
                else ""
            )
            raise RuntimeError(f"nginx exited ({proc.returncode}): {err[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url + "/", timeout=1)
            return
        time.sleep(0.05)
    raise TimeoutError(f"nginx did not answer {url} within 15 s")


GATED_NGINX_NOTE = (
    "gated through nginx: not measured yet (needs `kp deploy nginx`'s configuration; "
    "its place is bench/nginx_static.py)"
)
