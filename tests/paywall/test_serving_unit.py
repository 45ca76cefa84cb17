"""Unit tests of path parsing, content types and conditional requests (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paywall.runtime.url_paths import UnsafePath, contained_file, parse_url_path
from paywall.web.serving import content_type


@pytest.mark.parametrize(
    "raw",
    ["/../x", "/%2e%2e/x", "/a%2fb", "/a%5cb", "/a\\b", "/a%00b", "/a/./b", "/.git/config", "x"],
)
def test_parse_url_path_refuses(raw: str) -> None:
    with pytest.raises(UnsafePath):
        parse_url_path(raw)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("/", "/"),
        ("/a/b/", "/a/b/"),
        ("/a//b/", "/a/b/"),
        ("/a/b", "/a/b"),
        ("/%E4%B8%AD%E6%96%87/", "/中文/"),
        ("/.well-known/security.txt", "/.well-known/security.txt"),
    ],
)
def test_parse_url_path_accepts(raw: str, canonical: str) -> None:
    assert parse_url_path(raw).canonical == canonical


def test_content_types_of_site_assets() -> None:
    assert content_type(Path("a.woff2")) == "font/woff2"
    assert content_type(Path("sitemap.xml.gz")) == "application/gzip"
    assert content_type(Path("x.unknownext")) == "application/octet-stream"


def test_contained_file_rejects_escape_and_directories(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f.txt").write_text("x")
    (tmp_path / "secret.txt").write_text("s")
    assert contained_file(root, "d/f.txt") == (root / "d" / "f.txt").resolve()
    assert contained_file(root, "../secret.txt") is None
    assert contained_file(root, "/etc/hostname") is None
    assert contained_file(root, "d") is None
    assert contained_file(root, "missing") is None
