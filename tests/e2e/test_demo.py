"""`kp demo` as a newcomer runs it: a subprocess in a fresh project copy, with real-looking
Stripe settings in the environment that it must ignore. A purchase over HTTP (the site's
Buy form → the local checkout page → Pay → webhook → e-mailed magic link → the paid lesson),
then Ctrl-C: both servers stop and the exit status is 0."""

from __future__ import annotations

import email
import email.policy
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from stripe_local.asgi_thread import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
COURSE = "community-launch"
LESSON = "/courses/community-launch/02-plan-ten-articles/"
LESSON_FILE = Path("content/courses/community-launch/02-plan-ten-articles.md")
OPEN_RE = re.compile(r"open (http://127\.0\.0\.1:\d+)/")
STRIPE_RE = re.compile(r"LOCAL test server at (http://127\.0\.0\.1:\d+)")
LINK_RE = re.compile(r"http://127\.0\.0\.1:\d+/api/login/callback\?token=[A-Za-z0-9_\-]+")


class Console:
    """The demo's merged stdout/stderr, read line by line in a thread (no blocking reads)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(process,), daemon=True)
        self._thread.start()

    def _pump(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if match := pattern.search(line):
                    return match
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {pattern.pattern!r} in:\n{self.text}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"kp demo exited before {pattern.pattern!r}:\n{self.text}")
            self.lines.append(line)

    def drain(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)
        while not self._queue.empty():
            line = self._queue.get()
            if line is not None:
                self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)


def kp_command() -> list[str]:
    script = Path(sys.executable).with_name("kp")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from kp.cli import main; main()"]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str]:
    """A fresh copy of the example project with a canary in one paid lesson."""
    dest = tmp_path / "project"
    dest.mkdir()
    for name in ("content", "themes"):
        shutil.copytree(REPO_ROOT / name, dest / name)
    shutil.copy2(REPO_ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    canary = f"KPDEMOCANARY{uuid.uuid4().hex[:10]} is paid text"
    lesson = dest / LESSON_FILE
    assert "<!-- more -->" in lesson.read_text(encoding="utf-8")
    with lesson.open("a", encoding="utf-8") as fh:
        fh.write(f"\n\n{canary}.\n")
    return dest, canary


@pytest.fixture
def demo(project: tuple[Path, str]) -> Iterator[tuple[subprocess.Popen[str], Console, int]]:
    root, _ = project
    port = free_port()
    env = {
        **os.environ,
        # What a developer's shell might hold: the demo must not use any of it.
        "STRIPE_SECRET_KEY": "sk_live_must_not_be_used",
        "STRIPE_WEBHOOK_SECRET": "whsec_must_not_be_used",
        "STRIPE_API_BASE": "https://api.stripe.com",
        "KP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/not_the_demo",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("KP_PROJECT_DIR", None)
    process = subprocess.Popen(
        [*kp_command(), "demo", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    console = Console(process)
    try:
        yield process, console, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def wait_until_serving(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer /healthz within {timeout}s")
        time.sleep(0.1)


def mail_text(path: Path) -> str:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""


def port_closed(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) != 0


def test_demo_purchase_then_ctrl_c(demo, project) -> None:
    process, console, port = demo
    _, canary = project
    url = console.wait_for(OPEN_RE, timeout=90).group(1)
    assert url == f"http://127.0.0.1:{port}"
    stripe_url = console.wait_for(STRIPE_RE, timeout=5).group(1)
    console.wait_for(re.compile("Stop with Ctrl-C"), timeout=5)
    assert "ignoring STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE" in console.text
    assert "sk_live_must_not_be_used" not in console.text
    wait_until_serving(url)

    site = httpx.Client(base_url=url, headers={"Origin": url}, timeout=20)
    buyer = "newcomer@example.com"
    assert canary not in site.get(LESSON).text
    r = site.post("/api/checkout", data={"course": COURSE, "from": LESSON})
    assert r.status_code == 303, r.text[:300]
    checkout_url = r.headers["location"]
    assert checkout_url.startswith(stripe_url + "/"), f"checkout is not local: {checkout_url}"

    with httpx.Client(timeout=20) as browser:
        page = browser.get(checkout_url)
        assert page.status_code == 200 and "Pay" in page.text
        paid = browser.post(
            checkout_url, data={"email": buyer, "card": "4242 4242 4242 4242", "action": "pay"}
        )
    assert paid.status_code == 303, paid.text[:300]
    success = paid.headers["location"]
    assert success.startswith(f"{url}/checkout/success?session_id=cs_")
    assert site.get(success.removeprefix(url)).status_code == 200

    # Webhooks are delivered asynchronously, as Stripe does: the purchase e-mail follows.
    link = console.wait_for(LINK_RE, timeout=20).group(0)
    outbox = project[0] / "var" / "demo" / "outbox"
    assert any(link in mail_text(p) for p in outbox.glob("*.eml")), f"{link} not in {outbox}"
    page = site.get(link.removeprefix(url))  # a purchase e-mail's link asks first
    assert page.status_code == 200, f"magic link refused ({page.status_code})"
    fields = dict(re.findall(r'<input type="hidden" name="([a-z]+)" value="([^"]*)">', page.text))
    signed_in = site.post("/api/login/callback", data=fields)
    assert signed_in.status_code == 303, f"sign-in refused ({signed_in.status_code})"
    assert canary in site.get(LESSON).text, "the bought lesson is not unlocked"
    site.close()

    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0, console.text
    console.drain()
    assert "stopped" in console.text
    assert port_closed(url) and port_closed(stripe_url)


ARTICLE = "/articles/welcome-ritual-for-new-members/"
INVITE_RE = re.compile(r'value="(http[^"]+)\?ref=[a-z0-9]+"')


def test_demo_on_any_port_links_to_that_port(demo) -> None:
    """`kp demo --port N`: the site is built for http://127.0.0.1:N, so the member's invite
    link on /account/, sign-in links, canonical and hreflang links, the sitemap and the feed
    all lead back to the demo, whatever mkdocs.yml's site_url says."""
    process, console, port = demo
    url = console.wait_for(OPEN_RE, timeout=90).group(1)
    assert url == f"http://127.0.0.1:{port}" and port != 8000
    console.wait_for(re.compile("Stop with Ctrl-C"), timeout=5)
    assert f"building for {url}/ (the serving URL)" in console.text
    wait_until_serving(url)

    with httpx.Client(base_url=url, headers={"Origin": url}, timeout=20) as site:
        asked = site.post("/api/login", data={"email": "member@example.com", "next": "/account/"})
        assert asked.status_code == 200, asked.text[:300]
        link = console.wait_for(LINK_RE, timeout=20).group(0)
        assert link.startswith(f"{url}/api/login/callback?token=")
        page = site.get(link.removeprefix(url))
        fields = dict(
            re.findall(r'<input type="hidden" name="([a-z]+)" value="([^"]*)">', page.text)
        )
        assert site.post("/api/login/callback", data=fields).status_code == 303

        invite = INVITE_RE.search(site.get("/account/").text)
        assert invite is not None, "no invite link on /account/"
        assert invite.group(1) == f"{url}/"
        article = site.get(ARTICLE).text
        assert f'<link rel="canonical" href="{url}{ARTICLE}">' in article
        home = site.get("/").text
        assert f'<link rel="alternate" hreflang="zh" href="{url}/zh/">' in home
        sitemap = site.get("/sitemap.xml").text
        assert f"<loc>{url}{ARTICLE}</loc>" in sitemap
        feed = site.get("/feed.xml").text
        assert f"<link>{url}{ARTICLE}</link>" in feed
        for name, text in (("article", article), ("sitemap", sitemap), ("feed", feed)):
            assert "127.0.0.1:8000" not in text, f"the {name} points at mkdocs.yml's site_url"

    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0, console.text


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_demo_passes_its_port_to_kp_demo() -> None:
    """`make demo PORT=8123` runs `kp demo --port 8123` (the test above runs that end to
    end); without PORT, the README's http://127.0.0.1:8000. Dry runs: nothing is built."""
    # Run under `make test` too: the outer make's MAKELEVEL/MAKEFLAGS would make this one
    # print "Entering/Leaving directory" lines.
    outer = ("PORT", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if k not in outer}
    for args, expected in (([], "8000"), (["PORT=8123"], "8123")):
        dry = subprocess.run(
            ["make", "--no-print-directory", "-n", "demo", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.splitlines()[-1] == f".venv/bin/kp demo --port {expected}"
