"""nginx in the bench: the yardstick (Debian's nginx serving the built `site/` statically)
and the production front (`kp deploy nginx`'s configuration in front of `kp serve`).

Both are started by the bench itself in a temporary prefix (a top-level nginx.conf of the
bench's own, pid file, logs, temp paths and the front's auth cache) on a free loopback port,
with `daemon off`, and stopped when done; nothing of the system's nginx is used but the
binary and `mime.types`. Both share the same top level (workers, keep-alive, sendfile), so
the two rows differ only by what `kp.conf` does. When `nginx` is not installed (`apt-get
install nginx`) the rows are skipped with a note.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from bench.measure import stop_process_group
from bench.site_builds import kp_executable

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")
MIME_TYPES = Path("/etc/nginx/mime.types")


def nginx_executable() -> str | None:
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def top_config(prefix: Path, http_body: str) -> str:
    """A top-level nginx.conf with everything inside `prefix` and `http_body` in http {}."""
    temp = {name: prefix / "tmp" / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
    mime = f"include {MIME_TYPES};" if MIME_TYPES.is_file() else "default_type text/html;"
    user = "user root root;" if os.geteuid() == 0 else ""  # workers must read the tmp files
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
{http_body}
}}
"""


def static_config(prefix: Path, site: Path, port: int) -> str:
    """An nginx.conf serving `site` on 127.0.0.1:`port`, everything else inside `prefix`."""
    server = f"""    server {{
        listen 127.0.0.1:{port};
        root {site};
        location / {{ try_files $uri $uri/ =404; }}
    }}"""
    return top_config(prefix, server)


def front_config(prefix: Path, kp_conf: Path) -> str:
    """An nginx.conf including the generated `kp.conf` inside http {} (as an operator's
    /etc/nginx/nginx.conf includes conf.d/), everything else inside `prefix`."""
    return top_config(prefix, f"    include {kp_conf};")


@contextlib.contextmanager
def nginx_serving(site: Path, port: int) -> Iterator[str]:
    """nginx serving `site` statically at the returned URL until the block ends."""
    with tempfile.TemporaryDirectory(prefix="kp-bench-nginx-") as tmp:
        prefix = Path(tmp)
        conf = prefix / "nginx.conf"
        conf.write_text(static_config(prefix, site, port), encoding="utf-8")
        with _running(prefix, conf, port) as url:
            yield url


def deploy_nginx(
    env: dict[str, str], out: Path, port: int, upstreams: Sequence[str], cache_dir: Path
) -> Path:
    """`kp deploy nginx` for the project of `env` (the workers' settings): `out`/kp.conf,
    listening on 127.0.0.1:`port`, default `--auth-cache-seconds`."""
    args = [kp_executable(), "deploy", "nginx", "--out", str(out)]
    args += ["--listen", f"127.0.0.1:{port}", "--cache-dir", str(cache_dir)]
    for upstream in upstreams:
        args += ["--upstream", upstream]
    done = subprocess.run(
        args, cwd=env["KP_PROJECT_DIR"], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        said = (done.stderr or done.stdout)[-2000:]
        raise RuntimeError(f"bench: kp deploy nginx exited {done.returncode}: {said}")
    return out / "kp.conf"


@contextlib.contextmanager
def nginx_front(env: dict[str, str], upstreams: Sequence[str], port: int) -> Iterator[str]:
    """nginx with the configuration `kp deploy nginx` generates, in front of the `kp serve`
    workers at `upstreams` (HOST:PORT), at the returned URL until the block ends."""
    with tempfile.TemporaryDirectory(prefix="kp-bench-front-") as tmp:
        prefix = Path(tmp)
        kp_conf = deploy_nginx(env, prefix / "conf", port, upstreams, prefix / "auth-cache")
        conf = prefix / "nginx.conf"
        conf.write_text(front_config(prefix, kp_conf), encoding="utf-8")
        with _running(prefix, conf, port) as url:
            yield url


@contextlib.contextmanager
def _running(prefix: Path, conf: Path, port: int) -> Iterator[str]:
    nginx = nginx_executable()
    if nginx is None:
        raise FileNotFoundError("nginx is not installed (apt-get install nginx)")
    log = (prefix / "stdout.log").open("wb")
    proc = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_answering(url, proc, prefix)
        yield url
    finally:
        stop_process_group(proc)
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
