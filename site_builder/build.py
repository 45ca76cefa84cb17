"""`kp build`: mkdocs build into staging dirs, leak check, then an atomic swap.

Both outputs (`site/` and `private/`) are built into hidden siblings of their targets. Only a
build that succeeded AND passed the leak check replaces them, so a failed build leaves the
last good site byte-for-byte untouched and the paywall never sees a half-written tree.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import Abort, ConfigurationError

from kp_contract.manifest import Manifest, read_manifest
from site_builder import CACHE_NAME, atomic, fastbuild, slugs
from site_builder.icons import use_fast_twemoji_index
from site_builder.leaks import Leak, find_leaks, site_files
from site_builder.plugins.content import (
    ContentPlugin,
    resolve_private_dir,
    unsafe_private_dir,
)
from site_builder.segmenter import defer_jieba_import
from site_builder.workers import collection_paused


class BuildFailed(Exception):
    """The build did not produce a publishable site; `problems` says every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class BuildResult:
    site_dir: Path
    private_dir: Path
    pages: int
    gated: int
    courses: int
    shells: int
    seconds: float
    files_checked: int
    kept: list[str] = field(default_factory=list)
    fast: fastbuild.FastBuildStats | None = None
    """How the fast path built it (None: plain mkdocs build, see `fast_path_note`)."""
    fast_path_note: str | None = None

    def summary(self) -> str:
        how = ""
        if self.fast is not None:
            how = (
                f" ({self.fast.rendered} rendered, {self.fast.cached} from .kp-cache, "
                f"{self.fast.workers} worker(s))"
            )
        elif self.fast_path_note:
            how = f" (plain mkdocs build: {self.fast_path_note})"
        return (
            f"Built {self.pages} pages ({self.gated} gated, {self.courses} courses, "
            f"{self.shells} page shells) in {self.seconds:.1f}s{how}; leak check passed "
            f"on {self.files_checked} files.\n"
            f"  public:  {self.site_dir}\n  private: {self.private_dir} (never serve it directly)"
        )


def _content_plugin(config: MkDocsConfig) -> ContentPlugin:
    for plugin in config.plugins.values():
        if isinstance(plugin, ContentPlugin):
            return plugin
    raise BuildFailed([f"{config.config_file_path}: `plugins` must include `kp-content`"])


@contextmanager
def _collect_errors() -> Iterator[list[str]]:
    """mkdocs reports build errors through its logger before raising `Abort`; keep them."""
    messages: list[str] = []

    class Collector(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collector(level=logging.ERROR)
    logger = logging.getLogger("mkdocs")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def load_site_config(config_file: Path) -> MkDocsConfig:
    """mkdocs.yml validated by mkdocs; configuration errors become `BuildFailed`."""
    if not config_file.is_file():
        raise BuildFailed([f"{config_file}: no such file (pass --config PATH to mkdocs.yml)"])
    defer_jieba_import()
    use_fast_twemoji_index()
    with _collect_errors() as errors:  # mkdocs logs the reasons, then raises Abort
        try:
            return load_config(str(config_file))
        except (ConfigurationError, Abort) as exc:
            reasons = errors or [str(exc)]
            raise BuildFailed([f"{config_file}: {reason}" for reason in reasons]) from exc


def _carry_over(old: Path, new: Path) -> list[str]:
    """`--no-clean`: copy files of the previous site that this build did not produce."""
    kept = []
    if not old.is_dir():
        return kept
    for path in sorted(old.rglob("*")):
        relative = path.relative_to(old)
        target = new / relative
        if path.is_file() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            kept.append(relative.as_posix())
    return kept


@collection_paused()
def build_site(
    config_file: Path,
    *,
    drafts: bool = False,
    clean: bool = True,
    site_dir: Path | None = None,
    private_dir: Path | None = None,
    jobs: int | None = None,
    cache: bool = True,
) -> BuildResult:
    """Build, check for leaks, swap in. Raises `BuildFailed` listing every problem.

    `jobs` worker processes render pages (default: one per core); `cache` reuses pages whose
    inputs did not change from `.kp-cache/` beside mkdocs.yml (fastbuild.py). Sites with
    plugins the fast path does not know are built by plain mkdocs (`fast_path_note` says why).
    """
    # A first build: pypinyin loads in a second process while this one sets up.
    slugs.start_romanizer_unless_remembered(config_file.resolve().parent / CACHE_NAME, cache)
    try:
        return _build_site(
            config_file,
            drafts=drafts,
            clean=clean,
            site_dir=site_dir,
            private_dir=private_dir,
            jobs=jobs,
            cache=cache,
        )
    finally:
        slugs.stop_romanizer()


def _build_site(
    config_file: Path,
    *,
    drafts: bool,
    clean: bool,
    site_dir: Path | None,
    private_dir: Path | None,
    jobs: int | None,
    cache: bool,
) -> BuildResult:
    started = time.monotonic()
    config = load_site_config(config_file)
    plugin = _content_plugin(config)
    site_target = (site_dir or Path(config.site_dir)).resolve()
    private_target = (private_dir or resolve_private_dir(config, plugin.config)).resolve()
    problem = unsafe_private_dir(private_target, config, site_target)
    if problem:
        raise BuildFailed([f"{config_file}: {problem}"])
    if atomic.same_or_inside(site_target, Path(config.docs_dir)) or atomic.same_or_inside(
        Path(config.config_file_path).parent, site_target
    ):
        raise BuildFailed([f"{config_file}: site_dir {site_target} overlaps the project"])
    if clean:
        for leftover in atomic.leftovers(site_target) + atomic.leftovers(private_target):
            if atomic.RETIRED_MARK in leftover.name:  # most likely still being deleted
                atomic.discard_later(leftover)
            else:  # a staging tree of an interrupted build
                atomic.discard(leftover)
    staged_site = atomic.staging_dir(site_target)
    staged_private = atomic.staging_dir(private_target)
    try:
        config.site_dir = str(staged_site)
        plugin.config.private_dir = str(staged_private)
        plugin.config.drafts = drafts
        jobs = jobs or fastbuild.default_jobs()
        cache_dir = usable_cache_dir(cache_dir_for(config)) if cache else None
        note = fastbuild.eligible(config)
        fast = _run_mkdocs(
            config, cache_dir=cache_dir, jobs=jobs, fast=note is None, previous=site_target
        )
        kept = [] if clean else _carry_over(site_target, staged_site)
        manifest = read_manifest(staged_private / plugin.config.manifest)
        files = site_files(staged_site)
        leaks = _find_leaks(staged_site, staged_private, manifest, cache_dir, jobs, fast, files)
        if leaks:
            raise BuildFailed(_leak_report(leaks))
        files_checked = len(files)
        atomic.replace_dir(staged_site, site_target)
        atomic.replace_dir(staged_private, private_target)
        if fast is not None and cache_dir is not None:
            fastbuild.mark_live(cache_dir, fast, site_target)
    finally:
        atomic.discard(staged_site)
        atomic.discard(staged_private)
    index = plugin.index
    return BuildResult(
        site_dir=site_target,
        private_dir=private_target,
        pages=len(index.published()),
        gated=len(manifest.gated),
        courses=len(manifest.courses),
        shells=len(manifest.shells),
        seconds=time.monotonic() - started,
        files_checked=files_checked,
        kept=kept,
        fast=fast,
        fast_path_note=note,
    )


def cache_dir_for(config: MkDocsConfig) -> Path:
    """`.kp-cache/` beside mkdocs.yml (git-ignored)."""
    return Path(config.config_file_path).resolve().parent / CACHE_NAME


def usable_cache_dir(path: Path) -> Path | None:
    """`path` if the cache can live there; else None (the build runs without it)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        logging.getLogger("mkdocs.kp").warning("kp build: no page cache at %s (%s)", path, exc)
        return None
    return path


def _find_leaks(
    site: Path,
    private: Path,
    manifest: Manifest,
    cache_dir: Path | None,
    jobs: int,
    fast: fastbuild.FastBuildStats | None,
    files: list[tuple[str, str]],
) -> list[Leak]:
    """The leak check of `files` (leaks.site_files of `site`), reusing what the fast path
    already knows: pages it searched while rendering them, digests of what it wrote,
    verdicts of earlier builds."""
    prechecked = None
    if fast is not None and fast.matcher_digest:
        prechecked = (fast.matcher_digest, fast.prechecked)
    if cache_dir is None:
        return find_leaks(site, private, manifest, jobs=jobs, prechecked=prechecked, files=files)
    verdicts = fastbuild.PageCache(cache_dir)
    digests = fast.digests if fast is not None else {}
    try:
        return find_leaks(
            site,
            private,
            manifest,
            jobs=jobs,
            cache=verdicts,
            digests=digests,
            prechecked=prechecked,
            files=files,
        )
    finally:
        verdicts.close()
        fastbuild.save_leak_memo(cache_dir)


def _run_mkdocs(
    config: MkDocsConfig, *, cache_dir: Path | None, jobs: int, fast: bool, previous: Path
) -> fastbuild.FastBuildStats | None:
    """What `mkdocs build` does (startup/shutdown events included), errors collected; the
    fast path (page cache, worker processes) when `fast`."""
    with _collect_errors() as errors:
        config.plugins.on_startup(command="build", dirty=False)
        try:
            if fast:
                return fastbuild.build(
                    config, cache_dir=cache_dir, jobs=jobs, previous_site=previous
                )
            mkdocs_build(config)
            return None
        except Abort as exc:
            raise BuildFailed(errors or [str(exc)]) from exc
        except Exception as exc:  # a theme or plugin bug: still a failed build, not a traceback
            raise BuildFailed([*errors, f"{type(exc).__name__}: {exc}"]) from exc
        finally:
            config.plugins.on_shutdown()


def _leak_report(leaks: list[Leak]) -> list[str]:
    return [
        f"leak check failed: paid text found in the public site ({len(leaks)} place(s)); "
        "nothing was published",
        *(f"  {leak}" for leak in leaks),
    ]
