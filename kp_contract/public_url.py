"""The site's one public URL, which every absolute link is made from.

`KP_BASE_URL` when it is set (environment or `.env`), else mkdocs.yml's `site_url`. The build
writes pages, sitemaps, feeds and the manifest for it (`site_builder.plugins.content`); the
paywall makes sign-in links, e-mails, invite and partner links, Stripe's return URLs and its
CSRF origin from the same one (`kp serve` refuses a site the manifest says was built for
another). Two URLs are the same public URL when scheme, host, port and path agree, whatever
the case of scheme and host, an explicit default port or a trailing slash.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

VARIABLE = "KP_BASE_URL"
DEFAULT_PORTS = {"http": 80, "https": 443}


class PublicUrlError(ValueError):
    """A public URL that links cannot be made from (says which and why)."""


def normalize_public_url(url: str, *, name: str = VARIABLE) -> str:
    """`url` written one way: scheme and host in lower case, no default port, no trailing
    slash (`https://example.com`, `http://127.0.0.1:8123/blog`). Raises `PublicUrlError`
    naming `name` unless it is an absolute http(s) URL without query or fragment."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise PublicUrlError(f"{name}={url!r} is not a URL: {exc}") from None
    if parts.username is not None or parts.password is not None:  # (not echoed: a secret)
        raise PublicUrlError(f"{name} must not hold a user name or password")
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        raise PublicUrlError(
            f"{name}={url!r} must be an absolute http:// or https:// URL with a host, "
            "e.g. https://example.com"
        )
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise PublicUrlError(f"{name}={url!r} must not have a query or a fragment")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    suffix = "" if port in (None, DEFAULT_PORTS[scheme]) else f":{port}"
    return f"{scheme}://{host}{suffix}{parts.path.rstrip('/')}"


def same_public_url(a: str, b: str) -> bool:
    """Whether `a` and `b` name the same site (see the module docstring); a URL that is not
    a valid public URL equals nothing."""
    try:
        return normalize_public_url(a) == normalize_public_url(b)
    except PublicUrlError:
        return False


def as_site_url(url: str) -> str:
    """mkdocs' form of a public URL (`site_url`): with the trailing slash."""
    return normalize_public_url(url) + "/"


def configured_base_url() -> str | None:
    """KP_BASE_URL as the paywall's settings read it (the environment, then `.env` in the
    working directory), or None when it is set in neither. `.env` is only parsed when it
    exists: loading the settings costs a build a twentieth of a second."""
    value = os.environ.get(VARIABLE)
    if value is not None:
        return value
    if not Path(".env").is_file():
        return None
    from kp_contract.settings import load_settings

    settings = load_settings()
    return settings.base_url if "base_url" in settings.model_fields_set else None
