"""The reader's journey in a real browser: the example site built once (a canary sentence in
every paid lesson), then per test the paywall app and the local Stripe test server over
loopback, with clocks the test moves, and headless Debian chromium driven by Playwright.

Helpers are fixtures (`stack`, `reader`) because test modules cannot import this file.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, sync_playwright
from stripe_local.asgi_thread import ServerThread, free_port
from stripe_local.server import LocalStripe
from stripe_local.signing import signature_header

from kp_contract.manifest import Manifest, read_manifest
from kp_contract.settings import Settings, load_settings
from paywall.app import create_app, make_paywall
from paywall.billing.stripe_sync import sync_catalog
from paywall.runtime.mailer import OutboxMailer
from site_builder.build import build_site
from site_builder.frontmatter import split_front_matter

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MARKER = "<!-- more -->"
LINK_RE = re.compile(r"https?://[^\s\"'<>]+/api/login/callback\?token=[A-Za-z0-9_\-]+")
ARTIFACTS = REPO_ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
MIN_FONT_PX = 12.0
# Injected into every page: `window.__kpMe` resolves with the JSON the theme's script got from
# /api/me, one task after it arrived (the script has updated the header by then), so tests
# wait for exactly that instead of sleeping or polling.
AUTO_SUBMIT = "document.getElementById('kp-confirm').submit()"
"""What the sign-in link's page runs in the browser that asked for the link."""

ME_PROBE = """
(() => {
  const original = window.fetch;
  let done;
  window.__kpMe = new Promise(resolve => { done = resolve; });
  setTimeout(() => done("timeout"), 8000);
  window.fetch = function (input, init) {
    const answer = original.apply(this, arguments);
    if (String(input).endsWith("/api/me")) {
      answer.then(r => r.clone().json()).then(
        me => setTimeout(() => done(me), 0),
        () => setTimeout(() => done(null), 0));
    }
    return answer;
  };
})();
"""  # captions may be small; body text is 16px


# ---------------------------------------------------------------- the site, built once


@dataclass(frozen=True)
class BuiltSite:
    project: Path
    manifest: Manifest
    canaries: dict[str, str]  # paid lesson URL → a sentence only its private page holds

    def paid_lessons(self, course: str) -> list[str]:
        return [url for url, page in self.manifest.gated.items() if page.course == course]

    def tier_courses(self, tier: str) -> list[str]:
        return list(self.manifest.tiers[tier].courses)

    def open_at_once(self, lessons: list[str]) -> list[str]:
        """Those of `lessons` a new buyer reads at once: all but the dripped ones
        (`available_after_days`), which open that many days after the access began."""
        return [url for url in lessons if not self.manifest.gated[url].available_after_days]


def copy_project(dest: Path) -> Path:
    """The example project (content/, themes/, mkdocs.yml) copied to `dest`.

    Not `session_project_copy`: the builder suite plants its own canaries in that copy and
    rebuilds it in place, which would swap site/ under a running app here.
    """
    dest.mkdir(parents=True)
    for name in ("content", "themes"):
        shutil.copytree(REPO_ROOT / name, dest / name)
    shutil.copy2(REPO_ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    return dest


def plant_canaries(project: Path) -> dict[str, str]:
    """Append a unique sentence to the paid part (after the teaser marker) of every lesson
    that is not a free preview; returns lesson URL → sentence."""
    canaries = {}
    for lesson in sorted((project / "content" / "courses").glob("*/[0-9]*.md")):
        text = lesson.read_text(encoding="utf-8")
        meta, _ = split_front_matter(text)
        if meta.get("free_preview"):
            continue
        if MARKER not in text:
            pytest.fail(f"{lesson}: paid lesson without a `{MARKER}` line")
        sentence = f"KPBROWSERCANARY{uuid.uuid4().hex[:12]} belongs to the paid part"
        lesson.write_text(f"{text.rstrip()}\n\n{sentence}.\n", encoding="utf-8")
        canaries[f"/courses/{lesson.parent.name}/{lesson.stem}/"] = sentence
    if not canaries:
        pytest.fail("example content has no paid lessons")
    return canaries


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    project = copy_project(tmp_path_factory.mktemp("browser") / "project")
    canaries = plant_canaries(project)
    build_site(project / "mkdocs.yml")
    manifest = read_manifest(project / "private" / "manifest.json")
    missing = sorted(set(canaries) - set(manifest.gated))
    assert not missing, f"paid lessons the build did not gate: {missing}"
    return BuiltSite(project, manifest, canaries)


# ---------------------------------------------------------------- app + local Stripe


class OffsetClock:
    """Real UTC time plus an offset the test moves forward (the app's clock); LocalStripe's
    clock works the same way, so both can jump a month together without sleeping."""

    def __init__(self) -> None:
        self._offset = dt.timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return dt.datetime.now(dt.UTC) + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += dt.timedelta(seconds=seconds)


class Outbox:
    """The development outbox (var/outbox/*.eml), read the way a developer would."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def messages(self, to: str) -> list[email.message.EmailMessage]:
        found = []
        for path in sorted(self.directory.glob("*.eml")) if self.directory.is_dir() else []:
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if str(msg["To"]).lower() == to.lower():
                found.append(msg)
        return found

    def wait_for_link(self, to: str, seen: int, timeout: float = 10.0) -> str:
        """The magic link in the first message to `to` after the `seen` ones already there."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages(to)
            if len(msgs) > seen:
                part = msgs[seen].get_body(preferencelist=("plain", "html"))
                body = part.get_content() if part is not None else ""
                match = LINK_RE.search(body)
                assert match, f"no magic link in the e-mail to {to}:\n{body}"
                return match.group(0)
            if time.monotonic() > deadline:
                raise AssertionError(f"no new e-mail to {to} in {self.directory}")
            time.sleep(0.05)


@dataclass
class Stack:
    """One running system: the paywall app and the local Stripe server that calls it back."""

    url: str
    site: BuiltSite
    stripe: LocalStripe
    clock: OffsetClock
    outbox: Outbox
    settings: Settings
    webhook_secret: str

    def advance(self, seconds: int) -> None:
        """Move both clocks: the app's first, so the webhooks Stripe sends on the way (period
        ends, renewals) are processed at the new time."""
        self.clock.advance(seconds)
        self.stripe.advance(seconds)
        self.stripe.drain()

    def forged_webhook(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """An event body signed with a secret that is not the endpoint's (an attacker's)."""
        body = json.dumps(event, separators=(",", ":")).encode()
        wrong = "whsec_" + secrets.token_hex(16)
        assert wrong != self.webhook_secret
        return body, {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature_header(body, wrong),
        }


@pytest.fixture
def stack_settings() -> dict[str, Any]:
    """Extra settings for the stack's paywall (e.g. KP_ADMIN_EMAILS); override in a module."""
    return {}


@pytest.fixture
def stack(built_site: BuiltSite, tmp_path: Path, stack_settings: dict[str, Any]) -> Iterator[Stack]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secret = "whsec_" + secrets.token_hex(16)
    local = LocalStripe(
        webhook_url=f"{url}/api/stripe/webhook", webhook_secret=secret, delivery="sync"
    ).start()
    try:
        sync_catalog(local.client(), built_site.manifest)
        settings = load_settings(
            _env_file=None,
            KP_PROJECT_DIR=built_site.project,
            KP_VAR_DIR=tmp_path / "var",
            KP_DATABASE_URL=None,
            KP_SECRET_KEY="browser-tests-secret-key-0123456789abcdef",
            KP_BASE_URL=url,
            KP_SMTP_HOST=None,
            STRIPE_SECRET_KEY=local.api_key,
            STRIPE_WEBHOOK_SECRET=secret,
            STRIPE_API_BASE=local.url,
            **stack_settings,
        )
        clock = OffsetClock()
        mailer = OutboxMailer(settings.var_path / "outbox", settings.mail_from, console=None)
        pw = make_paywall(settings, mailer=mailer, clock=clock)
        server = ServerThread(create_app(settings, paywall=pw), port=port).start()
        try:
            yield Stack(url, built_site, local, clock, Outbox(mailer.outbox_dir), settings, secret)
        finally:
            server.stop()
            pw.engine.dispose()
    finally:
        local.stop()


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def playwright_instance(built_site: BuiltSite) -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    launched = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(params=["desktop", "phone"])
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Reader:
    """A person in a browser tab: visits, presses buttons (checking on the way that each is
    reachable and readable at this viewport), reads e-mail, takes screenshots."""

    page: Page
    stack: Stack
    viewport: str
    name: str
    errors: list[str] = field(default_factory=list)

    @property
    def size(self) -> dict[str, int]:
        return PHONE if self.viewport == "phone" else DESKTOP

    def at(self, path: str) -> str:
        return self.stack.url + path

    # -- navigation ------------------------------------------------------------------------

    def visit(self, path: str) -> None:
        """Open a page of the site and wait until its script has shown who is signed in."""
        self.page.goto(self.at(path))
        self.settle()

    def settle(self) -> dict[str, Any] | None:
        """Wait until the current page's script has asked /api/me and updated the header
        (see ME_PROBE); returns what /api/me said."""
        me = self.page.evaluate("window.__kpMe")
        assert me != "timeout", f"{self.path()} never asked /api/me (is kp.js missing?)"
        if me and me.get("authenticated"):
            self.page.wait_for_selector("[data-kp-account].kp-account--member", state="attached")
        return me

    def path(self) -> str:
        return self.page.url.removeprefix(self.stack.url).split("#")[0]

    # -- what the reader sees ---------------------------------------------------------------

    def html(self) -> str:
        return self.page.content()

    def signed_in_as(self) -> str | None:
        """The e-mail the header shows, or None when it offers "Sign in"."""
        link = self.page.locator("[data-kp-account]")
        if "kp-account--member" not in (link.get_attribute("class") or ""):
            return None
        return (link.locator("[data-kp-account-label]").text_content() or "").strip()

    def shows_canary(self, lesson: str) -> bool:
        return self.stack.site.canaries[lesson] in self.html()

    def fetch(self, path: str) -> str:
        """A page as this browser's cookies get it, without rendering it (for sweeps over
        many lessons; the journeys render the ones a person would look at)."""
        response = self.page.request.get(self.at(path), max_redirects=0)
        assert response.status == 200, f"GET {path}: {response.status}"
        return response.text()

    def unlocked(self, lessons: list[str]) -> list[str]:
        """Which of these lessons show this browser their paid text."""
        canaries = self.stack.site.canaries
        return [url for url in lessons if canaries[url] in self.fetch(url)]

    def check_fits_width(self) -> None:
        """No horizontal scrolling: the page is as wide as the viewport, not wider."""
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.size["width"], (
            f"{self.path()} is {width}px wide at a {self.size['width']}px viewport"
        )

    def check_readable(self, block: Locator) -> None:
        """The block is visible, inside the viewport's width, its text not clipped and in a
        font large enough to read on a phone."""
        block.scroll_into_view_if_needed()
        assert block.is_visible(), f"{block} is not visible on {self.path()}"
        box = block.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= self.size["width"] + 0.5, (
            f"{block} spans x={box['x']:.0f}..{box['x'] + box['width']:.0f}, "
            f"viewport {self.size['width']}px"
        )
        problems = block.evaluate(
            """(root, minPx) => {
                const bad = [];
                const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
                while (walker.nextNode()) {
                    const node = walker.currentNode;
                    const el = node.parentElement;
                    if (!node.textContent.trim() || !el.offsetParent) continue;
                    const style = getComputedStyle(el);
                    if (parseFloat(style.fontSize) < minPx)
                        bad.push(`${style.fontSize} "${node.textContent.trim().slice(0, 40)}"`);
                    if (el.scrollWidth > el.clientWidth + 1 && style.overflowX === "hidden")
                        bad.push(`clipped "${node.textContent.trim().slice(0, 40)}"`);
                }
                return bad;
            }""",
            MIN_FONT_PX,
        )
        assert not problems, f"hard to read on {self.path()} ({self.viewport}): {problems}"

    def press(self, button: Locator, navigates: bool = True) -> None:
        """Click like a person: scroll it to the middle of the screen (clear of the sticky
        header), check it is entirely in the viewport and nothing covers its centre, click;
        then wait for the page it leads to (and that page's header)."""
        button.evaluate("el => el.scrollIntoView({block: 'center', inline: 'nearest'})")
        assert button.is_visible() and button.is_enabled(), f"{button} cannot be pressed"
        box = button.bounding_box()
        assert box is not None
        width, height = self.size["width"], self.size["height"]
        inside = (
            box["x"] >= 0
            and box["y"] >= 0
            and box["x"] + box["width"] <= width + 0.5
            and box["y"] + box["height"] <= height + 0.5
        )
        assert inside, f"{button} at {box} is not inside the {width}x{height} viewport"
        on_top = button.evaluate(
            """el => {
                const r = el.getClientRects()[0];  // a link wrapping lines: its first line
                const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                return hit === el || el.contains(hit) ? ''
                    : (hit ? hit.outerHTML.slice(0, 120) : 'nothing');
            }"""
        )
        assert on_top == "", f"{button} is covered by {on_top}"
        if not navigates:
            button.click()
            return
        with self.page.expect_navigation():
            button.click()
        if self.page.url.startswith(self.stack.url + "/"):
            self.settle()  # a page of the site: wait for its header, as `visit` does

    # -- e-mail ------------------------------------------------------------------------------

    def mails_to(self, address: str) -> int:
        return len(self.stack.outbox.messages(address))

    def follow_magic_link(self, address: str, seen: int) -> None:
        """Open the link from the newest e-mail, as clicking it in a mail app would. In the
        browser that asked for it the link's page signs in by itself; anywhere else (a
        purchase e-mail's link, say) it asks, and the reader presses its button."""
        link = self.stack.outbox.wait_for_link(address, seen)
        # Which page it is, asked first with this browser's cookies (a GET never uses the
        # link): one that submits itself is waited for, never also pressed (a race).
        automatic = AUTO_SUBMIT in self.page.request.get(link).text()
        self.page.goto(link, wait_until="commit")
        if automatic:
            self.page.wait_for_url(lambda url: "/api/login/callback" not in url, timeout=30_000)
        else:  # it asks: press its button
            self.press(self.page.locator("form#kp-confirm button"))
        self.page.wait_for_load_state()
        self.settle()

    def sign_in(self, address: str, next_path: str = "/account/") -> None:
        """The sign-in form on /account/ → magic link from the outbox → signed in."""
        self.visit(f"/account/?next={next_path}")
        form = self.page.locator("form[action='/api/login']").first
        seen = self.mails_to(address)
        form.locator("input[name=email]").fill(address)
        self.press(form.locator("button[type=submit]"))
        self.follow_magic_link(address, seen)
        assert self.signed_in_as() == address

    # -- screenshots -------------------------------------------------------------------------

    def screenshot(
        self,
        name: str,
        first: Locator | None = None,
        last: Locator | None = None,
        *,
        margin: int = 24,
        height: int | None = None,
    ) -> Path:
        """Save test-artifacts/screenshots/<name>-<viewport>.png: the viewport, or the full
        width from the top of `first` to the bottom of `last` (default: `first`), or
        `height` pixels from the top of `first`."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}-{self.viewport}.png"
        if first is None:
            self.page.screenshot(path=path)
            return path
        self.page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the page's top
        top = self._document_box(first)[0] - margin
        bottom = self._document_box(last or first)[1] + margin
        top = max(0.0, top)
        clip = {"x": 0, "y": top, "width": self.size["width"], "height": height or bottom - top}
        self.page.screenshot(path=path, full_page=True, clip=clip)
        return path

    @staticmethod
    def _document_box(block: Locator) -> tuple[float, float]:
        """(top, bottom) of a block in page coordinates, independent of the scroll."""
        return tuple(
            block.evaluate(
                "el => { const r = el.getBoundingClientRect();"
                " return [r.top + scrollY, r.bottom + scrollY]; }"
            )
        )


@pytest.fixture
def reader(browser: Browser, stack: Stack, viewport: str) -> Iterator[Reader]:
    size = PHONE if viewport == "phone" else DESKTOP
    context = browser.new_context(
        viewport=size,
        is_mobile=viewport == "phone",
        has_touch=viewport == "phone",
        locale="en-US",
    )
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    context.add_init_script(ME_PROBE)
    page = context.new_page()
    # Generous: on a loaded 2-core machine chromium's "stable element" check before a click
    # can take seconds (smooth scrolling, throttled animation frames); a real hang still fails.
    page.set_default_timeout(30_000)
    person = Reader(page, stack, viewport, "reader")
    page.on("pageerror", lambda exc: person.errors.append(f"{page.url}: {exc.message}"))
    try:
        yield person
    finally:
        context.close()
    assert person.errors == [], f"JavaScript errors: {person.errors}"
