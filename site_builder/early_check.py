"""Validate `content/` before mkdocs empties `site_dir`.

mkdocs' build runs the plugins' `on_config` and `on_pre_build`, then cleans the site
directory, and only then lists the files (`on_files`). Validating in `on_files` meant that a
plain `mkdocs build` (or `mkdocs serve`) meeting a content error had already deleted the last
good site. The plugin validates in `on_pre_build` from the same file listing mkdocs is about
to make, and hands the index to `on_files`, which uses it when the pages are the same ones
(the files are then read once per build, not twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import get_files

from site_builder.content import ContentIndex, build_index
from site_builder.errors import ContentErrors


@dataclass(frozen=True)
class CheckedContent:
    """The content index made before the build started, for the pages it was made from."""

    src_uris: frozenset[str]
    drafts: bool
    index: ContentIndex

    def for_pages(self, src_uris: Iterable[str], drafts: bool) -> ContentIndex | None:
        """The index, if it was made for exactly these pages (no plugin added or removed
        one since) with the same `drafts` setting; None otherwise."""
        same = frozenset(src_uris) == self.src_uris and drafts == self.drafts
        return self.index if same else None


def check_before_clean(
    config: MkDocsConfig, *, label_prefix: str, default_lang: str, drafts: bool
) -> CheckedContent:
    """Validate every Markdown page mkdocs will build; raise `ContentErrors` (every error at
    once) while `site_dir` still holds the previous site."""
    src_uris = frozenset(f.src_uri for f in get_files(config).documentation_pages())
    index = build_index(
        Path(config.docs_dir),
        src_uris,
        dict(config.extra),
        label_prefix=label_prefix,
        drafts=drafts,
        default_lang=default_lang,
    )
    if index.errors:
        raise ContentErrors(index.errors)
    return CheckedContent(src_uris, drafts, index)
