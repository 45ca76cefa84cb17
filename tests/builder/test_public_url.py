"""One public URL, build side: with KP_BASE_URL set, every absolute URL the build writes
(mkdocs-material's canonical links, hreflang alternates in pages and sitemaps, the RSS and
Atom feeds, the manifest the paywall reads) is made from it, not from mkdocs.yml's
`site_url`; under `kp build` (accelerated, cached or not), mkdocs' own build and plain
`mkdocs build`. `kp build` says so in one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kp_contract.public_url import (
    PublicUrlError,
    as_site_url,
    normalize_public_url,
    same_public_url,
)
from site_builder.build import BuildFailed

CONFIGURED = "http://127.0.0.1:8000/"  # MINI_CONFIG's site_url
PUBLIC = "https://learn.example.com/school/"

HELLO_ZH = """\
    ---
    title: 你好
    date: 2026-01-03
    summary: 第一篇文章。
    ---

    你好，读者。
    """


@pytest.fixture
def bilingual(mini):
    """The mini site with a Chinese version of its article: hreflang alternates and one
    sitemap and feed per language."""
    mini.write("articles/hello.zh.md", HELLO_ZH)
    return mini


@pytest.fixture(autouse=True)
def _no_public_url_from_the_environment(monkeypatch):
    monkeypatch.delenv("KP_BASE_URL", raising=False)


def absolute_urls(root: Path) -> dict[str, set[str]]:
    """Every absolute http(s) URL of the site's own pages, sitemaps and feeds and of the
    manifest, by file (links to other sites, e.g. the community chat, left out)."""
    found: dict[str, set[str]] = {}
    pattern = re.compile(r"""https?://[^\s"'<>)]+""")
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".html", ".xml", ".json") or not path.is_file():
            continue
        urls = {
            url
            for url in pattern.findall(path.read_text("utf-8"))
            if "127.0.0.1" in url or "example.com/school" in url
        }
        if urls:
            found[path.relative_to(root).as_posix()] = urls
    return found


def assert_built_for(project: Path, public: str) -> None:
    """canonical, hreflang, sitemaps, feeds and the manifest all name `public`, and nothing
    of the site names mkdocs.yml's site_url."""
    site, private = project / "site", project / "private"
    article = (site / "articles/hello/index.html").read_text("utf-8")
    assert f'<link rel="canonical" href="{public}articles/hello/">' in article
    assert f'<link rel="alternate" hreflang="zh" href="{public}zh/articles/hello/">' in article
    assert f'<link rel="alternate" hreflang="en" href="{public}articles/hello/">' in article
    for sitemap in ("sitemap.xml", "sitemap-en.xml", "sitemap-zh.xml"):
        text = (site / sitemap).read_text("utf-8")
        assert f"<loc>{public}articles/hello/</loc>" in text or (
            f"<loc>{public}zh/articles/hello/</loc>" in text
        ), sitemap
        assert f'hreflang="zh" href="{public}zh/articles/hello/"' in text, sitemap
    assert f"<link>{public}articles/hello/</link>" in (site / "feed.xml").read_text("utf-8")
    assert f'href="{public}zh/articles/hello/"' in (site / "zh/atom.xml").read_text("utf-8")
    manifest = json.loads((private / "manifest.json").read_text("utf-8"))
    assert manifest["site_url"] == public
    stale = {
        name: urls
        for root in (site, private)
        for name, urls in absolute_urls(root).items()
        if any(url.startswith(CONFIGURED) for url in urls)
    }
    assert stale == {}, f"files still pointing at mkdocs.yml's site_url: {stale}"


@pytest.mark.parametrize("accel", [True, False], ids=["accelerated", "plain"])
def test_kp_base_url_is_the_url_of_everything_built(bilingual, monkeypatch, accel):
    monkeypatch.setenv("KP_BASE_URL", "https://Learn.Example.com:443/school")
    result = bilingual.build(accel=accel, cache=False)
    assert result.site_url == PUBLIC
    assert result.site_url_note == (
        f"building for {PUBLIC} (KP_BASE_URL), not mkdocs.yml's site_url {CONFIGURED}"
    )
    assert_built_for(bilingual.root, PUBLIC)


def test_without_kp_base_url_mkdocs_yml_site_url_is_used(bilingual):
    result = bilingual.build(cache=False)
    assert result.site_url == CONFIGURED and result.site_url_note is None
    article = (bilingual.root / "site/articles/hello/index.html").read_text("utf-8")
    assert f'<link rel="canonical" href="{CONFIGURED}articles/hello/">' in article
    manifest = json.loads((bilingual.root / "private/manifest.json").read_text("utf-8"))
    assert manifest["site_url"] == CONFIGURED


def test_the_same_url_spelled_otherwise_is_no_change(mini, monkeypatch):
    monkeypatch.setenv("KP_BASE_URL", "HTTP://127.0.0.1:8000")
    result = mini.build(cache=False)
    assert result.site_url == CONFIGURED and result.site_url_note is None


def test_a_changed_url_rebuilds_the_cached_pages(bilingual, monkeypatch):
    """The page cache's key holds the site URL: no page of the previous URL is reused."""
    first = bilingual.build()
    assert first.fast is not None and first.fast.rendered > 0
    again = bilingual.build()
    assert again.fast is not None and again.fast.rendered == 0  # all from .kp-cache
    monkeypatch.setenv("KP_BASE_URL", PUBLIC)
    moved = bilingual.build()
    assert moved.fast is not None and moved.fast.cached == 0, moved.summary()
    assert_built_for(bilingual.root, PUBLIC)


def test_kp_build_says_so_in_one_line(bilingual, kp_cli):
    result = kp_cli("build", "--config", str(bilingual.config), env={"KP_BASE_URL": PUBLIC})
    assert result.exit_code == 0, result.output
    mentions = [line for line in result.output.splitlines() if PUBLIC in line]
    assert mentions == [
        f"building for {PUBLIC} (KP_BASE_URL), not mkdocs.yml's site_url {CONFIGURED}"
    ]
    assert_built_for(bilingual.root, PUBLIC)
    quiet = kp_cli("build", "--config", str(bilingual.config))
    assert quiet.exit_code == 0 and "KP_BASE_URL" not in quiet.output


def test_kp_base_url_from_a_dotenv_file(bilingual, kp_cli, monkeypatch):
    """The paywall's settings read `.env` too: the build must see the same URL."""
    monkeypatch.chdir(bilingual.root)
    (bilingual.root / ".env").write_text(f"KP_BASE_URL={PUBLIC}\n", "utf-8")
    result = kp_cli("build", "--config", str(bilingual.config))
    assert result.exit_code == 0, result.output
    assert "(KP_BASE_URL)" in result.output
    assert_built_for(bilingual.root, PUBLIC)


def test_plain_mkdocs_build_follows_kp_base_url(bilingual):
    """The plugin does it (registered by entry point), so `mkdocs build` needs no `kp`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KP_")}
    env.update(KP_BASE_URL=PUBLIC, NO_MKDOCS_2_WARNING="1")
    mkdocs = Path(sys.executable).with_name("mkdocs")
    built = subprocess.run(
        [str(mkdocs), "build", "--config-file", str(bilingual.config)],
        cwd=bilingual.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    lines = [line for line in built.stderr.splitlines() if PUBLIC in line]
    assert lines == [
        f"INFO    -  kp-content: building for {PUBLIC} (KP_BASE_URL), not mkdocs.yml's "
        f"site_url {CONFIGURED}"
    ]
    assert_built_for(bilingual.root, PUBLIC)


def test_the_serving_url_given_to_the_build_wins(bilingual, monkeypatch):
    """`kp demo --port N` and `kp serve --watch` build for the URL they serve at."""
    monkeypatch.setenv("KP_BASE_URL", PUBLIC)
    result = bilingual.build(cache=False, site_url="http://127.0.0.1:8123")
    assert result.site_url == "http://127.0.0.1:8123/"
    assert result.site_url_note == (
        "building for http://127.0.0.1:8123/ (the serving URL), not mkdocs.yml's site_url "
        f"{CONFIGURED}"
    )
    assert_built_for(bilingual.root, "http://127.0.0.1:8123/")


@pytest.mark.parametrize(
    "value", ["learn.example.com", "ftp://learn.example.com", "https://", "https://x.com/?a=1"]
)
def test_an_unusable_kp_base_url_fails_the_build_naming_it(mini, monkeypatch, value):
    monkeypatch.setenv("KP_BASE_URL", value)
    with pytest.raises(BuildFailed) as failed:
        mini.build(cache=False)
    assert f"KP_BASE_URL={value!r}" in str(failed.value)
    assert not (mini.root / "site").exists()


def test_public_urls_compare_by_scheme_host_port_and_path():
    assert normalize_public_url("HTTPS://Example.COM:443/Blog/") == "https://example.com/Blog"
    assert normalize_public_url("http://[::1]:8000/") == "http://[::1]:8000"
    assert as_site_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/"
    assert same_public_url("http://127.0.0.1:8000/", "http://127.0.0.1:8000")
    assert same_public_url("http://example.com:80", "HTTP://EXAMPLE.com/")
    for other in (
        "https://127.0.0.1:8000/",  # scheme
        "http://localhost:8000/",  # host
        "http://127.0.0.1:8123/",  # port
        "http://127.0.0.1:8000/blog/",  # path
        "not a url",
    ):
        assert not same_public_url("http://127.0.0.1:8000/", other), other
    with pytest.raises(PublicUrlError, match="KP_BASE_URL='//x' must be an absolute"):
        normalize_public_url("//x")
    with pytest.raises(PublicUrlError, match="user name or password") as credentials:
        normalize_public_url("https://user:secret@example.com")
    assert "secret" not in str(credentials.value)
