"""Every replacement of third-party code the fast build makes, registered in one place.

An entry names what it replaces and in which upstream module, the sha256 of each upstream
source file it was verified against (tests/builder compare its results with the original's
on that version), and the function that installs it. `install` checks the fingerprints
first: a replacement whose upstream source is not a verified one is skipped with a WARNING
naming it and the module, and the original code runs (the same output, only slower).

Installing gives an `Installed`, which knows what is in effect and takes it all out again
(`uninstall`), so one process can build with and without the fast paths.

To verify a new upstream version: run tests/builder against it, then add the digests that
`python -m site_builder.accel.replacements` prints to the entries' `sources`.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig

log = logging.getLogger("mkdocs.kp.accel")

Stage = Literal["load", "build"]
"""When an entry is installed: before mkdocs.yml is loaded (it speeds up loading it), or
once it is loaded and before the build starts (it needs the configuration)."""
Undo = Callable[[], None]
Installer = Callable[["MkDocsConfig | None"], Undo | None]
"""Installs a replacement and returns how to undo it; None when it does not apply here
(a dependency is missing, or the site's configuration needs the original)."""


@dataclass(frozen=True)
class Source:
    """One upstream file a replacement was verified against: `path` inside the installed
    package (or standard-library module) `package`, and the sha256 digests of the verified
    versions of that file."""

    package: str
    path: str
    sha256: tuple[str, ...]

    def location(self) -> str | None:
        """The file in this environment, found without importing the package (None: not
        installed)."""
        spec = importlib.machinery.PathFinder.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        return os.path.join(list(spec.submodule_search_locations)[0], self.path)


@dataclass(frozen=True)
class Replacement:
    name: str
    replaces: str
    """What is replaced (a function, class, method, attribute)."""
    module: str
    """The upstream module it is replaced in."""
    sources: tuple[Source, ...]
    install: Installer
    stage: Stage = "build"
    does: str = ""
    """What the replacement does instead, in a line."""


_DIGESTS: dict[str, str | None] = {}


def file_digest(path: str) -> str | None:
    """sha256 of the file at `path` (None when it cannot be read), computed once per
    process: installed packages do not change under a running build."""
    if path not in _DIGESTS:
        try:
            with open(path, "rb") as file:
                _DIGESTS[path] = hashlib.sha256(file.read()).hexdigest()
        except OSError:
            _DIGESTS[path] = None
    return _DIGESTS[path]


@dataclass(frozen=True)
class Check:
    """The outcome of comparing one replacement's sources with the installed files."""

    missing: str | None = None
    """A source whose package is not installed (the replacement does not apply)."""
    mismatch: tuple[Source, str] | None = None
    """A source that is not a verified version: (source, its digest here)."""

    @property
    def verified(self) -> bool:
        return self.missing is None and self.mismatch is None


def check(replacement: Replacement) -> Check:
    for source in replacement.sources:
        path = source.location()
        digest = file_digest(path) if path is not None else None
        if path is None or (digest is None and not os.path.exists(path)):
            return Check(missing=f"{source.package}/{source.path}")
        if digest not in source.sha256:
            return Check(mismatch=(source, digest or "unreadable"))
    return Check()


_WARNED: set[tuple[str, str]] = set()


def _warn_skipped(replacement: Replacement, source: Source, digest: str) -> None:
    """One WARNING per replacement and upstream version in a process (a `--watch` build
    does not repeat it on every rebuild)."""
    if (replacement.name, digest) in _WARNED:
        return
    _WARNED.add((replacement.name, digest))
    log.warning(
        "kp build: fast path '%s' skipped: it replaces %s in %s, and %s/%s (sha256 %s) is "
        "not the source it was verified with; the original code runs (same output, slower). "
        "Verify this version and add its fingerprint in site_builder/accel/replacements.py.",
        replacement.name,
        replacement.replaces,
        replacement.module,
        source.package,
        source.path,
        digest[:12],
    )


@dataclass
class Installed:
    """The replacements in effect, and how to take them out."""

    active: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """Replacements not installed, and why."""
    _undo: list[Undo] = field(default_factory=list)

    def __contains__(self, name: object) -> bool:
        return name in self.active

    def install(self, stage: Stage, config: MkDocsConfig | None = None) -> None:
        """Install every registered replacement of `stage` whose sources are verified."""
        for replacement in REPLACEMENTS:
            if replacement.stage != stage or replacement.name in self.active:
                continue
            outcome = check(replacement)
            if outcome.mismatch is not None:
                _warn_skipped(replacement, *outcome.mismatch)
                self.skipped[replacement.name] = (
                    f"{outcome.mismatch[0].package}/{outcome.mismatch[0].path} "
                    "is not the verified version"
                )
                continue
            if outcome.missing is not None:
                log.debug(
                    "kp build: fast path '%s' skipped: no %s", replacement.name, outcome.missing
                )
                self.skipped[replacement.name] = f"{outcome.missing} is not installed"
                continue
            undo = replacement.install(config)
            if undo is None:
                self.skipped[replacement.name] = "does not apply to this site"
                continue
            self.active.append(replacement.name)
            self._undo.append(undo)
            log.debug("kp build: fast path '%s' installed", replacement.name)

    def uninstall(self) -> None:
        """Put the original code back, in the reverse order of installing."""
        while self._undo:
            self._undo.pop()()
        self.active.clear()


def _nothing() -> None:
    """The undo of a replacement the fast build applies itself (nothing was patched)."""


def _used_by_the_build_loop(config: MkDocsConfig | None) -> Undo:
    """Entries the build loop applies per build (it asks `name in installed`)."""
    return _nothing


# -- the registry ---------------------------------------------------------------------------
# (install functions live beside the code they install; imported here on first use)


def _install_jieba_deferral(config: MkDocsConfig | None) -> Undo | None:
    from site_builder.accel import segmenter

    return segmenter.defer_jieba_import()


def _install_twemoji_index(config: MkDocsConfig | None) -> Undo | None:
    from site_builder.accel import twemoji_index

    return twemoji_index.install()


def _install_search_parser(config: MkDocsConfig | None) -> Undo | None:
    from site_builder.accel import search_parser

    return search_parser.install()


def _install_jieba_rs(config: MkDocsConfig | None) -> Undo | None:
    from site_builder.accel import segmenter

    return segmenter.install_jieba_rs(config)


def _install_segment_chinese(config: MkDocsConfig | None) -> Undo | None:
    from site_builder.accel import segmenter

    return segmenter.install_segment_chinese()


def _install_inline_processor(config: MkDocsConfig | None) -> Undo | None:
    from site_builder.accel import inline_patterns

    return inline_patterns.install()


def _install_lexer_lookup(config: MkDocsConfig | None) -> Undo | None:
    from site_builder.accel import highlighting

    return highlighting.install_lexer_lookup()


def _install_stylesheet_memo(config: MkDocsConfig | None) -> Undo | None:
    from site_builder.accel import highlighting

    return highlighting.install_stylesheet_memo()


def _install_sidebar_cache(config: MkDocsConfig | None) -> Undo | None:
    from site_builder.accel import nav_cache

    return nav_cache.install(config)


MATERIAL_SEARCH = Source(
    "material",
    "plugins/search/plugin.py",
    ("cc8a3ac0a8862662d11e87fefcdaa4a42d9ebd70a7943fa921c1c80e2661730b",),  # 9.8.2
)
JIEBA = Source(
    "jieba",
    "__init__.py",
    ("b47cefcfd0bf683b0c708c1de0328df83be2c35264637c442106e79d739fb7f3",),  # 0.42.1
)

REPLACEMENTS: tuple[Replacement, ...] = (
    Replacement(
        name="fast-build",
        replaces="build (the build loop: Page.read_source, Page.render, _build_page)",
        module="mkdocs.commands.build",
        does="builds with a page cache and forked workers (site_builder/accel/build_loop.py)",
        sources=(
            Source(
                "mkdocs",
                "commands/build.py",
                ("77fb0135d13f14223066a60c5a7e0293e333d1e6a4b058cebbb6d8acf8cc3825",),  # 1.6.1
            ),
            Source(
                "mkdocs",
                "structure/pages.py",
                ("28cc64c2f8b85b9272d49f0f2eb263851f86ed99796f8a593b11c0c7fbd11bf2",),
            ),
            Source(
                "mkdocs",
                "structure/nav.py",
                ("582c2be1a2309c5922dd3882233a34e3e7385152564fede1d8a3e6489d44a109",),
            ),
            Source(
                "mkdocs",
                "utils/meta.py",
                ("8eace32c6adef88abb95951eee90ba6b8c13bd8f65c500f6200e60c0a41d85e2",),
            ),
        ),
        install=_used_by_the_build_loop,
    ),
    Replacement(
        name="theme-listing",
        replaces="FileSystemLoader.list_templates (for Files.add_files_from_theme)",
        module="jinja2.loaders",
        does="lists the installed theme's files from .kp-cache, hidden icons left out",
        sources=(
            Source(
                "jinja2",
                "loaders.py",
                ("c08ae7c63bdc6ea8795705b6f0d4a47e8b620eaf2a342c4839215b1948922c1e",),  # 3.1.6
            ),
            Source(
                "mkdocs",
                "structure/files.py",
                ("4132e55a63c61e9a3494d9d913f2689a2f6096a811fc6641117adb35861726e4",),
            ),
        ),
        install=_used_by_the_build_loop,
    ),
    Replacement(
        name="template-cache",
        replaces="Environment.cache (an LRUCache)",
        module="jinja2.environment",
        does="a plain dict for the build: no reordering of a queue on every template hit",
        sources=(
            Source(
                "jinja2",
                "environment.py",
                ("f6786b3fb0a1f8d6c65f4d30bf2af8cb2fae84d1ead8e09ceb48201ab9e2fdf9",),
            ),
        ),
        install=_used_by_the_build_loop,
    ),
    Replacement(
        name="jieba-deferred-import",
        replaces='sys.modules["jieba"] (imported by the search plugin when it loads)',
        module="material.plugins.search.plugin",
        does="a stand-in that imports jieba on first use (site_builder/accel/segmenter.py)",
        sources=(MATERIAL_SEARCH, JIEBA),
        install=_install_jieba_deferral,
        stage="load",
    ),
    Replacement(
        name="twemoji-index",
        replaces="_load_twemoji_index",
        module="material.extensions.emoji",
        does="lists the icons with os.scandir instead of globbing (twemoji_index.py)",
        sources=(
            Source(
                "material",
                "extensions/emoji.py",
                ("c6a4319bc05e8bbacf689e65f7e42e69c9a5a4172b60e88dc446c4832e3a8c6f",),
            ),
        ),
        install=_install_twemoji_index,
        stage="load",
    ),
    Replacement(
        name="search-parser",
        replaces="Parser (an html.parser.HTMLParser)",
        module="material.plugins.search.plugin",
        does="tokenizes Python-Markdown's HTML with one expression (search_parser.py)",
        sources=(
            MATERIAL_SEARCH,
            Source(  # the standard library's tokenizer, whose calls FastParser reproduces
                "html",
                "parser.py",
                ("2fc512ae95bed2746b5ba3fabb14fcebf3114ff808ce97d96214ddd613b253da",),  # 3.11.7,
            ),
        ),
        install=_install_search_parser,
    ),
    Replacement(
        name="chinese-segmenter",
        replaces="jieba (its cut, as the search index calls it)",
        module="material.plugins.search.plugin",
        does="cuts the same words with jieba-rs (segmenter.py)",
        sources=(MATERIAL_SEARCH, JIEBA),
        install=_install_jieba_rs,
    ),
    Replacement(
        name="segment-chinese",
        replaces="SearchIndex._segment_chinese",
        module="material.plugins.search.plugin",
        does="compiles its expression once and returns ASCII text at once (segmenter.py)",
        sources=(
            MATERIAL_SEARCH,
            Source(  # bre.compile(...)._pattern: the expression as the standard `re` compiled it
                "backrefs",
                "bre.py",
                ("27b9d8ebceab69bda3417a6732cc835caec0eb9ef1f69f5e34f3e8b075b9b30a",),  # 8.3.1
            ),
        ),
        install=_install_segment_chinese,
    ),
    Replacement(
        name="inline-processor",
        replaces="InlineProcessor (its __handleInline loop)",
        module="markdown.treeprocessors",
        does="skips inline patterns whose required text a run lacks (inline_patterns.py)",
        sources=(
            Source(
                "markdown",
                "treeprocessors.py",
                ("bf575e7cb994079e4d9466565dc31ea102d852b1be3c5c922eea4a708c08dd48",),  # 3.11.3
            ),
            Source(  # re._parser: what every pattern requires is read from its parsed form
                "re",
                "_parser.py",
                ("4748e39c77d6dc14f81af80e68a62ad99031a8182d5e0b219a6666d0cfb1626f",),
            ),
            Source(
                "re",
                "_constants.py",
                ("3e4463dc8ba87c4a3563be46d2d593e82ca9a0fb91768cfe5a07554ed3de82c5",),
            ),
        ),
        install=_install_inline_processor,
    ),
    Replacement(
        name="pygments-lexer-lookup",
        replaces="get_lexer_by_name",
        module="pymdownx.highlight",
        does="looks each alias up once per process (highlighting.py)",
        sources=(
            Source(
                "pymdownx",
                "highlight.py",
                ("dd32d197c1ce187dfa8907c8f87db3c52bb3a5fc7721551d9687ed6484b104a6",),
            ),
            Source(
                "pygments",
                "lexers/__init__.py",
                ("1b876da84e5030402aa1a683d6bc126597aea8a84cc92e2eb65333d6cce4ad38",),  # 2.21
            ),
        ),
        install=_install_lexer_lookup,
    ),
    Replacement(
        name="pygments-stylesheet",
        replaces="HtmlFormatter._create_stylesheet",
        module="pygments.formatters.html",
        does="works out each style's CSS classes once per process (highlighting.py)",
        sources=(
            Source(
                "pygments",
                "formatters/html.py",
                ("dcdd5f976d788e0caa9025fa2f3de04bc9761104bbbf85a3ef189e60d9653628",),
            ),
        ),
        install=_install_stylesheet_memo,
    ),
    Replacement(
        name="sidebar-cache",
        replaces="partials/nav-item.html, rendered for every page",
        module="material.templates",
        does="renders the sidebar once per language, section and folder (nav_cache.py)",
        sources=(
            Source(
                "material",
                "templates/partials/nav-item.html",
                ("89895208f22d68ce405a4bcb6649b9150eba5bbb04663a6cb3f93f02daf1d2f7",),
            ),
        ),
        install=_install_sidebar_cache,
    ),
)


def by_name(name: str) -> Replacement:
    return next(r for r in REPLACEMENTS if r.name == name)


def install(stage: Stage, config: MkDocsConfig | None = None) -> Installed:
    """A new `Installed` holding the replacements of `stage`."""
    installed = Installed()
    installed.install(stage, config)
    return installed


def main() -> int:
    """Print every entry, its sources' digests here, and whether they are verified."""
    failed = 0
    for replacement in REPLACEMENTS:
        outcome = check(replacement)
        state = "verified" if outcome.verified else "NOT VERIFIED"
        if outcome.missing:
            state = f"not installed ({outcome.missing})"
        failed += not outcome.verified
        print(f"{replacement.name}: {replacement.replaces} in {replacement.module}: {state}")
        for source in replacement.sources:
            path = source.location()
            digest = file_digest(path) if path else None
            print(f"    {source.package}/{source.path}: {digest or 'missing'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
