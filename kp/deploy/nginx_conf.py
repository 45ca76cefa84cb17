"""The text of `kp.conf`: an nginx front for the built site, to include inside `http {}`.

How the generated file works (docs/nginx.md says it for operators):

- Public files come from `site/`, served by nginx itself with the paywall's cache headers.
  Anything that is not a file there (the 404 page, `/dir` → `/dir/` redirects, unsafe paths)
  is passed to the paywall, so it answers exactly as `kp serve` does.
- Every gated URL of the manifest (both `/x/` and `/x/index.html`) gets an exact `location`.
  nginx asks the paywall (`auth_request` to `GET /api/auth?uri=<the manifest's URL>`) and
  serves the full page from `private/` on 204, the teaser from `site/` on 401/403. The URL
  checked is the manifest's, never the client's spelling of it, and `private/` is only ever
  read through these fixed file names: no request can reach the manifest or a page shell.
- Requests without the session cookie get the teaser without reaching the paywall; grants
  (204) are cached by nginx per session cookie and URL for `auth_cache_seconds`, which is
  therefore how long a refund, a cancellation or a sign-out elsewhere can take to show.
- The paywall's routes (`/api/`, `/account/`, `/admin/`, `/checkout/`, `/healthz`, …, taken
  from the app's own route table) are proxied with the client's address and scheme, and the
  paywall's body limits; the webhook's body is passed on byte for byte.

The module only builds text from checked values; `kp.commands.deploy` gathers them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from kp.deploy.addresses import HostPort
from kp_contract.manifest import GatedPage, Manifest

UPSTREAM = "kp_paywall"
CACHE_ZONE = "kp_auth"
AUTH_LOCATION = "/_kp/auth"
INDENT = "    "
# Characters nginx would read as syntax or a variable even inside double quotes.
_UNSAFE_IN_STRING = re.compile(r'["\\$\x00-\x1f\x7f]')
_SERVER_NAME = re.compile(r"^(?:_|[A-Za-z0-9*.-]+|~[^\s;{}\"'$\\]+)$")


class DeployError(ValueError):
    """A value that cannot go into the generated configuration; the message names it."""


@dataclass(frozen=True)
class PaywallFacts:
    """What the front must know about the paywall, read from the paywall's own code by the
    command (never retyped here): its cookie, routes, headers and cache policies."""

    session_cookie: str
    auth_path: str
    route_paths: tuple[str, ...]  # every route but the catch-all file server
    html_cache: str
    asset_cache: str
    gated_cache: str
    security_headers: tuple[tuple[str, str], ...]
    content_types: tuple[tuple[str, str], ...]  # extension (".css") → type, as kp serve says


@dataclass(frozen=True)
class NginxOptions:
    listen: HostPort
    upstreams: tuple[HostPort, ...]
    site_dir: Path
    private_dir: Path
    server_name: str
    cache_dir: Path
    auth_cache_seconds: int  # 0: every request with a session cookie asks the paywall
    max_body_bytes: int
    path_body_limits: tuple[tuple[str, int], ...]  # exact paths with their own limit


def nginx_string(value: str, what: str) -> str:
    """`value` as a double-quoted nginx string; `DeployError` for what cannot be quoted."""
    if _UNSAFE_IN_STRING.search(value):
        raise DeployError(
            f"{what} {value!r} contains a quote, a backslash, a '$' or a control character, "
            "which nginx would not read literally"
        )
    return f'"{value}"'


def check_server_name(name: str) -> str:
    for part in name.split():
        if not _SERVER_NAME.match(part):
            raise DeployError(f"--server-name: {part!r} is not a host name nginx accepts")
    if not name.split():
        raise DeployError("--server-name is empty")
    return " ".join(name.split())


def proxied_locations(route_paths: Iterable[str]) -> list[str]:
    """nginx location specs covering the paywall's routes: a prefix (`^~ /api/`) for a route
    under a directory, an exact match (`= /healthz`) for a top-level name. A route with a
    parameter (`/certificates/{id}/`) is covered by its first directory's prefix."""
    specs: set[str] = set()
    for path in route_paths:
        first, slash, rest = path[1:].partition("/")
        unsafe = not path.startswith("/") or _UNSAFE_IN_STRING.search(path.replace("{", ""))
        if unsafe or "{" in first or ("{" in rest and not slash):
            raise DeployError(f"paywall route {path!r} cannot be written as an nginx location")
        if not first:
            raise DeployError("a paywall route at / would hide the site: not supported")
        specs.add(f"^~ /{first}/" if slash else f"= {path}")
    return sorted(specs, key=lambda spec: (spec.split()[1], spec))


_EXTENSION = re.compile(r"^\.[A-Za-z0-9][A-Za-z0-9+_-]*$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


def types_block(content_types: Iterable[tuple[str, str]]) -> list[str]:
    """`types {}` answering each extension as kp serve does (it replaces mime.types for this
    server); extensions nginx could not parse are left to `default_type`."""
    by_type: dict[str, set[str]] = {}
    for extension, media_type in content_types:
        if _EXTENSION.match(extension) and _MEDIA_TYPE.match(media_type) and "$" not in media_type:
            by_type.setdefault(media_type, set()).add(extension[1:].lower())
    lines = [
        f"{media_type} {' '.join(sorted(exts))};" for media_type, exts in sorted(by_type.items())
    ]
    return [*block("types", lines), f"{INDENT}default_type application/octet-stream;"]


def text_types(content_types: Iterable[tuple[str, str]]) -> list[str]:
    """The text/* types but text/html (always included): Starlette adds `charset=utf-8` to
    text/* answers, nginx to those listed in charset_types."""
    return sorted({t for _, t in content_types if t.startswith("text/") and t != "text/html"})


def block(header: str, lines: Iterable[str], depth: int = 1) -> list[str]:
    pad = INDENT * depth
    out = [f"{pad}{header} {{"]
    for line in lines:
        out.append(f"{pad}{INDENT}{line}" if line else "")
    out.append(f"{pad}}}")
    return out


# ---------------------------------------------------------------- pieces


PROXY_HEADERS = [
    "proxy_http_version 1.1;",
    'proxy_set_header Connection "";',
    "proxy_set_header Host $http_host;",
    "proxy_set_header X-Forwarded-For $remote_addr;",
    "proxy_set_header X-Forwarded-Proto $scheme;",
]


def proxy_location(spec: str, body_bytes: int | None = None) -> list[str]:
    """One line: pass the request to the workers (headers: PROXY_HEADERS, server level)."""
    size = f" client_max_body_size {body_bytes};" if body_bytes is not None else ""
    return [f"{INDENT}location {spec} {{ proxy_pass http://{UPSTREAM};{size} }}"]


def static_headers(facts: PaywallFacts, cache_control: str) -> list[str]:
    """The headers `kp serve` puts on a file: its security headers and a Cache-Control.
    (`always`: on the 404 page too. Each location lists them because nginx inherits
    `add_header` only into locations that have none of their own.)"""
    lines = [f"add_header Cache-Control {cache_control} always;"]
    lines += [f'add_header {name} "{value}" always;' for name, value in facts.security_headers]
    return lines


def gated_location(
    match: str, page: GatedPage, options: NginxOptions, facts: PaywallFacts
) -> list[str]:
    private_file = nginx_string("/" + page.private_file.lstrip("/"), f"private file of {page.url}")
    encoded = quote(page.url, safe="/-._~")
    lines = [
        f'set $kp_gated "{encoded}";',
        f"auth_request {AUTH_LOCATION};",
        # 401/403: not entitled. 500 (502-504 to be sure): the paywall did not answer the
        # check (restarting, down, overloaded): the reader gets the public teaser, never
        # an error page and never the full text.
        "error_page 401 403 500 502 503 504 = @kp_teaser;",
        f"root {nginx_string(str(options.private_dir), '--private-dir')};",
        f"try_files {private_file} @kp_teaser;",
        "etag off;",
        "if_modified_since off;",
        *static_headers(facts, nginx_string(facts.gated_cache, "gated Cache-Control")),
        "add_header Vary Cookie always;",
    ]
    return block(f"location = {nginx_string(match, 'gated URL')}", lines)


def gated_matches(page: GatedPage) -> list[str]:
    """The request paths that show this page: the manifest's `/x/` and `/x/index.html`
    (`/x` is a directory URL: the paywall redirects it to `/x/`, as `kp serve` does)."""
    if page.url.endswith("/"):
        return [page.url, page.url + "index.html"]
    return [page.url]


def auth_location(options: NginxOptions, facts: PaywallFacts) -> list[str]:
    cookie = f"$cookie_{facts.session_cookie}"
    lines = [
        "internal;",
        "# No session cookie: the teaser, without asking the paywall.",
        f'if ({cookie} = "") {{ return 401; }}',
        f"proxy_pass http://{UPSTREAM}{facts.auth_path}?uri=$kp_gated;",
        "proxy_pass_request_body off;",
        'proxy_set_header Content-Length "";',
        "# The answer depends on the session cookie and the URL only: the paywall gets",
        "# exactly the cookie the cache key holds. (A location with proxy_set_header of",
        "# its own inherits none from the server: the common ones are repeated.)",
        f'proxy_set_header Cookie "{facts.session_cookie}={cookie}";',
        *PROXY_HEADERS,
    ]
    if options.auth_cache_seconds > 0:
        seconds = options.auth_cache_seconds
        lines += [
            f"# Grants are reused for {seconds}s: the longest a revocation (refund,",
            "# cancellation, sign-out elsewhere) takes to show. Refusals are not cached,",
            "# so a purchase or a sign-in shows at once.",
            f"proxy_cache {CACHE_ZONE};",
            f'proxy_cache_key "{cookie} $kp_gated";',
            f"proxy_cache_valid 204 {seconds}s;",
            "proxy_cache_valid any 0;",
            "proxy_ignore_headers Cache-Control Expires X-Accel-Expires;",
            "proxy_cache_lock on;",
            "proxy_cache_use_stale off;",
        ]
    return block(f"location = {AUTH_LOCATION}", lines)


# ---------------------------------------------------------------- the file


def render_nginx_conf(options: NginxOptions, facts: PaywallFacts, manifest: Manifest) -> str:
    """The whole `kp.conf`: http-level pieces (upstream, maps, auth cache), then the server."""
    if not options.upstreams:
        raise DeployError("at least one --upstream HOST:PORT is needed")
    site_root = nginx_string(str(options.site_dir), "--site-dir")
    server_name = check_server_name(options.server_name)
    limits = dict(options.path_body_limits)
    out = [
        "# Generated by `kp deploy nginx` from the build manifest: regenerate it after every",
        "# `kp build` that adds or removes gated pages (nginx -s reload), never edit it by hand.",
        "# Include it inside http {}. How it works: docs/nginx.md.",
        "",
        f"upstream {UPSTREAM} {{",
        *(f"{INDENT}server {u};" for u in options.upstreams),
        f"{INDENT}keepalive 32;",
        "}",
        "",
        "# Directory URLs (ending in /) are their index.html.",
        "map $uri $kp_index {",
        f'{INDENT}~/$ "index.html";',
        f'{INDENT}default "";',
        "}",
        "",
        "# Cache-Control of public files as the paywall sets it: HTML revalidated, assets 1 h.",
        "map $sent_http_content_type $kp_static_cache {",
        f"{INDENT}~^text/html {nginx_string(facts.html_cache, 'HTML Cache-Control')};",
        f"{INDENT}default {nginx_string(facts.asset_cache, 'asset Cache-Control')};",
        "}",
        "",
    ]
    if options.auth_cache_seconds > 0:
        inactive = max(60, 2 * options.auth_cache_seconds)
        cache_dir = nginx_string(str(options.cache_dir), "--cache-dir")
        out += [
            "# Answers of the paywall's /api/auth (grants only), per session cookie and URL.",
            "# The keys hold session cookies: the directory must stay readable by nginx only.",
            f"proxy_cache_path {cache_dir} levels=1:2 keys_zone={CACHE_ZONE}:10m "
            f"max_size=100m inactive={inactive}s use_temp_path=off;",
            "",
        ]
    out += ["server {"]
    pad = INDENT
    out += [
        f"{pad}listen {options.listen};",
        f"{pad}server_name {server_name};",
        f"{pad}charset utf-8;",
        f"{pad}charset_types {' '.join(text_types(facts.content_types)) or 'text/plain'};",
        f"{pad}client_max_body_size {options.max_body_bytes};",
        "",
        f"{pad}# Content types of the site's files as kp serve answers them.",
        *types_block(facts.content_types),
        "",
        f"{pad}# Every proxied request: HTTP/1.1 kept alive to the workers, with the client's",
        f"{pad}# host, address (the peer nginx saw, not a client-supplied list: uvicorn trusts",
        f"{pad}# it from FORWARDED_ALLOW_IPS, 127.0.0.1 by default) and scheme.",
        *(f"{pad}{line}" for line in PROXY_HEADERS),
        "",
        f"{pad}# What nginx does not serve itself, the paywall answers: its 404 page,",
        f"{pad}# /dir → /dir/ redirects, refused paths. Paths the paywall refuses (encoded",
        f"{pad}# separators or NUL, `.` and `..` segments, plain or encoded) go to it as sent,",
        f"{pad}# rather than being decoded and resolved into another path here.",
        f"{pad}error_page 404 = @kp_paywall;",
        f'{pad}if ($request_uri ~* "^[^?]*%(2f|5c|00)") {{ return 404; }}',
        f'{pad}if ($request_uri ~* "^[^?]*/(\\.|%2e){{1,2}}(/|\\?|$)") {{ return 404; }}',
        "",
    ]
    out += block(
        "location /",
        [
            f"root {site_root};",
            "try_files $uri$kp_index @kp_paywall;",
            *static_headers(facts, "$kp_static_cache"),
        ],
    )
    out += [""]
    out += [f"{pad}# Hidden names (but .well-known): refused by the paywall's path rules."]
    out += proxy_location('~ "/\\.(?!well-known(/|$))"')
    out += ["", f"{pad}# The paywall's routes (from its route table), with its body limits."]
    for spec in proxied_locations(facts.route_paths):
        out += proxy_location(spec)
    for path, size in sorted(limits.items()):
        out += proxy_location(f"= {nginx_string(path, 'body-limit path')}", size)
    out += proxy_location("@kp_paywall")
    out += [""]
    out += block(
        "location @kp_teaser",
        [
            f"root {site_root};",
            "try_files $uri$kp_index @kp_paywall;",
            "etag off;",
            "if_modified_since off;",
            *static_headers(facts, nginx_string(facts.gated_cache, "gated Cache-Control")),
            "add_header Vary Cookie always;",
        ],
    )
    out += [""]
    out += auth_location(options, facts)
    pages = sorted(manifest.gated.values(), key=lambda p: p.url)
    out += ["", f"{pad}# Gated pages of the manifest ({len(pages)}): full text after auth_request."]
    for page in pages:
        out.append(f"{pad}# {page.url}: {' or '.join(page.requires)}")
        for match in gated_matches(page):
            out += gated_location(match, page, options, facts)
    out += ["}", ""]
    return "\n".join(out)


def upstream_list(values: Sequence[HostPort]) -> tuple[HostPort, ...]:
    """Upstreams in the order given, each once."""
    seen: dict[str, HostPort] = {}
    for value in values:
        seen.setdefault(str(value), value)
    return tuple(seen.values())
