"""Chinese word segmentation for the search index at native speed.

mkdocs-material's search plugin segments every Chinese run of every page with jieba, in pure
Python: on a site of 1,000 bilingual articles that alone takes seconds. jieba-rs (the
`rjieba` binding) is a port of jieba with the same dictionary and the same algorithm (DAG +
HMM); it cuts the same words about a thousand times faster. `use_fast_segmenter` hands it to
the search plugin in jieba's place, unless the site loads its own jieba dictionaries
(`jieba_dict`, `jieba_dict_user`), which only jieba itself knows.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import types
from typing import Any

log = logging.getLogger("mkdocs.plugins.kp-content")


class _JiebaRs:
    """The one call material makes, `jieba.cut(value.encode("utf-8"))`, served by jieba-rs
    (imported on first use: loading its dictionary is wasted on builds without Chinese)."""

    def cut(self, text: str | bytes, cut_all: bool = False, HMM: bool = True) -> list[str]:  # noqa: N803 - jieba's signature
        import rjieba

        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return rjieba.cut_all(text) if cut_all else rjieba.cut(text, hmm=HMM)


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
    return True


def load_before_fork() -> None:
    """Load jieba-rs (and its dictionary: a tenth of a second) in this process before it
    forks build workers, so they share it instead of each loading it, when the search
    plugin segments with it."""
    try:
        from material.plugins.search import plugin as search_plugin
    except ImportError:
        return
    if type(getattr(search_plugin, "jieba", None)) is _JiebaRs:
        import rjieba  # noqa: F401 - loaded for the workers
