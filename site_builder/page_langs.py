"""Which language a content file is in and which files translate each other.

The convention is mkdocs-static-i18n's "suffix" structure: `about.zh.md` is the Chinese
version of `about.md`. A translation in a non-default language is published under
`/<lang>/` (`/zh/about/`), the default language at the root, exactly like mkdocs-static-i18n
does, so existing URLs never move when a translation is added. A file without suffix is in its
`lang:` front matter, else in the site's language (`theme.language`). Files that share a path
once the suffix is removed (`articles/x.md`, `articles/x.zh.md`) are one translation group.
"""

from __future__ import annotations

import posixpath
import re

from kp_contract.i18n import LANGS
from site_builder.slugs import slugify

# URL path segments kept as written (ASCII names); others (Chinese, spaces) become slugs.
_PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def split_lang_suffix(src_uri: str) -> tuple[str, str | None]:
    """`articles/x.zh.md` → (`articles/x.md`, 'zh'); no known suffix → (src_uri, None)."""
    head, name = posixpath.split(src_uri)
    stem, ext = posixpath.splitext(name)
    base, dot, suffix = stem.rpartition(".")
    if dot and base and suffix in LANGS:
        return posixpath.join(head, base + ext), suffix
    return src_uri, None


def url_segment(name: str) -> str:
    """A path segment as it appears in URLs: plain ASCII names unchanged, others slugified
    (pinyin for Chinese: `社群公约` → `she-qun-gong-yue`). '' when nothing usable remains."""
    return name if _PLAIN_SEGMENT.match(name) else slugify(name)


def url_path(path: str) -> str:
    """Every segment of a posix path through `url_segment` (empty ones left out)."""
    return "/".join(seg for seg in (url_segment(part) for part in path.split("/")) if seg)


def lang_prefix(lang: str, default_lang: str) -> str:
    """Output-path prefix of a translation: '' for the default language, 'zh/' otherwise."""
    return "" if lang == default_lang else f"{lang}/"


def resolve_lang(
    front_matter: str | None, suffix: str | None, default: str
) -> tuple[str, str | None]:
    """(language, problem): the suffix and `lang:` must agree when both are given."""
    if suffix and front_matter and front_matter != suffix:
        return suffix, f"the file name says '{suffix}' (.{suffix}.md) but lang is '{front_matter}'"
    return suffix or front_matter or default, None
