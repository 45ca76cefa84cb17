"""The production shape on loopback: Debian's nginx (its own prefix, pid, temp dirs and logs in
tmp, a free port, a top-level nginx.conf that includes the generated kp.conf inside http {})
in front of two `kp serve` processes on a fresh PostgreSQL database, with the local Stripe
test server delivering its webhooks through nginx.

Nothing is installed here: without an `nginx` executable (CI's `.ci/run` installs
nginx-light) the tests that need one skip, saying so.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from stripe_local.asgi_thread import free_port
from stripe_local.server import LocalStripe

REPO_ROOT = Path(__file__).resolve().parents[2]
PAYWALL_CONFTEST = REPO_ROOT / "tests" / "paywall" / "conftest.py"
SECRET_KEY = "deploy-test-secret-key-not-for-production-0123456789"
LESSON = "/courses/community-launch/02-plan-ten-articles/"
LESSON_FILE = Path("content/courses/community-launch/02-plan-ten-articles.md")
MEMBERS_ARTICLE = "/articles/members-corner/"
MEMBERS_CANARY = "KPMEMBERSCANARY-8d41 members-only text"
LESSON_CANARY = "KPNGINXCANARY-3f9e paid lesson text"
AUTH_CACHE_SECONDS = 2
MEMBERS_ARTICLE_TEXT = f"""---
title: The members' corner
date: 2026-07-01
summary: What members talk about this month.
lang: en
access: members
---

This first paragraph is the public teaser.

<!-- more -->

{MEMBERS_CANARY}.
"""


def _paywall_fixtures() -> ModuleType:
    """tests/paywall/conftest.py as a module (as tests/growth does): the PostgreSQL fixture,
    the outbox reader and the magic-link helpers."""
    spec = importlib.util.spec_from_file_location("kp_tests_deploy_fixtures", PAYWALL_CONFTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


paywall_fixtures = _paywall_fixtures()
pg_database = paywall_fixtures.pg_database
Outbox = paywall_fixtures.Outbox
open_magic_link = paywall_fixtures.open_magic_link
raw_request = paywall_fixtures.raw_request
WEBHOOK_SECRET = paywall_fixtures.WEBHOOK_SECRET


def nginx_executable() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).is_file()), None
    )


@pytest.fixture(scope="session")
def nginx_bin() -> str:
    found = nginx_executable()
    if found is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light; .ci/run does)")
    return found


def kp_command() -> list[str]:
    script = Path(sys.executable).with_name("kp")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from kp.cli import main; main()"]


def clean_env(**values: str) -> dict[str, str]:
    """The test's environment without the developer's KP_*/STRIPE_* settings, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KP_", "STRIPE_"))}
    env.pop("FORWARDED_ALLOW_IPS", None)
    env.update(values, PYTHONUNBUFFERED="1")
    return env


def run_kp(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*kp_command(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    if result.returncode != 0:
        raise AssertionError(
            f"kp {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def nginx_conf(prefix: Path, kp_conf: Path) -> str:
    """A top-level nginx.conf of the test's own: everything under `prefix`, kp.conf inside
    http {}, and an access log naming the upstream each request went to (`-`: nginx
    answered by itself)."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the tmp files
    return f"""{user}worker_processes 2;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format kp '$request_method $request_uri $status up=$upstream_addr';
    access_log {prefix}/access.log kp;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {kp_conf};
}}
"""


def nginx_test(nginx: str, prefix: Path, conf: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on a top-level configuration, with everything under `prefix`."""
    return subprocess.run(
        [nginx, "-t", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )


def wait_for(url: str, timeout: float, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: the process exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {timeout}s:\n{log.read_text()[-3000:]}")


@dataclass
class Stack:
    """nginx at `url` in front of the workers; their logs and nginx's access log."""

    url: str
    worker_urls: list[str]
    project: Path
    stripe: LocalStripe
    worker_logs: list[Path]
    access_log: Path
    kp_conf: Path
    outbox: Any
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, **kwargs: Any) -> httpx.Client:
        """A browser-like client: same-site Origin on its posts, no automatic redirects."""
        c = httpx.Client(
            base_url=self.url,
            headers={"Origin": self.url},
            follow_redirects=False,
            timeout=20,
            **kwargs,
        )
        self.clients.append(c)
        return c

    def worker_lines(self, needle: str) -> list[str]:
        return [
            line
            for log in self.worker_logs
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
            if needle in line
        ]

    def access_lines(self) -> list[str]:
        return self.access_log.read_text(encoding="utf-8").splitlines()

    def access_lines_waiting(self, prefix: str) -> list[str]:
        """The access log's lines starting with `prefix`, waiting (5 s) for at least one."""
        deadline = time.monotonic() + 5
        while not (found := [line for line in self.access_lines() if line.startswith(prefix)]):
            if time.monotonic() > deadline:
                raise AssertionError(f"nginx logged no {prefix!r} request")
            time.sleep(0.02)
        return found

    def access_line_after(self, count: int) -> str:
        """The access log's line number `count` (0-based), waiting for nginx to write it:
        it logs a request after sending the answer."""
        deadline = time.monotonic() + 5
        while len(lines := self.access_lines()) <= count:
            if time.monotonic() > deadline:
                raise AssertionError(f"nginx logged no request after line {count}")
            time.sleep(0.02)
        return lines[count]


@pytest.fixture(scope="module")
def stack(
    nginx_bin: str, pg_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("nginx-front")
    project = example_project_copy(root / "project")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    worker_ports = [free_port(), free_port()]
    processes: list[subprocess.Popen[bytes]] = []
    with LocalStripe(
        webhook_url=f"{url}/api/stripe/webhook", webhook_secret=WEBHOOK_SECRET
    ) as local_stripe:
        env = clean_env(
            KP_PROJECT_DIR=str(project),
            KP_DATABASE_URL=pg_database,
            KP_BASE_URL=url,
            KP_SECRET_KEY=SECRET_KEY,
            STRIPE_SECRET_KEY=local_stripe.api_key,
            STRIPE_API_BASE=local_stripe.url,
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
        try:
            run_kp(["build"], project, env)
            run_kp(["stripe", "sync"], project, env)
            logs = []
            for worker_port in worker_ports:
                log = root / f"worker-{worker_port}.log"
                logs.append(log)
                with log.open("wb") as out:
                    processes.append(
                        subprocess.Popen(
                            [*kp_command(), "serve", "--port", str(worker_port)],
                            cwd=project,
                            env=env,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                        )
                    )
            for worker_port, process, log in zip(worker_ports, processes, logs, strict=True):
                wait_for(f"http://127.0.0.1:{worker_port}/healthz", 60, process, log)
            conf_dir = root / "conf"
            upstreams = [a for p in worker_ports for a in ("--upstream", f"127.0.0.1:{p}")]
            run_kp(
                [
                    "deploy",
                    "nginx",
                    "--out",
                    str(conf_dir),
                    "--listen",
                    f"127.0.0.1:{port}",
                    *upstreams,
                    "--cache-dir",
                    str(root / "auth-cache"),
                    "--auth-cache-seconds",
                    str(AUTH_CACHE_SECONDS),
                ],
                project,
                env,
            )
            prefix = root / "nginx"
            prefix.mkdir()
            top = prefix / "nginx.conf"
            top.write_text(nginx_conf(prefix, conf_dir / "kp.conf"), encoding="utf-8")
            checked = nginx_test(nginx_bin, prefix, top)
            assert checked.returncode == 0, checked.stderr
            nginx_log = prefix / "nginx.out"
            with nginx_log.open("wb") as out:
                nginx = subprocess.Popen(
                    [nginx_bin, "-p", str(prefix), "-c", str(top), "-e", str(prefix / "error.log")],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            processes.append(nginx)
            wait_for(f"{url}/healthz", 20, nginx, prefix / "error.log")
            built = Stack(
                url=url,
                worker_urls=[f"http://127.0.0.1:{p}" for p in worker_ports],
                project=project,
                stripe=local_stripe,
                worker_logs=logs,
                access_log=prefix / "access.log",
                kp_conf=conf_dir / "kp.conf",
                outbox=Outbox(project / "var" / "outbox"),
            )
            yield built
            for c in built.clients:
                c.close()
        finally:
            for process in reversed(processes):
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(15)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(5)


def example_project_copy(dest: Path) -> Path:
    """The example project, with a canary in one paid lesson and a members-only article."""
    dest.mkdir(parents=True)
    for name in ("content", "themes"):
        shutil.copytree(REPO_ROOT / name, dest / name)
    shutil.copy2(REPO_ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    lesson = dest / LESSON_FILE
    assert "<!-- more -->" in lesson.read_text(encoding="utf-8")
    with lesson.open("a", encoding="utf-8") as fh:
        fh.write(f"\n\n{LESSON_CANARY}.\n")
    article = dest / "content" / "articles" / "members-corner.md"
    article.write_text(MEMBERS_ARTICLE_TEXT, encoding="utf-8")
    return dest
