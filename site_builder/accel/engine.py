"""The accelerated `kp build`: the engine site_builder.build uses unless KP_ACCEL=0.

For one build it
- starts the helper processes a first build gains from (romanizer.py) and stops them after;
- installs the registered replacements of third-party code (replacements.py): those that
  speed up loading mkdocs.yml before it is loaded, the others once it is, and takes them
  all out again when the build is over;
- builds with the fast build (build_loop.py) when the site is one it knows
  (`build_loop.eligible`) and the `fast-build` replacement is verified, else with mkdocs'
  own build;
- checks for leaks on every core, skipping files searched while rendering, files the cache
  knows to be clean, and files it just wrote and so need not read to identify;
- records what the published site holds (page_cache.mark_live), for the next build's links;
- pauses Python's garbage collection meanwhile (workers.collection_paused).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from types import TracebackType

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config.defaults import MkDocsConfig

from kp_contract.manifest import Manifest
from site_builder import CACHE_NAME, slugs
from site_builder.accel import build_loop, leak_search, memos, page_cache, romanizer, segmenter
from site_builder.accel.replacements import Installed
from site_builder.accel.results import FastBuildStats
from site_builder.accel.workers import collection_paused
from site_builder.build import load_site_config
from site_builder.leaks import Leak, find_leaks

log = logging.getLogger("mkdocs.kp.accel")


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
        log.warning("kp build: no page cache at %s (%s)", path, exc)
        return None
    return path


class AcceleratedBuild:
    """site_builder.build's `Engine` with every fast path; a context manager around one
    build (see the module docstring)."""

    def __init__(self, config_file: Path, *, jobs: int | None = None, cache: bool = True) -> None:
        self.config_file = config_file
        self.jobs = jobs or build_loop.default_jobs()
        self.use_cache = cache
        self.cache_dir: Path | None = None
        self.installed = Installed()
        self.stats: FastBuildStats | None = None
        self.note: str | None = None
        self._exit = contextlib.ExitStack()

    def __enter__(self) -> AcceleratedBuild:
        self._exit.enter_context(collection_paused())
        self._exit.callback(self._stop_helpers)
        self._exit.callback(self.installed.uninstall)
        # A first build: pypinyin loads in a second process while this one sets up.
        cache = self.config_file.resolve().parent / CACHE_NAME if self.use_cache else None
        romanizer.start_unless_remembered(cache, known=bool(slugs.ROMANIZED))
        slugs.use_lookup(romanizer.lookup)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._exit.close()

    @property
    def replacements(self) -> list[str]:
        return list(self.installed.active)

    @staticmethod
    def _stop_helpers() -> None:
        slugs.use_lookup(None)
        romanizer.stop()
        segmenter.stop_helper()

    def load_config(self, config_file: Path) -> MkDocsConfig:
        self.installed.install("load")
        config = load_site_config(config_file)
        self.installed.install("build", config)
        return config

    def build(self, config: MkDocsConfig, previous_site: Path) -> None:
        self.note = build_loop.eligible(config)
        if self.note is None and "fast-build" not in self.installed:
            self.note = f"fast-build: {self.installed.skipped.get('fast-build', 'skipped')}"
        if self.use_cache:  # (the leak check's verdicts are kept there in any case)
            self.cache_dir = usable_cache_dir(cache_dir_for(config))
        config.plugins.on_startup(command="build", dirty=False)
        try:
            if self.note is not None:
                mkdocs_build(config)
                return
            self.stats = build_loop.build(
                config,
                cache_dir=self.cache_dir,
                jobs=self.jobs,
                installed=self.installed,
                previous_site=previous_site,
            )
        finally:
            config.plugins.on_shutdown()

    def find_leaks(
        self, site: Path, private: Path, manifest: Manifest, files: list[tuple[str, str]]
    ) -> list[Leak]:
        """The leak check of `files` (leaks.site_files of `site`), reusing what the fast
        path already knows: pages it searched while rendering them, digests of what it
        wrote, verdicts of earlier builds."""
        fast = self.stats
        search = leak_search.in_workers(self.jobs)
        prechecked = None
        if fast is not None and fast.matcher_digest:
            prechecked = (fast.matcher_digest, fast.prechecked)
        if self.cache_dir is None:
            return find_leaks(
                site, private, manifest, search=search, prechecked=prechecked, files=files
            )
        verdicts = page_cache.PageCache(self.cache_dir)
        try:
            return find_leaks(
                site,
                private,
                manifest,
                search=search,
                cache=verdicts,
                digests=fast.digests if fast is not None else {},
                prechecked=prechecked,
                files=files,
            )
        finally:
            verdicts.close()
            memos.save_leak_memo(self.cache_dir)

    def published(self, site: Path) -> None:
        if self.stats is not None and self.cache_dir is not None:
            page_cache.mark_live(self.cache_dir, self.stats.digests, site)
