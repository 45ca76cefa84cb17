"""mkdocs-material's icon index (`material.extensions.emoji.twemoji`), listed with `os.scandir`.

Every build validates `pymdownx.emoji` with material's `twemoji` index, whose first call
per process globs the theme's 14,000 icon files (`**/*.svg`) and checks each name against
the emoji tables: a twentieth of a second of every build, clean or incremental, before any
page can render. `fast_twemoji_index` builds the same index — the same entries, inserted in
the same order into the same `twemoji_db` tables material fills — walking the folders the
way `glob` does (each folder's names in directory order, its `.svg` entries, then its
subfolders; hidden names skipped) without matching every name against a pattern.
tests/builder/test_icons.py compares the result with material's own function.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from inspect import getfile
from typing import Any

from site_builder.verified import is_verified

log = logging.getLogger("mkdocs.plugins.kp-content")

VERIFIED_EMOJI_MODULES = frozenset(
    {"c6a4319bc05e8bbacf689e65f7e42e69c9a5a4172b60e88dc446c4832e3a8c6f"}
)
"""sha256 of material/extensions/emoji.py (9.8.2) whose `_load_twemoji_index` this module
reproduces; any other version keeps its own."""


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


def fast_twemoji_index(module: Any) -> Any:
    """material's `_load_twemoji_index` for `module` (material.extensions.emoji), cached
    per process as material's is."""

    @functools.cache
    def load(paths: tuple[str, ...]) -> dict[str, Any]:
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

    return load


def use_fast_twemoji_index() -> bool:
    """Give mkdocs-material's `twemoji` index function the fast listing; False when material
    is not installed or is a version this module was not verified against."""
    try:
        from material.extensions import emoji as module
    except ImportError:
        return False
    current = getattr(module, "_load_twemoji_index", None)
    if current is None:
        return False
    if getattr(current, "kp_fast", False):
        return True
    if not is_verified(module, VERIFIED_EMOJI_MODULES):
        log.debug("kp-content: unknown mkdocs-material emoji module; its icon index is kept")
        return False
    fast = fast_twemoji_index(module)
    fast.kp_fast = True  # type: ignore[attr-defined]
    module._load_twemoji_index = fast
    return True
