"""Serving the built site: public files from `site/`, gated lessons from `private/`.

Path safety is decided here, once, for both the file server and `/api/auth`:
the raw request path is decoded exactly once, and anything that could climb out of a root or
smuggle a separator (`..`, `.`, encoded `/` or `\\`, NUL, control characters) is refused before
a file name is built. Every file is then resolved (symlinks followed) and must still lie inside
its root. From `private/`, only the files the manifest names as a gated page's `private_file`
are ever read — never the manifest itself, the page shells or anything else there.

A gated URL answers 200 either way (full page to an entitled member, the public teaser to
everyone else) and is never cached by shared caches.

Speed: a file is checked and read once, then served from memory while it stays the same
file (`paywall.web.file_cache`: one `stat` per request, no thread); a session's access is
decided in memory too (`paywall.members.access_cache`, dropped on any change of access,
within 0.5 s on other workers). Only a miss, a large file or a Range request goes to a
thread.
"""

from __future__ import annotations

import email.utils
import mimetypes
import os
from enum import Enum
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from kp_contract.manifest import GatedPage, Manifest
from paywall.members.access_cache import AccessCache
from paywall.members.page_access import PageAccess, page_access
from paywall.members.sign_in import COOKIE_NAME
from paywall.runtime.context import Paywall
from paywall.runtime.logs import get_logger, kv
from paywall.runtime.pages import NO_STORE, esc, render_page
from paywall.runtime.url_paths import (
    UnsafePath,
    UrlPath,
    contained_file,
    request_url_path,
)
from paywall.web.file_cache import CachedFile, FileCache
from paywall.web.file_cache import load as load_file

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
    return contained_file(site_root, site_relative(url))


def site_relative(url: UrlPath) -> Path:
    rel = Path(*url.segments) if url.segments else Path()
    return rel / "index.html" if url.trailing_slash else rel


def is_directory_url(site_root: Path, url: UrlPath) -> bool:
    """`/a/b` names a directory with an index: the client should get `/a/b/`."""
    if url.trailing_slash or not url.segments:
        return False
    return contained_file(site_root, Path(*url.segments, "index.html")) is not None


# ---------------------------------------------------------------- files, from memory


def file_caches(request: Request) -> tuple[FileCache, FileCache]:
    """This app's caches of `site/` files and of full lessons from `private/`."""
    state = request.app.state
    caches: tuple[FileCache, FileCache] | None = getattr(state, "kp_file_caches", None)
    if caches is None:
        caches = (FileCache(), FileCache())
        state.kp_file_caches = caches
    return caches


def _resolve_and_load(root: Path, rel: Path | str, max_bytes: int) -> CachedFile | None:
    target = contained_file(root, rel)
    return load_file(target, max_bytes) if target is not None else None


async def site_entry(request: Request, site_root: Path, rel: Path) -> CachedFile | None:
    """A file of `site/` (checked, maybe with its bytes), from memory when unchanged."""
    cache = file_caches(request)[0]
    name = os.path.join(site_root, rel)
    entry = cache.get(name)
    if entry is None:
        entry = await run_in_threadpool(_resolve_and_load, site_root, rel, cache.max_file_bytes)
        if entry is not None:
            cache.put(name, entry)
    return entry


async def directory_url(request: Request, site_root: Path, url: UrlPath) -> bool:
    """`is_directory_url`, costing one `stat` on the loop when the answer is no."""
    if url.trailing_slash or not url.segments:
        return False
    rel = Path(*url.segments, "index.html")
    if file_caches(request)[0].get(os.path.join(site_root, rel)) is not None:
        return True
    if not os.path.isfile(os.path.join(site_root, rel)):
        return False
    return await site_entry(request, site_root, rel) is not None


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


def _load_lesson(
    private_root: Path, manifest: Manifest, page: GatedPage, max_bytes: int
) -> CachedFile | None:
    target = private_lesson_file(private_root, manifest, page)
    return load_file(target, max_bytes) if target is not None else None


async def lesson_entry(
    request: Request, private_root: Path, manifest: Manifest, page: GatedPage
) -> CachedFile | None:
    """The full lesson's file, from memory while it and the manifest are unchanged (the
    checks of `private_lesson_file` depend on the manifest: a new one empties the cache)."""
    cache = file_caches(request)[1]
    if cache.owner is not manifest:
        cache.clear()
        cache.owner = manifest
    name = os.path.join(private_root, page.private_file)
    entry = cache.get(name)
    if entry is None:
        entry = await run_in_threadpool(
            _load_lesson, private_root, manifest, page, cache.max_file_bytes
        )
        if entry is not None:
            cache.put(name, entry)
    return entry


class Access(Enum):
    GRANTED = "granted"  # entitled (or the URL is not gated)
    ANONYMOUS = "anonymous"  # gated, nobody signed in
    DENIED = "denied"  # gated, signed in without a matching entitlement
    NOT_YET = "not-yet"  # entitled, but a dripped lesson that opens later (members.drip)


_ACCESS = {
    PageAccess.GRANTED: Access.GRANTED,
    PageAccess.DENIED: Access.DENIED,
    PageAccess.NOT_YET: Access.NOT_YET,
}


def gated_page_for(pw: Paywall, url: UrlPath) -> GatedPage | None:
    manifest = pw.manifest()
    return manifest.page_for(url.canonical) if manifest else None


def access_cache(request: Request) -> AccessCache:
    """This app's cache of sessions and their entitlements (`paywall.members.access_cache`)."""
    state = request.app.state
    cache: AccessCache | None = getattr(state, "kp_access_cache", None)
    if cache is None:
        cache = AccessCache(state.paywall)
        state.kp_access_cache = cache
    return cache


async def access_for_request(request: Request, page: GatedPage | None) -> Access:
    """Whether the request's session may read `page` (None: not gated), decided from the
    access cache: a database call only when the session is not cached or access changed
    since. Gated serving and `/api/auth` both ask here, so they never disagree; a dripped
    lesson is decided here too (`paywall.members.drip`)."""
    if page is None:
        return Access.GRANTED
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return Access.ANONYMOUS
    pw: Paywall = request.app.state.paywall
    session = await access_cache(request).lookup(token)
    now = pw.now()
    if session is None or not session.live(now):
        return Access.ANONYMOUS
    decided = page_access(session.grants, page.requires, page.available_after_days, now)
    return _ACCESS[decided]


# ---------------------------------------------------------------- responses


def content_type(path: Path) -> str:
    return (
        CONTENT_TYPES.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )


def _with_charset(kind: str) -> str:
    """The Content-Type Starlette sends for `kind` (text types say utf-8)."""
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind


class BytesResponse(Response):
    """Bytes already in memory with headers already made: nothing parsed or rendered."""

    def __init__(
        self, body: bytes, headers: list[tuple[bytes, bytes]], status_code: int = 200
    ) -> None:
        self.status_code = status_code
        self.body = body
        self.background = None
        self.raw_headers = [*headers, (b"content-length", str(len(body)).encode())]


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


def static_file_response(request: Request, entry: CachedFile) -> Response:
    """A public file with validators (ETag, Last-Modified) and a Cache-Control by kind:
    from memory when cached, streamed for large files and Range requests."""
    kind = content_type(entry.path)
    cache_control = HTML_CACHE if kind == "text/html" else ASSET_CACHE
    if not_modified(request, entry.etag, entry.mtime):
        headers = {
            "ETag": entry.etag,
            "Last-Modified": entry.last_modified,
            "Cache-Control": cache_control,
        }
        return Response(status_code=304, headers=headers)
    if entry.body is None or "range" in request.headers:
        headers = {
            "ETag": entry.etag,
            "Last-Modified": entry.last_modified,
            "Cache-Control": cache_control,
        }
        return FileResponse(entry.path, headers=headers, media_type=kind)
    return BytesResponse(
        entry.body,
        [
            (b"etag", entry.etag.encode("latin-1")),
            (b"last-modified", entry.last_modified.encode("latin-1")),
            (b"cache-control", cache_control.encode("latin-1")),
            (b"accept-ranges", b"bytes"),
            (b"content-type", _with_charset(kind).encode("latin-1")),
        ],
    )


async def not_found(pw: Paywall, request: Request) -> Response:
    """The site's own 404 page (site/404.html) with status 404, or a built-in one."""
    page = await site_entry(request, pw.settings.site_path, Path("404.html"))
    if page is not None:
        body = page.body if page.body is not None else page.path.read_bytes()
        headers = [
            (b"cache-control", HTML_CACHE.encode()),
            (b"content-type", b"text/html; charset=utf-8"),
        ]
        return BytesResponse(body, headers, status_code=404)
    response = render_page(pw, request, "Page not found", "", status=404)
    response.headers["Cache-Control"] = HTML_CACHE
    return response


GATED_HEADERS = [
    (b"cache-control", GATED_CACHE.encode()),
    (b"vary", b"Cookie"),
    (b"content-type", b"text/html; charset=utf-8"),
]


async def gated_response(entry: CachedFile) -> Response:
    """A gated page (full or teaser): same status, personal, never stored by any cache."""
    body = entry.body
    if body is None:  # larger than the cache keeps
        body = await run_in_threadpool(entry.path.read_bytes)
    return BytesResponse(body, GATED_HEADERS)


def missing_teaser(pw: Paywall, request: Request, page: GatedPage) -> Response:
    """A gated URL whose teaser the build did not write: still 200 with a paywall block."""
    body = (
        f'<div class="kp-paywall"><p>This page is for members.'
        f'</p><p><a href="/account/?next={esc(page.url)}">Sign in</a></p></div>'
    )
    response = render_page(pw, request, page.title, body, lang=page.lang)
    response.headers["Vary"] = "Cookie"
    return response


async def serve_gated(
    request: Request, page: GatedPage, url: UrlPath, manifest: Manifest
) -> Response:
    pw: Paywall = request.app.state.paywall
    access = await access_for_request(request, page)
    if access is Access.GRANTED:
        full = await lesson_entry(request, pw.settings.private_path, manifest, page)
        if full is not None:
            log.debug(kv("serving.gated", url=page.url, access="full"))
            return await gated_response(full)
        log.error(kv("serving.private_file_missing", url=page.url, file=page.private_file))
    teaser = await site_entry(request, pw.settings.site_path, site_relative(url))
    log.debug(kv("serving.gated", url=page.url, access=access.value))
    if teaser is None:
        return missing_teaser(pw, request, page)
    return await gated_response(teaser)


async def serve_site(request: Request) -> Response:
    """The catch-all route: gated page, public file, directory redirect, or the 404 page."""
    pw: Paywall = request.app.state.paywall
    try:
        url = request_url_path(request)
    except UnsafePath as exc:
        log.warning(kv("serving.unsafe_path", reason=str(exc)))
        return await not_found(pw, request)
    site_root = pw.settings.site_path
    manifest = pw.manifest()
    page = manifest.page_for(url.canonical) if manifest else None
    if await directory_url(request, site_root, url):
        query = request.url.query
        target = url.canonical + "/" + (f"?{query}" if query else "")
        return RedirectResponse(target, status_code=301)
    if page is not None and manifest is not None:
        return await serve_gated(request, page, url, manifest)
    entry = await site_entry(request, site_root, site_relative(url))
    if entry is None:
        return await not_found(pw, request)
    return static_file_response(request, entry)
