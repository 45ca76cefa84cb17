"""One search index per language, beside the search plugin's `search/search_index.json`.

mkdocs-material loads one index for the whole site, so 社群 typed on an English page finds
Chinese articles and the reverse. The theme's search (themes/main.html) loads the page's
language's index, `search/search_index.<lang>.json`, and the whole-site one when the reader
asks for every language. Each is the plugin's index with the documents of other languages'
pages left out, written with the plugin's own JSON settings: only a subset of what is already
public, so no paid text can get in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

SEARCH_INDEX = "search/search_index.json"


def language_index_path(lang: str) -> str:
    """Where a language's index is written, relative to the site directory."""
    return f"search/search_index.{lang}.json"


def split_by_language(index: dict, page_langs: Mapping[str, str]) -> dict[str, dict]:
    """`{lang: index}`: each language's pages (by their site-relative URL, `articles/x/`);
    a document of a page not in `page_langs` is kept in every language."""
    langs = sorted(set(page_langs.values()))
    split: dict[str, dict] = {}
    for lang in langs:
        docs = [
            doc
            for doc in index.get("docs", [])
            if page_langs.get(str(doc.get("location", "")).split("#", 1)[0], lang) == lang
        ]
        split[lang] = {**index, "docs": docs}
    return split


def write_language_indexes(site_dir: Path, page_langs: Mapping[str, str]) -> list[str]:
    """Write `search/search_index.<lang>.json` for each language of a site with more than
    one; returns the paths written (none without a search index or on a one-language site)."""
    source = site_dir / SEARCH_INDEX
    if len(set(page_langs.values())) < 2 or not source.is_file():
        return []
    index = json.loads(source.read_text(encoding="utf-8"))
    written = []
    for lang, part in split_by_language(index, page_langs).items():
        path = language_index_path(lang)
        # The search plugin's own serialisation (material.plugins.search.plugin).
        text = json.dumps(part, separators=(",", ":"), default=str)
        (site_dir / path).write_text(text, encoding="utf-8")
        written.append(path)
    return written
