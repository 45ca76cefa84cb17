"""Request paths decoded once and checked: the one place path safety is decided.

Shared by the file server (`paywall.web.serving`), `/api/auth` and the funnel's beacon: the
raw request path is decoded exactly once, and anything that could climb out of a root or
smuggle a separator (`..`, `.`, encoded `/` or `\\`, NUL, control characters) is refused
before a file name is built; a file is then resolved (symlinks followed) and must still lie
inside its root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from starlette.requests import Request

_ALLOWED_DOT_SEGMENTS = frozenset({".well-known"})


class UnsafePath(ValueError):
    """A request path that could reach outside the served roots; answered as not found."""


@dataclass(frozen=True)
class UrlPath:
    """A decoded, checked request path: its segments and whether it ended with a slash."""

    segments: tuple[str, ...]
    trailing_slash: bool

    @property
    def canonical(self) -> str:
        """`/a/b/` form (empty segments collapsed), as the manifest keys gated pages."""
        if not self.segments:
            return "/"
        return "/" + "/".join(self.segments) + ("/" if self.trailing_slash else "")


def parse_url_path(raw_path: str) -> UrlPath:
    """Decode a raw (percent-encoded) URL path once and refuse anything unsafe.

    Refused: encoded separators (`%2f`, `%5c`) and NUL, backslashes, control characters,
    invalid UTF-8, `.` and `..` segments, and hidden names other than `.well-known`.
    """
    if not raw_path.startswith("/"):
        raise UnsafePath("path must be absolute")
    lowered = raw_path.lower()
    for encoded in ("%2f", "%5c", "%00"):
        if encoded in lowered:
            raise UnsafePath(f"encoded {encoded!r} in path")
    try:
        decoded = unquote(raw_path, encoding="utf-8", errors="strict")
        decoded.encode("utf-8")  # a lone surrogate (from a JSON "\ud800") is no file name
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:
        raise UnsafePath("path is not valid UTF-8") from exc
    if "\\" in decoded or any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded):
        raise UnsafePath("backslash or control character in path")
    parts = decoded.split("/")
    segments = tuple(p for p in parts if p)
    for segment in segments:
        if segment in (".", ".."):
            raise UnsafePath("dot segment in path")
        if segment.startswith(".") and segment not in _ALLOWED_DOT_SEGMENTS:
            raise UnsafePath("hidden file in path")
    return UrlPath(segments, trailing_slash=decoded.endswith("/") or not segments)


def request_url_path(request: Request) -> UrlPath:
    """The request's own path, from the undecoded bytes the client sent."""
    raw = request.scope.get("raw_path")
    raw_text = raw.decode("latin-1") if raw else request.scope["path"]
    return parse_url_path(raw_text.split("?", 1)[0])


def contained_file(root: Path, relative: Path | str) -> Path | None:
    """`root/relative` with symlinks resolved, if it is a regular file inside `root`."""
    base = root.resolve()
    try:
        target = (base / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target
