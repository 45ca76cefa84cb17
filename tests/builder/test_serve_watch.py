"""`kp serve --watch`: the site is built, served with the paywall and rebuilt after every
edit in one process; open pages learn about each new build through the live-reload endpoint.

The middleware is tested over loopback on a small app; the command itself runs as a
subprocess on a copy of the example site, edited the way a writer edits it.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from stripe_local.asgi_thread import ServerThread, free_port

from kp.livereload import SCRIPT_PATH, LiveReloadMiddleware, ReloadHub, inject

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTICLE = Path("content/articles/welcome-ritual-for-new-members.md")
ARTICLE_URL = "/articles/welcome-ritual-for-new-members/"
LESSON = Path("content/courses/community-launch/02-plan-ten-articles.md")
LESSON_URL = "/courses/community-launch/02-plan-ten-articles/"
BUILD_RE = re.compile(r'<script src="/__kp/livereload\.js" data-kp-build="([0-9a-f]+\.\d+)">')
WAIT = 90.0  # generous bound for a loaded CI machine; never a timing assertion


# -- the middleware, on a small app ------------------------------------------------------

PAGE = "<!doctype html><html><body><p>Hello</p></body></html>"


def _small_app(tmp_path: Path) -> Starlette:
    page_file = tmp_path / "page.html"
    page_file.write_text(PAGE, encoding="utf-8")
    css_file = tmp_path / "style.css"
    css_file.write_text("body{}", encoding="utf-8")

    async def html(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def file(request: Request) -> Response:
        return FileResponse(page_file, headers={"Cache-Control": "no-cache"})

    async def css(request: Request) -> Response:
        return FileResponse(css_file, headers={"Cache-Control": "public, max-age=3600"})

    async def form(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def data(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/html", html),
            Route("/file", file, methods=["GET", "HEAD"]),
            Route("/style.css", css),
            Route("/form", form, methods=["POST"]),
            Route("/data", data),
        ]
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, ReloadHub]]:
    hub = ReloadHub()
    server = ServerThread(LiveReloadMiddleware(_small_app(tmp_path), hub, poll_seconds=30))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=WAIT) as client:
            yield client, hub
    finally:
        hub.close()  # ends open long polls, which uvicorn would wait for
        server.stop()


def test_inject_puts_the_snippet_before_the_last_body_end_tag():
    assert inject(b"<body>a</body><!-- </BODY> --></BODY>", b"S") == (
        b"<body>a</body><!-- </BODY> -->S</BODY>"
    )
    assert inject(b"<p>fragment", b"S") == b"<p>fragment" + b"S"


def test_html_pages_get_the_script_and_are_never_answered_from_a_cache(served):
    client, hub = served
    for path in ("/html", "/file"):
        r = client.get(path, headers={"If-None-Match": "*"})  # would be a 304 without --watch
        assert r.status_code == 200
        assert BUILD_RE.search(r.text).group(1) == hub.build_id
        assert r.text.endswith("</script></body></html>")
        assert r.text.replace(BUILD_RE.search(r.text).group(0) + "</script>", "") == PAGE
        assert int(r.headers["content-length"]) == len(r.content)
        assert r.headers["cache-control"] == "no-store"
        assert "etag" not in r.headers and "last-modified" not in r.headers
    head = client.head("/file")
    assert int(head.headers["content-length"]) == len(client.get("/file").content)


def test_other_responses_pass_through(served):
    client, _ = served
    form = client.post("/form")
    assert form.text == PAGE, "a page answering a form is not reloaded (it would re-post)"
    assert client.get("/data").json() == {"ok": True}
    css = client.get("/style.css")
    assert css.text == "body{}"
    assert css.headers["cache-control"] == "no-cache", "edited assets show after a reload"


def test_the_reload_endpoint_answers_when_a_build_lands(served):
    client, hub = served
    first = client.get("/__kp/reload").json()["build"]
    assert first == hub.build_id
    assert client.get("/__kp/reload", params={"since": "old.0"}).json() == {"build": first}
    answer: list[httpx.Response] = []
    waiter = threading.Thread(
        target=lambda: answer.append(client.get("/__kp/reload", params={"since": first}))
    )
    waiter.start()
    time.sleep(0.3)  # let the request reach the server (if not, it answers at once anyway)
    second = hub.publish()
    waiter.join(WAIT)
    assert answer and answer[0].status_code == 200
    assert answer[0].json() == {"build": second} and second != first
    assert answer[0].headers["cache-control"] == "no-store"
    assert client.post("/__kp/reload").status_code == 405
    script = client.get(SCRIPT_PATH)
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/__kp/reload?since=" in script.text and "location.reload()" in script.text


def test_stopping_ends_the_long_polls_and_ids_differ_per_process(served):
    client, hub = served
    answer: list[httpx.Response] = []
    waiter = threading.Thread(
        target=lambda: answer.append(client.get("/__kp/reload", params={"since": hub.build_id}))
    )
    waiter.start()
    time.sleep(0.3)
    hub.close()
    waiter.join(WAIT)
    assert answer and answer[0].status_code == 503, "the script backs off, then reconnects"
    assert ReloadHub().build_id != ReloadHub().build_id, "a restarted server reloads pages"


@pytest.mark.browser
def test_an_open_page_reloads_after_a_build_and_after_a_restart(tmp_path):
    """The script itself, in chromium: a new build reloads the page; so does a server that
    was stopped and started again (it retries while the server is away)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    app = _small_app(tmp_path)
    hub = ReloadHub()
    server = ServerThread(LiveReloadMiddleware(app, hub)).start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        page = browser.new_page()
        polling = "**/__kp/reload?since=*"
        with page.expect_request(polling):
            page.goto(f"{server.url}/html")

        def reloaded_after(action: Callable[[], None]) -> str:
            page.evaluate("window.kpBefore = true")
            with page.expect_request(polling, timeout=WAIT * 1000):  # the new page's poll
                action()
                page.wait_for_function("!window.kpBefore", timeout=WAIT * 1000)
            return BUILD_RE.search(page.content()).group(1)

        assert reloaded_after(hub.publish) == hub.build_id

        def restart() -> None:
            nonlocal hub, server
            hub.close()
            server.stop()
            hub = ReloadHub()
            server = ServerThread(LiveReloadMiddleware(app, hub), port=server.port).start()

        assert reloaded_after(restart) == hub.build_id
        browser.close()
    hub.close()
    server.stop()


# -- the command ---------------------------------------------------------------------------


def test_watch_cannot_be_combined_with_reload_or_workers():
    from kp.commands.serve import serve

    runner = CliRunner()
    for extra in (["--reload"], ["--workers", "2"]):
        result = runner.invoke(serve, ["--watch", *extra])
        assert result.exit_code == 2
        assert "cannot be combined with --reload or --workers > 1" in result.output
    result = runner.invoke(serve, ["--drafts"])
    assert result.exit_code == 2 and "need --watch" in result.output


def test_the_paywall_does_not_import_the_build():
    offending = [
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "paywall").rglob("*.py")
        if re.search(r"^\s*(from|import)\s+site_builder\b", path.read_text("utf-8"), re.M)
    ]
    assert offending == []


class Console:
    """The server's merged output, collected line by line in a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def count(self, needle: str) -> int:
        return sum(needle in line for line in list(self.lines))


def wait_until(condition: Callable[[], object], what: str, console: Console) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {WAIT}s; server output:\n{console.text}")
        time.sleep(0.1)


@pytest.fixture
def project(project_copy: Path) -> tuple[Path, str]:
    """The example project with a canary in the paid part of one lesson."""
    canary = f"KPWATCHCANARY{uuid.uuid4().hex[:10]} is paid text"
    lesson = project_copy / LESSON
    lesson.write_text(lesson.read_text("utf-8") + f"\n{canary}.\n", "utf-8")
    return project_copy, canary


@pytest.fixture
def watching(project: tuple[Path, str]) -> Iterator[tuple[subprocess.Popen[str], Console, str]]:
    """`kp serve --watch` running in the project, once it answers."""
    root, _ = project
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KP_", "STRIPE_"))}
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-c", "from kp.cli import main; main()", "serve", "--watch"]
        + ["--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    console = Console(process)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url) or process.poll() is not None, "no answer", console)
        assert process.poll() is None, console.text
        yield process, console, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _site_files(root: Path) -> dict[str, bytes]:
    """site/ byte for byte, ignoring build timestamps (gzip headers, RSS build dates)."""
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name, data = path.relative_to(root).as_posix(), path.read_bytes()
        if name.endswith(".gz"):
            data = gzip.decompress(data)
        files[name] = re.sub(rb"<lastBuildDate>[^<]*</lastBuildDate>", b"", data)
    return files


def _next_build(client: httpx.Client, since: str, console: Console) -> str:
    """Long-poll the reload endpoint (as the page script does) until a new build lands."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        build = client.get("/__kp/reload", params={"since": since}).json()["build"]
        if build != since:
            return build
    raise AssertionError(f"no new build within {WAIT}s; server output:\n{console.text}")


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text("utf-8") + text, "utf-8")


def test_serve_watch_rebuilds_reloads_and_keeps_the_last_good_site(watching, project, tmp_path):
    process, console, url = watching
    root, canary = project
    client = httpx.Client(base_url=url, timeout=WAIT)

    # Served pages carry the script; the files on disk are exactly what `kp build` writes.
    page = client.get(ARTICLE_URL)
    first = BUILD_RE.search(page.text).group(1)
    on_disk = (root / "site" / ARTICLE_URL.strip("/") / "index.html").read_text("utf-8")
    assert page.text == inject(on_disk.encode(), _snippet(first)).decode()
    from site_builder.build import build_site

    # Built for the URL it is served at (KP_BASE_URL unset): its links work on this port.
    assert f'rel="canonical" href="{url}{ARTICLE_URL}"' in page.text
    assert f"<loc>{url}/</loc>" in client.get("/sitemap.xml").text
    build_site(
        root / "mkdocs.yml",
        site_dir=tmp_path / "kp-build",
        private_dir=tmp_path / "p",
        site_url=url,
    )
    assert _site_files(root / "site") == _site_files(tmp_path / "kp-build")

    # An edited article is served after the rebuild, and the waiting page is told.
    poll = _LongPoll(client, first, console)
    mark = f"Edited while serving {uuid.uuid4().hex[:8]}."
    _append(root / ARTICLE, f"\n{mark}\n")
    wait_until(lambda: mark in client.get(ARTICLE_URL).text, "the edit is not served", console)
    second = poll.result()
    assert second != first
    assert BUILD_RE.search(client.get(ARTICLE_URL).text).group(1) == second

    # A gated lesson stays gated: the teaser edit shows, the new paid text does not.
    teaser_mark = f"Teaser edited {uuid.uuid4().hex[:8]}."
    paid_mark = f"KPWATCHPAID{uuid.uuid4().hex[:8]} is new paid text"
    lesson = root / LESSON
    text = lesson.read_text("utf-8")
    lesson.write_text(
        text.replace("<!-- more -->", f"{teaser_mark}\n\n<!-- more -->\n\n{paid_mark}."), "utf-8"
    )
    wait_until(lambda: teaser_mark in client.get(LESSON_URL).text, "no teaser edit", console)
    served = client.get(LESSON_URL)
    assert served.status_code == 200 and "kp-paywall" in served.text
    assert canary not in served.text and paid_mark not in served.text
    private_lesson = root / "private" / LESSON_URL.strip("/") / "index.html"
    assert paid_mark in private_lesson.read_text("utf-8"), "the full lesson was rebuilt"
    third = client.get("/__kp/reload").json()["build"]

    # A broken edit: errors printed, the last good site still served, no reload announced.
    failures = console.count("Build failed")
    (root / "content/articles/broken.md").write_text("---\ntitle: [unclosed\n---\n", "utf-8")
    wait_until(lambda: console.count("Build failed") > failures, "no failure shown", console)
    assert "broken.md" in console.text
    assert mark in client.get(ARTICLE_URL).text
    assert client.get("/__kp/reload").json()["build"] == third

    # Fixed: the next build lands and is announced.
    poll = _LongPoll(client, third, console)
    (root / "content/articles/broken.md").unlink()
    assert poll.result() != third

    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0, console.text
    assert "kp serve --watch: stopped." in console.text
    client.close()


def _snippet(build: str) -> bytes:
    return f'<script src="{SCRIPT_PATH}" data-kp-build="{build}"></script>'.encode()


class _LongPoll:
    """The page script's wait, started before an edit, in a thread."""

    def __init__(self, client: httpx.Client, since: str, console: Console) -> None:
        self._answer: list[str] = []
        self._thread = threading.Thread(
            target=lambda: self._answer.append(_next_build(client, since, console))
        )
        self._thread.start()

    def result(self) -> str:
        self._thread.join(WAIT * 2)
        assert self._answer, "the reload endpoint did not announce the build"
        return self._answer[0]


def test_without_watch_pages_have_no_reload_script(project, monkeypatch):
    from kp_contract.settings import load_settings
    from paywall.app import create_app
    from site_builder.build import build_site

    root, _ = project
    for name in [n for n in os.environ if n.startswith(("KP_", "STRIPE_"))]:
        monkeypatch.delenv(name)
    build_site(root / "mkdocs.yml")
    settings = load_settings(KP_PROJECT_DIR=root, KP_VAR_DIR=root / "var")
    server = ServerThread(create_app(settings)).start()
    try:
        page = httpx.get(f"{server.url}{ARTICLE_URL}", timeout=WAIT)
        assert page.status_code == 200 and "welcome" in page.text.lower()
        assert "__kp" not in page.text
        assert page.text == (root / "site" / ARTICLE_URL.strip("/") / "index.html").read_text(
            "utf-8"
        )
        assert httpx.get(f"{server.url}/__kp/reload", timeout=WAIT).status_code == 404
        assert httpx.get(f"{server.url}{SCRIPT_PATH}", timeout=WAIT).status_code == 404
    finally:
        server.stop()
