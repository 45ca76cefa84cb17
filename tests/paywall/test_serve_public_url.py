"""`kp serve` and the one public URL, as an operator meets it: the real commands in a copy
of the example project. A site built for another URL than KP_BASE_URL is refused before
anything listens, with a message naming both URLs and the command that rebuilds it; after
that command the site is served with links to KP_BASE_URL; with KP_BASE_URL unset, `kp
serve` takes the URL the build wrote into the manifest."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from stripe_local.asgi_thread import free_port

from .test_app import wait_healthy

pytestmark = pytest.mark.timeout(300)

MKDOCS_URL = "http://127.0.0.1:8000/"  # the example mkdocs.yml's site_url
ARTICLE = "/articles/welcome-ritual-for-new-members/"
KP = str(Path(sys.executable).with_name("kp"))


def clean_env(**settings: str) -> dict[str, str]:
    """The user's environment without any KP_/STRIPE_ setting, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KP_", "STRIPE_", "SMTP"))}
    return env | {"PYTHONUNBUFFERED": "1"} | settings


def run_kp(
    project: Path, *args: str, timeout: float = 240, **settings: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KP, *args],
        cwd=project,
        env=clean_env(**settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def kp_serve(project: Path, port: int, **settings: str) -> Iterator[tuple[str, list[str]]]:
    """`kp serve --port PORT` until it answers; yields its URL and, once it stopped (on
    leaving the block), its output lines."""
    proc = subprocess.Popen(
        [KP, "serve", "--port", str(port)],
        cwd=project,
        env=clean_env(**settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    output: list[str] = []
    try:
        wait_healthy(url, proc)
        yield url, output
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            text, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            text, _ = proc.communicate()
        output += text.splitlines()


def magic_link_printed(output: list[str]) -> str:
    found = [
        m.group(0) for m in map(re.compile(r"http\S+/api/login/callback\S+").search, output) if m
    ]
    assert found, "\n".join(output)
    return found[-1]


def test_kp_serve_refuses_a_site_built_for_another_url(project_copy: Path) -> None:
    built = run_kp(project_copy, "build")
    assert built.returncode == 0, built.stderr
    port = free_port()
    public = f"http://127.0.0.1:{port}"

    refused = run_kp(project_copy, "serve", "--port", str(port), timeout=60, KP_BASE_URL=public)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "listening" not in refused.stdout + refused.stderr
    message = refused.stderr
    assert f"Error: KP_BASE_URL is {public}, but the site in" in message
    assert f"was built for {MKDOCS_URL}" in message
    assert "Traceback" not in message
    command = re.search(r"Rebuild it for this URL:\s+KP_BASE_URL=(\S+) kp build\n", message)
    assert command is not None, message
    assert command.group(1) == public

    # The command it names, as the operator would type it.
    rebuilt = run_kp(project_copy, "build", KP_BASE_URL=command.group(1))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.splitlines()[0] == (
        f"building for {public}/ (KP_BASE_URL), not mkdocs.yml's site_url {MKDOCS_URL}"
    )

    with (
        kp_serve(project_copy, port, KP_BASE_URL=public) as (url, output),
        httpx.Client(base_url=url, headers={"Origin": public}, timeout=20) as reader,
    ):
        page = reader.get(ARTICLE).text
        assert f'<link rel="canonical" href="{public}{ARTICLE}">' in page
        assert f"<loc>{public}/</loc>" in reader.get("/sitemap.xml").text
        asked = reader.post("/api/login", data={"email": "op@example.com", "next": "/"})
        assert asked.status_code == 200
    assert magic_link_printed(output).startswith(f"{public}/api/login/callback?token=")


def test_kp_serve_takes_the_url_the_site_was_built_for(project_copy: Path) -> None:
    """KP_BASE_URL unset: the manifest's site_url, not this host and port, nor the default."""
    port, other_port = free_port(), free_port()
    public = f"http://127.0.0.1:{port}"
    built = run_kp(project_copy, "build", KP_BASE_URL=public)
    assert built.returncode == 0, built.stderr

    with (
        kp_serve(project_copy, port) as (url, output),
        httpx.Client(base_url=url, headers={"Origin": public}, timeout=20) as reader,
    ):
        asked = reader.post("/api/login", data={"email": "op@example.com", "next": "/"})
        assert asked.status_code == 200
    assert f"(public URL {public})" in output[0]
    assert magic_link_printed(output).startswith(f"{public}/api/login/callback?token=")

    # On another port the links still lead to the built URL, and the banner says how to fix it.
    with kp_serve(project_copy, other_port) as (url, output):
        pass
    assert f"(public URL {public})" in output[0]
    assert f"KP_BASE_URL=http://127.0.0.1:{other_port} kp build" in output[1]


def test_kp_serve_names_an_unusable_public_url(tmp_path: Path) -> None:
    refused = run_kp(tmp_path, "serve", "--port", str(free_port()), timeout=60, KP_BASE_URL="shop")
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert "Error: invalid settings:\n  KP_BASE_URL: KP_BASE_URL='shop' must be an absolute" in (
        refused.stderr
    )
