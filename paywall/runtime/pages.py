"""Dynamic pages in the site's own look: the build writes a themed page shell per language to
`private/` (see `kp_contract.manifest.SHELL_TITLE` / `SHELL_BODY`); the paywall fills in its
content.

Without a build (fresh checkout, tests of the bare server) a minimal built-in page is used,
so every dynamic page still renders.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse

from kp_contract.manifest import SHELL_BODY, SHELL_TITLE, Manifest
from paywall.runtime.context import Paywall
from paywall.runtime.logs import get_logger, kv

log = get_logger("paywall.runtime.pages")

FALLBACK_SHELL = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{SHELL_TITLE}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;
line-height:1.5}}</style></head>
<body><main><h1>{SHELL_TITLE}</h1>{SHELL_BODY}</main></body></html>
"""

NO_STORE = "private, no-store"


class _ShellCache:
    """Shell text per file, re-read when the build replaces it (mtime/inode change)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[int, int], str]] = {}

    def read(self, path: Path) -> str | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_ino)
        with self._lock:
            hit = self._cache.get(path)
            if hit and hit[0] == stamp:
                return hit[1]
        text = path.read_text(encoding="utf-8")
        with self._lock:
            self._cache[path] = (stamp, text)
        return text


_shells = _ShellCache()


def shell_path(private_root: Path, manifest: Manifest, lang: str) -> Path | None:
    """The shell file for `lang` (else the default language), only if it lies in private/."""
    rel = manifest.shells.get(lang) or manifest.shells.get(manifest.default_lang)
    if not rel:
        return None
    root = private_root.resolve()
    candidate = (root / rel).resolve()
    if not candidate.is_relative_to(root):
        log.warning(kv("pages.shell_outside_private", lang=lang))
        return None
    return candidate


def load_shell(pw: Paywall, lang: str) -> str:
    """The themed shell, or the built-in one when there is no usable build output."""
    manifest = pw.manifest()
    if manifest is None:
        return FALLBACK_SHELL
    path = shell_path(pw.settings.private_path, manifest, lang)
    text = _shells.read(path) if path else None
    if text is None or SHELL_BODY not in text:
        return FALLBACK_SHELL
    return text


def fill_shell(shell: str, title: str, body_html: str) -> str:
    """Title is escaped (plain text); the body is trusted HTML built by the paywall."""
    return shell.replace(SHELL_TITLE, html.escape(title)).replace(SHELL_BODY, body_html, 1)


def render_page(
    pw: Paywall,
    request: Request | None,
    title: str,
    body_html: str,
    lang: str = "en",
    status: int = 200,
) -> HTMLResponse:
    """A full HTML page: the shell for `lang` with `title` and `body_html` filled in.

    Dynamic pages are personal (who is signed in, what they bought): never cached.
    """
    page = fill_shell(load_shell(pw, lang), title, body_html)
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": NO_STORE})


def esc(value: object) -> str:
    """HTML-escape any value for interpolation into page bodies."""
    return html.escape(str(value), quote=True)
