"""Chinese word segmentation for the search index at native speed.

mkdocs-material's search plugin segments every Chinese run of every page with jieba, in pure
Python: on a site of 1,000 bilingual articles that alone takes seconds. jieba-rs (the
`rjieba` binding) is a port of jieba with the same dictionary and the same algorithm (DAG +
HMM); it cuts the same words about a thousand times faster. Three replacements, registered
in replacements.py:

- `install_jieba_rs` hands jieba-rs to the search plugin in jieba's place, unless the site
  loads its own jieba dictionaries (`jieba_dict`, `jieba_dict_user`), which only jieba
  itself knows (`chinese-segmenter`);
- `install_segment_chinese` replaces the plugin's `SearchIndex._segment_chinese` by the same
  function with its expression compiled once (`FastSegmentChinese`, `segment-chinese`);
- `defer_jieba_import` keeps jieba itself from being imported when the plugin loads
  (`jieba-deferred-import`).

Loading jieba-rs's dictionary takes a tenth of a second. Builds rendering many pages load it
once before forking their workers (`load_before_fork`); a build rendering a few pages, one
of them Chinese, starts it in a second process while it sets up (`prepare_for`, `_Helper`,
which runs site_builder/accel/processes/segment.py) and asks that process for the words, so
the wait happens on the idle core.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import re
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from site_builder.accel.line_helper import LineHelper

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig

log = logging.getLogger("mkdocs.kp.accel")

Undo = Callable[[], None]


class _JiebaRs:
    """The one call material makes, `jieba.cut(value.encode("utf-8"))`, served by jieba-rs:
    by the `_Helper` process when one is running, else in this process (imported on first
    use: loading its dictionary is wasted on builds without Chinese)."""

    def cut(self, text: str | bytes, cut_all: bool = False, HMM: bool = True) -> list[str]:  # noqa: N803 - jieba's signature
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if _helper is not None and "rjieba" not in sys.modules:
            words = _helper.cut(text, cut_all, HMM)
            if words is not None:
                return words
        import rjieba

        return rjieba.cut_all(text) if cut_all else rjieba.cut(text, hmm=HMM)


class _Helper(LineHelper):
    """jieba-rs in a second process, started while the build sets up: loading its
    dictionary takes a tenth of a second, which a build rendering one Chinese page would
    otherwise spend waiting, and the second core is idle then. It answers `cut` requests
    with the same words jieba-rs gives in this process."""

    def __init__(self) -> None:
        super().__init__("site_builder.accel.processes.segment")

    def cut(self, text: str, cut_all: bool, hmm: bool) -> list[str] | None:
        """The words, or None when the helper cannot answer (it is then stopped)."""
        words = self.ask([text, cut_all, hmm])
        if words is None:
            stop_helper()
            return None
        if isinstance(words, list) and all(isinstance(word, str) for word in words):
            return words
        return None


_helper: _Helper | None = None


def start_helper() -> None:
    """Start loading jieba-rs in a second process (once; not when this process has it)."""
    global _helper
    if _helper is None and "rjieba" not in sys.modules:
        try:
            _helper = _Helper()
        except OSError as exc:  # no second process: segment in this one
            log.debug("kp build: no segmenter process (%s)", exc)


def stop_helper() -> None:
    """Stop the segmenter process, if any (at the end of a build, or before forking)."""
    global _helper
    helper, _helper = _helper, None
    if helper is not None:
        helper.close()


class _DeferredJieba(types.ModuleType):
    """Stands in for jieba in `sys.modules` until something uses it: the first attribute
    asked for imports the real module (which then replaces this one) and is answered from
    it. (importlib's LazyLoader cannot do this: `import` itself reads `__spec__`.)"""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get("jieba") is self:
            del sys.modules["jieba"]
        return getattr(importlib.import_module("jieba"), name)


def defer_jieba_import() -> Undo | None:
    """Defer importing jieba: mkdocs-material's search plugin imports it when it loads, and
    importing jieba (it pulls in pkg_resources) is a tenth of a second of every build,
    though jieba-rs then segments in its place. A site that sets `jieba_dict` still gets
    the real jieba, on first use. Returns how to take the stand-in out of `sys.modules`
    again (a plugin that imported it meanwhile keeps it: it hands every use on to the
    real module)."""
    if "jieba" in sys.modules or importlib.util.find_spec("jieba") is None:
        return None
    stand_in = _DeferredJieba("jieba")
    sys.modules["jieba"] = stand_in

    def undo() -> None:
        if sys.modules.get("jieba") is stand_in:
            del sys.modules["jieba"]

    return undo


def _search_plugin_module() -> Any:
    """material.plugins.search.plugin (None without mkdocs-material, which has no type
    information)."""
    try:
        from material.plugins.search import plugin as search_plugin
    except ImportError:
        return None
    return search_plugin


def install_jieba_rs(config: MkDocsConfig | None) -> Undo | None:
    """Segment with jieba-rs in mkdocs-material's search plugin; None when it cannot (no
    search plugin or no jieba-rs, or a site with jieba dictionaries of its own)."""
    search = None
    if config is not None:
        search = config.plugins.get("material/search") or config.plugins.get("search")
    if search is None or search.config.get("jieba_dict") or search.config.get("jieba_dict_user"):
        return None
    if importlib.util.find_spec("rjieba") is None:
        return None
    search_plugin = _search_plugin_module()
    if search_plugin is None:
        return None
    current = getattr(search_plugin, "jieba", None)
    if current is None:  # jieba not installed: material does not segment at all; keep that
        return None
    search_plugin.jieba = _JiebaRs()

    def undo() -> None:
        search_plugin.jieba = current

    return undo


HAN_RUNS = r"(\p{script: Han}+)"
"""The expression mkdocs-material's `SearchIndex._segment_chinese` compiles (with backrefs,
which expands it to a class of characters for the standard `re`) on every call."""


def install_segment_chinese() -> Undo | None:
    """Replace `SearchIndex._segment_chinese` by `FastSegmentChinese` of its own expression."""
    search_plugin = _search_plugin_module()
    index_class = getattr(search_plugin, "SearchIndex", None)
    method = getattr(index_class, "_segment_chinese", None)
    if search_plugin is None or index_class is None or method is None:
        return None
    from backrefs import bre  # material's own regular expressions

    pattern = getattr(bre.compile(HAN_RUNS, bre.UNICODE), "_pattern", None)
    if not isinstance(pattern, re.Pattern):
        return None
    original = getattr(method, "kp_original", method)
    index_class._segment_chinese = FastSegmentChinese(pattern, search_plugin, original)

    def undo() -> None:
        index_class._segment_chinese = original

    return undo


class FastSegmentChinese:
    """mkdocs-material's `SearchIndex._segment_chinese` (9.8), with `pattern` (HAN_RUNS as
    backrefs compiles it) compiled once instead of on every call, and ASCII text, which has
    no Han, returned at once: a fifth of a second of a 1,000-page build. A descriptor, so
    it is a method of `SearchIndex` as the function it replaces is."""

    kp_fast = True

    def __init__(
        self, pattern: re.Pattern[str], search_plugin: types.ModuleType, original: Any
    ) -> None:
        self.pattern, self.search_plugin = pattern, search_plugin
        self.kp_original = original
        """material's own method (tests/builder compare the two)."""

    def _replace(self, match: re.Match[str]) -> str:
        words = self.search_plugin.jieba.cut(match.group(0).encode("utf-8"))
        return "".join(["\u200b", "\u200b".join(words), "\u200b"])

    def segment(self, data: str) -> str:
        if data.isascii():  # no Han to segment, no U+200B to strip
            return data
        return self.pattern.sub(self._replace, data).strip("\u200b")

    def __get__(self, instance: object, owner: type | None = None) -> Callable[[str], str]:
        return self.segment


def _segmenting() -> bool:
    """Whether the search plugin segments Chinese with jieba-rs (`install_jieba_rs`)."""
    search_plugin = sys.modules.get("material.plugins.search.plugin")
    return type(getattr(search_plugin, "jieba", None)) is _JiebaRs


def prepare_for(sources: list[Path], since: float | None) -> None:
    """Start loading jieba-rs in a second process when the search plugin segments with it
    and one of the Chinese pages' `sources` changed after `since` (the last build): the
    build renders pages after setting up, and by then the dictionary is loaded. A wrong
    guess costs nothing but that process (or the wait it would have saved)."""
    if since is None or not sources or not _segmenting():
        return  # (a first build renders on every core; the workers get jieba-rs anyway)
    for source in sources:
        with contextlib.suppress(OSError):
            if source.stat().st_mtime > since:
                start_helper()
                return


def load_before_fork() -> None:
    """Load jieba-rs (and its dictionary: a tenth of a second) in this process before it
    forks build workers, so they share it instead of each loading it, when the search
    plugin segments with it."""
    if _segmenting():
        import rjieba  # noqa: F401 - loaded for the workers

        stop_helper()  # the workers must not share its pipes
