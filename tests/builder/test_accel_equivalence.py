"""The fast paths change nothing but the time: the accelerated `kp build` and mkdocs' own build
(KP_ACCEL=0, `kp build --no-accel`) write the same files, byte for byte, for the example site
and for a generated corpus of 200 articles (half of them Chinese, with courses and lessons).

The builds are made reproducible with SOURCE_DATE_EPOCH (mkdocs' build date, the sitemap's
gzip header, the manifest's `built_at`), so every file is compared whole: its name and its
bytes. The plain builds run in fresh processes, so nothing the accelerated build left in
memory (memos, imported modules) can make them look alike.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from site_builder.accel import replacements
from site_builder.build import build_site

pytestmark = pytest.mark.timeout(600)

EPOCH = "1767225600"  # 2026-01-01T00:00:00Z

PLAIN_BUILD = """
import sys
from pathlib import Path
from site_builder.build import build_site
result = build_site(Path(sys.argv[1]))
assert result.fast is None and result.replacements == [], result
loaded = sorted(name for name in sys.modules if name.startswith("site_builder.accel"))
assert loaded == [], f"the plain build imported {loaded}"
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KP_")}
    return env | {"SOURCE_DATE_EPOCH": EPOCH, "NO_MKDOCS_2_WARNING": "1"} | extra


def _outputs(project: Path) -> dict[str, bytes]:
    """Every file of site/ and private/: {"site/…" or "private/…": its bytes}."""
    found = {}
    for part in ("site", "private"):
        root = project / part
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            found[f"{part}/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    return found


def _assert_same(accelerated: dict[str, bytes], plain: dict[str, bytes]) -> None:
    assert sorted(accelerated) == sorted(plain), "the two builds wrote different files"
    differing = [name for name in accelerated if accelerated[name] != plain[name]]
    assert differing == [], f"{len(differing)} file(s) differ"


def _accelerated(config: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.delenv("KP_ACCEL", raising=False)
    result = build_site(config, cache=False)
    assert result.fast is not None, result.fast_path_note
    assert result.fast.rendered == result.fast.pages > 0
    # (jieba's import is deferred only in a process that has not imported it yet)
    every = {r.name for r in replacements.REPLACEMENTS} - {"jieba-deferred-import"}
    assert every <= set(result.replacements), "not every fast path was used"
    return _outputs(config.parent)


def _clear(project: Path) -> None:
    for part in ("site", "private", ".kp-cache"):
        shutil.rmtree(project / part, ignore_errors=True)


def test_the_example_site_is_the_same_both_ways(project_copy: Path, monkeypatch) -> None:
    """… and the plain build imports nothing of site_builder.accel."""
    config = project_copy / "mkdocs.yml"
    accelerated = _accelerated(config, monkeypatch)
    _clear(project_copy)
    done = subprocess.run(
        [sys.executable, "-c", PLAIN_BUILD, str(config)],
        env=_env(KP_ACCEL="0"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    _assert_same(accelerated, _outputs(project_copy))


def test_a_corpus_of_200_articles_is_the_same_both_ways(
    tmp_path: Path, monkeypatch, bench_corpus
) -> None:
    corpus = bench_corpus.generate(tmp_path / "corpus", 200)
    config = corpus.root / "mkdocs.yml"
    accelerated = _accelerated(config, monkeypatch)
    assert sum(name.endswith("index.html") for name in accelerated) > 200
    _clear(corpus.root)
    kp = Path(sys.executable).with_name("kp")
    done = subprocess.run(
        [str(kp), "build", "--no-accel", "-f", str(config)],
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "plain mkdocs build" in done.stdout
    _assert_same(accelerated, _outputs(corpus.root))


MKDOCS_BUILD = """
import sys
from mkdocs.__main__ import cli
try:
    cli(["build", "-q", "-f", sys.argv[1]])
except SystemExit as done:
    assert done.code in (0, None), done.code
loaded = sorted(name for name in sys.modules if name.startswith("site_builder.accel"))
assert "site_builder.plugins.content" in sys.modules
assert loaded == [], f"mkdocs build imported {loaded}"
"""


def test_plain_mkdocs_build_works_without_the_fast_paths(mini, monkeypatch) -> None:
    """`mkdocs build` (the kp-content plugin through its entry point) builds the site and
    its private pages the same bytes as the accelerated `kp build`, importing no fast path."""
    accelerated = _accelerated(mini.config, monkeypatch)
    _clear(mini.root)
    done = subprocess.run(
        [sys.executable, "-c", MKDOCS_BUILD, str(mini.config)],
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    _assert_same(accelerated, _outputs(mini.root))
