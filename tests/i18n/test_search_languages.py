"""The per-language search indexes beside `search/search_index.json` (site_builder/
search_langs.py): each holds exactly its language's pages, together they are the whole
index, and the theme loads the page's language's one (themes/main.html)."""

from __future__ import annotations

import json


def _index(i18n_build, name: str) -> dict:
    return json.loads((i18n_build.site / "search" / name).read_text("utf-8"))


def _page(location: str) -> str:
    return "/" + location.split("#", 1)[0]


def test_each_language_index_holds_its_pages_only(i18n_build):
    whole = _index(i18n_build, "search_index.json")
    langs = {page.url: page.lang for page in i18n_build.pages}
    split = {lang: _index(i18n_build, f"search_index.{lang}.json") for lang in ("en", "zh")}
    for lang, index in split.items():
        assert index["config"] == whole["config"]
        pages = {_page(doc["location"]) for doc in index["docs"]}
        assert {p for p in pages if p in langs and langs[p] != lang} == set(), lang
        assert {p for p, page_lang in langs.items() if page_lang == lang} <= pages, lang
    together = split["en"]["docs"] + split["zh"]["docs"]
    assert sorted(map(json.dumps, together)) == sorted(map(json.dumps, whole["docs"]))


def test_pages_load_their_language_index(i18n_build):
    zh, en = i18n_build.html("/zh/"), i18n_build.html("/")
    assert "search/search_index.zh.json" in zh and "search/search_index.en.json" in en
    assert zh.index("search_index.zh.json") < zh.index("assets/javascripts/bundle.")
