"""Serving the built site: public files from `site/`, gated lessons from `private/`.

Path safety is decided here, once, for both the file server and `/api/auth`:
the raw request path is decoded exactly once, and anything that could climb out of a root or
smuggle a separator (`..`, `.`, encoded `/` or `\\`, NUL, control characters) is refused before
a file name is built. Every file is then resolved (symlinks followed) and must still lie inside
its root. From `private/`, only the files the manifest names as a gated page's `private_file`
are ever read — never the manifest itself, the page shells or anything else there.

A gated URL answers 200 either way (full page to an entitled member, the public teaser to
everyone else) and is never cached by shared caches.
"""

from __future__ import annotations

import email.utils
import mimetypes
import os
import stat
from enum import Enum
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from kp_contract.manifest import MEMBER_KEY, GatedPage, Manifest
from paywall.database.models import Member
from paywall.members.entitlements import is_entitled
from paywall.members.sign_in import current_member
from paywall.runtime.context import Paywall
from paywall.runtime.db_threads import run_db
from paywall.runtime.logs import get_logger, kv
from paywall.runtime.pages import NO_STORE, esc, render_page
from paywall.runtime.url_paths import (
    UnsafePath,
    UrlPath,
    contained_file,
    request_url_path,
)

log = get_logger("paywall.web.serving")

HTML_CACHE = "no-cache"  # revalidate every time (cheap with ETag): a rebuild shows at once
ASSET_CACHE = "public, max-age=3600"
GATED_CACHE = NO_STORE
CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".xml": "application/xml",
    ".txt": "text/plain",
    ".gz": "application/gzip",
    ".pdf": "application/pdf",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
}


def site_file(site_root: Path, url: UrlPath) -> Path | None:
    """The file in `site/` for a URL (`/a/b/` → a/b/index.html), if safely inside."""
    rel = Path(*url.segments) if url.segments else Path()
    if url.trailing_slash:
        rel = rel / "index.html"
    return contained_file(site_root, rel)


def is_directory_url(site_root: Path, url: UrlPath) -> bool:
    """`/a/b` names a directory with an index: the client should get `/a/b/`."""
    if url.trailing_slash or not url.segments:
        return False
    return contained_file(site_root, Path(*url.segments, "index.html")) is not None


# ---------------------------------------------------------------- gated pages


def private_lesson_file(private_root: Path, manifest: Manifest, page: GatedPage) -> Path | None:
    """The full page for a gated URL: only a file the manifest names as `private_file`, and
    never the manifest or a page shell even if a (broken) manifest points at one."""
    target = contained_file(private_root, page.private_file)
    if target is None or target.suffix not in (".html", ".htm"):
        return None
    root = private_root.resolve()
    forbidden = {(root / "manifest.json").resolve()}
    forbidden |= {(root / shell).resolve() for shell in manifest.shells.values()}
    if target in forbidden:
        log.error(kv("serving.private_file_refused", url=page.url, reason="manifest-or-shell"))
        return None
    return target


class Access(Enum):
    GRANTED = "granted"  # entitled (or the URL is not gated)
    ANONYMOUS = "anonymous"  # gated, nobody signed in
    DENIED = "denied"  # gated, signed in without a matching entitlement


def access_for(pw: Paywall, member: Member | None, page: GatedPage | None) -> Access:
    """Whether `member` may read `page` (None: not gated). Sync: it may query the database."""
    if page is None:
        return Access.GRANTED
    if member is None:
        return Access.ANONYMOUS
    if MEMBER_KEY in page.requires:
        return Access.GRANTED
    with pw.sessions() as db:
        allowed = is_entitled(db, member, list(page.requires), pw.now())
    return Access.GRANTED if allowed else Access.DENIED


def gated_page_for(pw: Paywall, url: UrlPath) -> GatedPage | None:
    manifest = pw.manifest()
    return manifest.page_for(url.canonical) if manifest else None


async def access_for_request(request: Request, page: GatedPage | None) -> Access:
    if page is None:
        return Access.GRANTED
    pw: Paywall = request.app.state.paywall
    member = await run_db(pw, current_member, request)
    return await run_db(pw, access_for, pw, member, page)


# ---------------------------------------------------------------- responses


def content_type(path: Path) -> str:
    return (
        CONTENT_TYPES.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )


def etag_for(st: os.stat_result) -> str:
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


def not_modified(request: Request, etag: str, mtime: float) -> bool:
    """Conditional GET: If-None-Match wins; If-Modified-Since only when it is absent."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            since = email.utils.parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        return int(mtime) <= since
    return False


def static_file_response(request: Request, path: Path) -> Response:
    """A public file with validators (ETag, Last-Modified) and a Cache-Control by kind."""
    st = path.stat()
    etag = etag_for(st)
    kind = content_type(path)
    headers = {
        "ETag": etag,
        "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True),
        "Cache-Control": HTML_CACHE if kind == "text/html" else ASSET_CACHE,
    }
    if not_modified(request, etag, st.st_mtime):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, headers=headers, media_type=kind, stat_result=st)


def not_found(pw: Paywall, request: Request) -> Response:
    """The site's own 404 page (site/404.html) with status 404, or a built-in one."""
    page = contained_file(pw.settings.site_path, "404.html")
    headers = {"Cache-Control": HTML_CACHE}
    if page is not None:
        return HTMLResponse(page.read_bytes(), status_code=404, headers=headers)
    response = render_page(pw, request, "Page not found", "", status=404)
    response.headers["Cache-Control"] = HTML_CACHE
    return response


def gated_response(pw: Paywall, request: Request, path: Path) -> Response:
    """A gated page (full or teaser): same status, personal, never stored by any cache."""
    body = path.read_bytes()
    headers = {"Cache-Control": GATED_CACHE, "Vary": "Cookie"}
    return HTMLResponse(body, status_code=200, headers=headers)


def missing_teaser(pw: Paywall, request: Request, page: GatedPage) -> Response:
    """A gated URL whose teaser the build did not write: still 200 with a paywall block."""
    body = (
        f'<div class="kp-paywall"><p>This page is for members.'
        f'</p><p><a href="/account/?next={esc(page.url)}">Sign in</a></p></div>'
    )
    response = render_page(pw, request, page.title, body, lang=page.lang)
    response.headers["Vary"] = "Cookie"
    return response


async def serve_gated(request: Request, page: GatedPage, url: UrlPath) -> Response:
    pw: Paywall = request.app.state.paywall
    access = await access_for_request(request, page)
    manifest = pw.manifest()
    if access is Access.GRANTED and manifest is not None:
        full = private_lesson_file(pw.settings.private_path, manifest, page)
        if full is not None:
            log.info(kv("serving.gated", url=page.url, access="full"))
            return gated_response(pw, request, full)
        log.error(kv("serving.private_file_missing", url=page.url, file=page.private_file))
    teaser = site_file(pw.settings.site_path, url)
    log.info(kv("serving.gated", url=page.url, access=access.value))
    if teaser is None:
        return missing_teaser(pw, request, page)
    return gated_response(pw, request, teaser)


async def serve_site(request: Request) -> Response:
    """The catch-all route: gated page, public file, directory redirect, or the 404 page."""
    pw: Paywall = request.app.state.paywall
    try:
        url = request_url_path(request)
    except UnsafePath as exc:
        log.warning(kv("serving.unsafe_path", reason=str(exc)))
        return not_found(pw, request)
    site_root = pw.settings.site_path
    page = gated_page_for(pw, url)
    if page is not None and not is_directory_url(site_root, url):
        return await serve_gated(request, page, url)
    if is_directory_url(site_root, url):
        query = request.url.query
        target = url.canonical + "/" + (f"?{query}" if query else "")
        return RedirectResponse(target, status_code=301)
    path = site_file(site_root, url)
    if path is None or not stat.S_ISREG(path.stat().st_mode):
        return not_found(pw, request)
    return static_file_response(request, path)
