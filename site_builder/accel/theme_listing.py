"""The installed theme's file list, kept in .kp-cache (`theme-listing` in replacements.py).

mkdocs' `Files.add_files_from_theme` asks the theme's Jinja loader for every template name
(`FileSystemLoader.list_templates`), which walks mkdocs-material's folders — thousands of
icons — on every build: a tenth of a second. The listing of a folder inside an installed
package changes only with the package's version, so it is remembered by version; other
folders (the project's `custom_dir`) are walked every time.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path

import jinja2

from site_builder.accel.memos import replace_file


def _theme_listing_stamp(directory: str) -> str | None:
    """A stamp for a theme folder that is part of an installed package (mkdocs-material's
    templates, thousands of icons): its listing changes only with the package version."""
    import material

    package = Path(material.__file__).resolve().parent
    if not Path(directory).resolve().is_relative_to(package):
        return None
    return f"{directory}|mkdocs-material={importlib.metadata.version('mkdocs-material')}"


def _walk_templates(searchpath: str, followlinks: bool) -> list[str]:
    """jinja2.FileSystemLoader.list_templates for one search path."""
    found = []
    for dirpath, _, filenames in os.walk(searchpath, followlinks=followlinks):
        for filename in filenames:
            name = os.path.join(dirpath, filename)[len(searchpath) :].strip(os.sep)
            name = name.replace(os.sep, "/")
            found.append(name[2:] if name[:2] == "./" else name)
    return found


class _ListedLoader(jinja2.FileSystemLoader):
    """The theme's loader, with its listing worked out already."""

    def __init__(self, loader: jinja2.FileSystemLoader, listing: list[str]) -> None:
        super().__init__(loader.searchpath, loader.encoding, loader.followlinks)
        self.listing = listing

    def list_templates(self) -> list[str]:
        return list(self.listing)


def list_theme_from_cache(env: jinja2.Environment, cache_dir: Path) -> None:
    """Give the theme's loader a listing that reuses the installed theme's file list from
    .kp-cache (walking it is a tenth of a second of every build); other folders (the
    project's custom_dir) are walked every time. Call before any template is loaded."""
    loader = env.loader
    if type(loader) is not jinja2.FileSystemLoader:
        return
    path = cache_dir / "theme-files.json"
    try:
        memo = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    names: set[str] = set()
    changed = False
    for searchpath in loader.searchpath:
        stamp = _theme_listing_stamp(searchpath)
        known = memo.get(stamp) if stamp else None
        if known is None:
            known = _walk_templates(searchpath, loader.followlinks)
            if stamp:
                memo[stamp], changed = known, True
        names.update(known)
    # Hidden files (mkdocs-material's thousands of .icons) are left out of the listing: its
    # only reader, mkdocs' `add_files_from_theme`, drops every name matching '.*' or '*/.*'
    # after testing each against a dozen patterns.
    listing = sorted(name for name in names if not (name.startswith(".") or "/." in name))
    env.loader = _ListedLoader(loader, listing)
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, json.dumps(memo).encode("utf-8"))
