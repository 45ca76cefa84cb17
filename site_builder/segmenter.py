"""Chinese word segmentation for the search index at native speed.

mkdocs-material's search plugin segments every Chinese run of every page with jieba, in pure
Python: on a site of 1,000 bilingual articles that alone takes seconds. jieba-rs (the
`rjieba` binding) is a port of jieba with the same dictionary and the same algorithm (DAG +
HMM); it cuts the same words about a thousand times faster. `use_fast_segmenter` hands it to
the search plugin in jieba's place, unless the site loads its own jieba dictionaries
(`jieba_dict`, `jieba_dict_user`), which only jieba itself knows.

Loading jieba-rs's dictionary takes a tenth of a second. Builds rendering many pages load it
once before forking their workers (`load_before_fork`); a build rendering a few pages, one
of them Chinese, starts it in a second process while it sets up (`prepare_for`, `_Helper`)
and asks that process for the words, so the wait happens on the idle core.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import re
import sys
import types
from pathlib import Path
from typing import Any

from site_builder.line_helper import LineHelper
from site_builder.search_parser import verified

log = logging.getLogger("mkdocs.plugins.kp-content")


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


_HELPER_CODE = """
import json, sys
import rjieba
for line in sys.stdin:
    text, cut_all, hmm = json.loads(line)
    words = rjieba.cut_all(text) if cut_all else rjieba.cut(text, hmm=hmm)
    sys.stdout.write(json.dumps(words) + "\\n")
    sys.stdout.flush()
"""


class _Helper(LineHelper):
    """jieba-rs in a second process, started while the build sets up: loading its
    dictionary takes a tenth of a second, which a build rendering one Chinese page would
    otherwise spend waiting, and the second core is idle then. It answers `cut` requests
    with the same words jieba-rs gives in this process."""

    def __init__(self) -> None:
        super().__init__(_HELPER_CODE)

    def cut(self, text: str, cut_all: bool, hmm: bool) -> list[str] | None:
        """The words, or None when the helper cannot answer (it is then stopped)."""
        words = self.ask([text, cut_all, hmm])
        if words is None:
            stop_helper()
            return None
        return words if isinstance(words, list) else None


_helper: _Helper | None = None


def start_helper() -> None:
    """Start loading jieba-rs in a second process (once; not when this process has it)."""
    global _helper
    if _helper is None and "rjieba" not in sys.modules:
        try:
            _helper = _Helper()
        except OSError as exc:  # no second process: segment in this one
            log.debug("kp-content: no segmenter process (%s)", exc)


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


def defer_jieba_import() -> None:
    """Defer importing jieba: mkdocs-material's search plugin imports it when it loads, and
    importing jieba (it pulls in pkg_resources) is a tenth of a second of every build,
    though `use_fast_segmenter` then never calls it. A site that sets `jieba_dict` still
    gets the real jieba, on first use."""
    if "jieba" in sys.modules or importlib.util.find_spec("jieba") is None:
        return
    sys.modules["jieba"] = _DeferredJieba("jieba")


def use_fast_segmenter(search_config: Any) -> bool:
    """Segment with jieba-rs in mkdocs-material's search plugin; False when it cannot."""
    if search_config.get("jieba_dict") or search_config.get("jieba_dict_user"):
        return False
    if importlib.util.find_spec("rjieba") is None:
        return False
    try:
        from material.plugins.search import plugin as search_plugin
    except ImportError:
        return False
    current = getattr(search_plugin, "jieba", None)
    if current is None:  # jieba not installed: material does not segment at all; keep that
        return False
    if type(current) is not _JiebaRs:  # (isinstance would load a lazily imported jieba)
        search_plugin.jieba = _JiebaRs()
        log.debug("kp-content: Chinese search segmentation by jieba-rs")
    _use_fast_segment_chinese(search_plugin)
    return True


def _use_fast_segment_chinese(search_plugin: types.ModuleType) -> None:
    """Replace `SearchIndex._segment_chinese` by `segment_chinese_with` of its own
    expression, in a search plugin version whose method was checked to be that one
    (`search_parser.verified`)."""
    index_class = getattr(search_plugin, "SearchIndex", None)
    method = getattr(index_class, "_segment_chinese", None)
    if method is None or getattr(method, "kp_fast", False) or not verified(search_plugin):
        return
    from backrefs import bre  # material's own regular expressions

    pattern = getattr(bre.compile(HAN_RUNS, bre.UNICODE), "_pattern", None)
    if isinstance(pattern, re.Pattern):
        fast = segment_chinese_with(pattern, search_plugin)
        fast.kp_original = method  # for tests/builder/test_fastbuild.py's comparison
        index_class._segment_chinese = fast


HAN_RUNS = r"(\p{script: Han}+)"
"""The expression mkdocs-material's `SearchIndex._segment_chinese` compiles (with backrefs,
which expands it to a class of characters for the standard `re`) on every call."""


def segment_chinese_with(pattern: re.Pattern[str], search_plugin: types.ModuleType) -> Any:
    """mkdocs-material's `SearchIndex._segment_chinese` (9.8), with `pattern` (HAN_RUNS as
    backrefs compiles it) compiled once instead of on every call, and ASCII text, which has
    no Han, returned at once: a fifth of a second of a 1,000-page build."""

    def replace(match: re.Match[str]) -> str:
        words = search_plugin.jieba.cut(match.group(0).encode("utf-8"))
        return "".join(["\u200b", "\u200b".join(words), "\u200b"])

    def _segment_chinese(self: Any, data: str) -> str:
        if data.isascii():  # no Han to segment, no U+200B to strip
            return data
        return pattern.sub(replace, data).strip("\u200b")

    _segment_chinese.kp_fast = True  # type: ignore[attr-defined]
    return _segment_chinese


def _segmenting() -> bool:
    """Whether the search plugin segments Chinese with jieba-rs (`use_fast_segmenter`)."""
    try:
        from material.plugins.search import plugin as search_plugin
    except ImportError:
        return False
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
