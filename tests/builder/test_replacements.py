"""site_builder.accel.replacements: every replacement of third-party code is registered with
the fingerprint of the upstream source it was verified against; one whose upstream changed
is skipped with a WARNING naming it, and the build's output stays the same."""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from markdown import treeprocessors
from material.extensions import emoji
from material.plugins.search import plugin as search
from pygments.formatters.html import HtmlFormatter
from pymdownx import highlight

from site_builder.accel import replacements
from site_builder.accel.replacements import REPLACEMENTS, Installed
from site_builder.build import load_site_config
from site_builder.plugins.content import ContentPlugin

EPOCH = "1767225600"
NAMES = [r.name for r in REPLACEMENTS]


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    """WARNINGs of the fast paths' logger (kp's logging setup may stop propagation)."""
    found: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                found.append(record.getMessage())

    handler = Collect()
    logger = logging.getLogger("mkdocs.kp.accel")
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)


def _changed_upstream(monkeypatch: pytest.MonkeyPatch, names: set[str]) -> None:
    """The registry as if the installed sources of `names` were other versions."""
    changed = tuple(
        dataclasses.replace(
            entry,
            sources=tuple(dataclasses.replace(s, sha256=("0" * 64,)) for s in entry.sources),
        )
        if entry.name in names
        else entry
        for entry in REPLACEMENTS
    )
    monkeypatch.setattr(replacements, "REPLACEMENTS", changed)
    monkeypatch.setattr(replacements, "_WARNED", set())


def test_every_replacement_is_verified_against_the_installed_packages() -> None:
    unverified = [r.name for r in REPLACEMENTS if not replacements.check(r).verified]
    assert unverified == [], (
        "an upstream source changed: run tests/builder against it, then add the digests "
        "`python -m site_builder.accel.replacements` prints to the entries"
    )
    assert replacements.main() == 0


def test_each_entry_is_named_once_and_says_what_it_replaces_where() -> None:
    assert len(set(NAMES)) == len(NAMES)
    for entry in REPLACEMENTS:
        assert entry.replaces and entry.module and entry.does and entry.sources, entry.name
        for source in entry.sources:
            assert source.sha256 and all(len(digest) == 64 for digest in source.sha256)


def _patch_points(config: Any = None) -> dict[str, object]:
    """What each replacement patches, as it is now (the plugin's sidebar cache given the
    site's configuration)."""
    points: dict[str, object] = {
        "jieba-deferred-import": sys.modules.get("jieba"),
        "twemoji-index": emoji._load_twemoji_index,
        "search-parser": search.Parser,
        "chinese-segmenter": search.jieba,
        "segment-chinese": vars(search.SearchIndex)["_segment_chinese"],
        "inline-processor": treeprocessors.InlineProcessor,
        "pygments-lexer-lookup": highlight.get_lexer_by_name,
        "pygments-stylesheet": vars(HtmlFormatter)["_create_stylesheet"],
    }
    if config is not None:
        content = next(p for p in config.plugins.values() if isinstance(p, ContentPlugin))
        points["sidebar-cache"] = content.nav_cache
    return points


def test_uninstalling_puts_every_original_back(mini) -> None:
    installed = Installed()
    unpatched = _patch_points()
    installed.install("load")
    config = load_site_config(mini.config)
    before = _patch_points(config) | unpatched
    installed.install("build", config)
    try:
        during = _patch_points(config)
        assert set(installed.active) | set(installed.skipped) == set(NAMES)
        assert set(installed.skipped) <= {"jieba-deferred-import"}, installed.skipped
        for name, original in before.items():
            if name in installed.active:
                assert during[name] is not original, name
    finally:
        installed.uninstall()
    assert _patch_points(config) == before
    assert installed.active == []


@pytest.mark.parametrize("name", NAMES)
def test_a_changed_upstream_skips_that_replacement_with_a_warning(
    name, mini, monkeypatch, warnings
) -> None:
    _changed_upstream(monkeypatch, {name})
    installed = Installed()
    unpatched = _patch_points()
    installed.install("load")
    config = load_site_config(mini.config)
    before = _patch_points(config) | unpatched
    installed.install("build", config)
    try:
        assert name not in installed.active
        assert "not the verified version" in installed.skipped[name]
        if name in before:
            assert _patch_points(config)[name] is before[name], "the original stays"
    finally:
        installed.uninstall()
    entry = replacements.by_name(name)
    assert len(warnings) == 1, warnings
    assert f"'{name}'" in warnings[0] and entry.module in warnings[0]
    assert "verified" in warnings[0]


def _outputs(root) -> dict[str, bytes]:
    return {
        f"{part}/{path.relative_to(root / part).as_posix()}": path.read_bytes()
        for part in ("site", "private")
        for path in sorted((root / part).rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    "changed",
    [{"search-parser"}, {"fast-build"}, set(NAMES)],
    ids=["search-parser", "fast-build", "every-one"],
)
def test_a_build_with_a_changed_upstream_warns_and_writes_the_same_files(
    changed, mini, monkeypatch, warnings
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    mini.write(
        "articles/zh.md", "---\ntitle: 中文文章\ndate: 2026-01-04\nlang: zh\n---\n\n社群运营。\n"
    )
    mini.write(
        "articles/code.md",
        "---\ntitle: Code\ndate: 2026-01-05\n---\n\n`x`\n\n```python\nx = 1\n```\n",
    )
    reference = mini.build(cache=False)
    assert set(reference.replacements) >= set(NAMES) - {"jieba-deferred-import"}
    expected = _outputs(mini.root)
    assert warnings == []

    _changed_upstream(monkeypatch, changed)
    result = mini.build(cache=False)
    assert not set(result.replacements) & changed
    if "fast-build" in changed:
        assert result.fast is None and "fast-build" in (result.fast_path_note or "")
    else:
        assert result.fast is not None
    assert len(warnings) == len(changed)
    assert {name for name in changed if any(f"'{name}'" in w for w in warnings)} == changed
    assert _outputs(mini.root) == expected
