"""mkdocs-material's icon index (`material.extensions.emoji.twemoji`), listed with `os.scandir`.

Every build validates `pymdownx.emoji` with material's `twemoji` index, whose first call
per process globs the theme's 14,000 icon files (`**/*.svg`) and checks each name against
the emoji tables: a twentieth of a second of every build, clean or incremental, before any
page can render. `FastTwemojiIndex` builds the same index — the same entries, inserted in
the same order into the same `twemoji_db` tables material fills — walking the folders the
way `glob` does (each folder's names in directory order, its `.svg` entries, then its
subfolders; hidden names skipped) without matching every name against a pattern.
tests/builder/test_twemoji_index.py compares the result with material's own function.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from inspect import getfile
from typing import Any


def _svg_files(directory: str) -> Iterator[str]:
    """What `glob.iglob(directory/**/*.svg, recursive=True)` yields, in its order."""
    try:
        with os.scandir(directory) as scan:
            entries = [entry for entry in scan if not entry.name.startswith(".")]
    except OSError:  # (glob skips folders it cannot list)
        return
    for entry in entries:
        if entry.name.endswith(".svg"):
            yield entry.path
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if is_dir:
            yield from _svg_files(entry.path)


class FastTwemojiIndex:
    """material's `_load_twemoji_index` for `module` (material.extensions.emoji), cached
    per process as material's is; `kp_original` is the function it stands in for."""

    def __init__(self, module: Any, original: Any) -> None:
        self.module, self.kp_original = module, original
        self._load = functools.cache(self._index)

    def __call__(self, paths: tuple[str, ...]) -> dict[str, Any]:
        return self._load(paths)

    def _index(self, paths: tuple[str, ...]) -> dict[str, Any]:
        module = self.module
        twemoji_db = module.twemoji_db
        index = {"name": "twemoji", "emoji": twemoji_db.emoji, "aliases": twemoji_db.aliases}
        emoji, aliases = index["emoji"], index["aliases"]
        root = os.path.join(os.path.dirname(getfile(module.material)), "templates", ".icons")
        for path in [*paths, root]:
            base = os.path.normpath(path)
            for file in _svg_files(base):
                name = ":" + file[len(base) + 1 : -4].replace(os.path.sep, "-") + ":"
                if name not in emoji and name not in aliases:
                    emoji[name] = {"name": name, "path": file}
        return index


_FAST: dict[int, FastTwemojiIndex] = {}
"""The fast index of each emoji module (by id), made once: its memo of the index outlives
an uninstall, as material's own does."""


def install() -> Callable[[], None] | None:
    """Give mkdocs-material's `twemoji` index function the fast listing (registered in
    replacements.py as `twemoji-index`); None without material."""
    try:
        from material.extensions import emoji as module
    except ImportError:
        return None
    current = getattr(module, "_load_twemoji_index", None)
    if current is None:
        return None
    original = getattr(current, "kp_original", current)
    fast = _FAST.get(id(module))
    if fast is None:
        fast = _FAST[id(module)] = FastTwemojiIndex(module, original)
    module._load_twemoji_index = fast

    def undo() -> None:
        module._load_twemoji_index = original

    return undo
