"""`kp build`: mkdocs build into staging dirs, leak check, then an atomic swap.

Both outputs (`site/` and `private/`) are built into hidden siblings of their targets. Only a
build that succeeded AND passed the leak check replaces them, so a failed build leaves the
last good site byte-for-byte untouched and the paywall never sees a half-written tree.

How the site itself is built is an `Engine`'s business: `PlainBuild` runs mkdocs' own build
and nothing else (`KP_ACCEL=0`, `kp build --no-accel`); the accelerated one
(site_builder.accel.engine) adds the page cache, workers on every core and the registered
replacements of third-party internals, for the same bytes. Only the accelerated one imports
site_builder.accel.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import Abort, ConfigurationError

from kp_contract.manifest import Manifest, read_manifest
from site_builder import accel_requested, atomic
from site_builder.leaks import Leak, find_leaks, site_files
from site_builder.plugins.content import (
    ContentPlugin,
    resolve_private_dir,
    unsafe_private_dir,
)

if TYPE_CHECKING:
    from site_builder.accel.results import FastBuildStats

PLAIN_NOTE = "fast paths off (KP_ACCEL=0 or --no-accel)"


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
    fast: FastBuildStats | None = None
    """How the fast path built it (None: mkdocs' own build, see `fast_path_note`)."""
    fast_path_note: str | None = None
    """Why the fast path did not build it (None: it did)."""
    replacements: list[str] = field(default_factory=list)
    """The registered replacements of third-party code in effect (site_builder.accel)."""
    site_url: str = ""
    """The public URL the site was built for (KP_BASE_URL, else mkdocs.yml's site_url)."""
    site_url_note: str | None = None
    """One line when that is not mkdocs.yml's site_url (`kp build` prints it)."""

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


class Engine(Protocol):
    """How `build_site` loads the configuration, builds the staged site and checks it."""

    stats: FastBuildStats | None
    """How the fast path built it (after `build`; None: mkdocs' own build)."""
    note: str | None
    """Why the fast path did not build it (after `build`)."""

    @property
    def replacements(self) -> list[str]:
        """The replacements of third-party code in effect (after `load_config`)."""
        ...

    def load_config(self, config_file: Path) -> MkDocsConfig: ...

    def build(self, config: MkDocsConfig, previous_site: Path) -> None:
        """Build `config.site_dir` (and the plugin's private dir) as `mkdocs build` does,
        startup and shutdown events included; raises what mkdocs raises."""
        ...

    def find_leaks(
        self, site: Path, private: Path, manifest: Manifest, files: list[tuple[str, str]]
    ) -> list[Leak]: ...

    def published(self, site: Path) -> None:
        """The staged site was swapped in at `site`."""
        ...


class PlainBuild:
    """mkdocs' own build, and the leak check of every file, one after the other."""

    stats: FastBuildStats | None = None

    def __init__(self, note: str | None = PLAIN_NOTE) -> None:
        self.note = note

    @property
    def replacements(self) -> list[str]:
        return []

    def load_config(self, config_file: Path) -> MkDocsConfig:
        return load_site_config(config_file)

    def build(self, config: MkDocsConfig, previous_site: Path) -> None:
        config.plugins.on_startup(command="build", dirty=False)
        try:
            mkdocs_build(config)
        finally:
            config.plugins.on_shutdown()

    def find_leaks(
        self, site: Path, private: Path, manifest: Manifest, files: list[tuple[str, str]]
    ) -> list[Leak]:
        return find_leaks(site, private, manifest, files=files)

    def published(self, site: Path) -> None:
        pass


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
    with _collect_errors() as errors:  # mkdocs logs the reasons, then raises Abort
        try:
            return load_config(str(config_file))
        except (ConfigurationError, Abort) as exc:
            reasons = errors or [str(exc)]
            raise BuildFailed([f"{config_file}: {reason}" for reason in reasons]) from exc


def config_files(config: MkDocsConfig) -> list[Path]:
    """mkdocs.yml and every file it INHERITs from."""
    found: list[Path] = []
    path = Path(config.config_file_path) if config.config_file_path else None
    while path is not None and path.is_file() and path not in found:
        found.append(path)
        parent = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("INHERIT:"):
                parent = (path.parent / line.split(":", 1)[1].strip().strip("'\"")).resolve()
        path = parent
    return found


def _carry_over(old: Path, new: Path) -> list[str]:
    """`--no-clean`: copy files of the previous site that this build did not produce."""
    kept: list[str] = []
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


def build_site(
    config_file: Path,
    *,
    drafts: bool = False,
    clean: bool = True,
    site_dir: Path | None = None,
    private_dir: Path | None = None,
    jobs: int | None = None,
    cache: bool = True,
    accel: bool | None = None,
    site_url: str | None = None,
) -> BuildResult:
    """Build, check for leaks, swap in. Raises `BuildFailed` listing every problem.

    `site_url` is the public URL to build for (`kp demo`, `kp serve --watch`: the URL they
    serve at); by default KP_BASE_URL when it is set, else mkdocs.yml's `site_url`.

    `accel` (default: unless KP_ACCEL=0) builds with the fast paths of site_builder.accel:
    `jobs` worker processes render pages (default: one per core) and `cache` reuses pages
    whose inputs did not change from `.kp-cache/` beside mkdocs.yml. Without it, or for
    sites with plugins the fast path does not know, mkdocs' own build runs
    (`fast_path_note` says why).
    """

    def build_with(engine: Engine) -> BuildResult:
        return _build_site(
            config_file,
            engine,
            drafts=drafts,
            clean=clean,
            site_dir=site_dir,
            private_dir=private_dir,
            site_url=site_url,
        )

    if not (accel_requested() if accel is None else accel):
        return build_with(PlainBuild())
    from site_builder.accel.engine import AcceleratedBuild

    with AcceleratedBuild(config_file, jobs=jobs, cache=cache) as engine:
        return build_with(engine)


def _build_site(
    config_file: Path,
    engine: Engine,
    *,
    drafts: bool,
    clean: bool,
    site_dir: Path | None,
    private_dir: Path | None,
    site_url: str | None,
) -> BuildResult:
    started = time.monotonic()
    config = engine.load_config(config_file)
    plugin = _content_plugin(config)
    plugin.site_url = site_url
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
        _run(engine, config, site_target)
        kept = [] if clean else _carry_over(site_target, staged_site)
        manifest = read_manifest(staged_private / plugin.config.manifest)
        files = site_files(staged_site)
        leaks = engine.find_leaks(staged_site, staged_private, manifest, files)
        if leaks:
            raise BuildFailed(_leak_report(leaks))
        atomic.replace_dir(staged_site, site_target)
        atomic.replace_dir(staged_private, private_target)
        engine.published(site_target)
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
        files_checked=len(files),
        kept=kept,
        fast=engine.stats,
        fast_path_note=engine.note,
        replacements=engine.replacements,
        site_url=manifest.site_url,
        site_url_note=plugin.site_url_note,
    )


def _run(engine: Engine, config: MkDocsConfig, previous_site: Path) -> None:
    """`engine.build`, errors collected: what mkdocs logged, or the exception."""
    with _collect_errors() as errors:
        try:
            engine.build(config, previous_site)
        except Abort as exc:
            raise BuildFailed(errors or [str(exc)]) from exc
        except Exception as exc:  # a theme or plugin bug: still a failed build, not a traceback
            raise BuildFailed([*errors, f"{type(exc).__name__}: {exc}"]) from exc


def _leak_report(leaks: list[Leak]) -> list[str]:
    return [
        f"leak check failed: paid text found in the public site ({len(leaks)} place(s)); "
        "nothing was published",
        *(f"  {leak}" for leak in leaks),
    ]
