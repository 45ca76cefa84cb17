"""Where a page is in the other languages: the language switcher's links and the `hreflang`
alternates of `<head>` and the sitemaps.

The switcher always offers every language of the site: the same page when it is translated,
else that language's home page, so a reader never lands on a 404. `hreflang` lists only real
translations (search engines must not be told the home page translates an article), plus
`x-default`, the default language's version, for readers of any other language.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from kp_contract.i18n import language_name
from site_builder.content import ContentIndex, Entry


@dataclass(frozen=True)
class Alternate:
    """One entry of the language switcher; `url` is site-relative (for the `url` filter)."""

    lang: str
    name: str
    url: str
    current: bool
    translated: bool


@dataclass(frozen=True)
class HrefLang:
    """`<link rel="alternate" hreflang=… href=…>`: `href` is absolute when site_url is set."""

    lang: str
    href: str


def site_url_of(entry: Entry) -> str:
    """The entry's URL for the `url` template filter ('.' for the site root)."""
    return entry.url or "."


def absolute(site_url: str, entry: Entry) -> str:
    """Absolute URL under `site_url`, or the root-relative path when no site_url is set."""
    return urljoin(site_url, entry.url) if site_url else entry.url_path


def switcher(index: ContentIndex, lang: str, entry: Entry | None = None) -> tuple[Alternate, ...]:
    """Switcher links for a page in `lang` (`entry` None: a page the build does not own, such
    as the paywall's account page); empty on a single-language site."""
    langs = index.langs()
    if len(langs) < 2:
        return ()
    versions = index.translations(entry) if entry is not None else {}
    links = []
    for other in langs:
        target = versions.get(other)
        page = target or index.home(other)
        if page is None:
            continue
        links.append(
            Alternate(
                lang=other,
                name=language_name(other),
                url=site_url_of(page),
                current=other == lang,
                translated=target is not None,
            )
        )
    return tuple(links)


def hreflang(index: ContentIndex, entry: Entry, site_url: str) -> tuple[HrefLang, ...]:
    """Alternates of a translated page: every version plus x-default; () when untranslated."""
    versions = index.translations(entry)
    if len(versions) < 2:
        return ()
    ordered = sorted(versions.items(), key=lambda item: (item[0] != index.default_lang, item[0]))
    links = [HrefLang(lang, absolute(site_url, version)) for lang, version in ordered]
    default = versions.get(index.default_lang)
    if default is not None:
        links.append(HrefLang("x-default", absolute(site_url, default)))
    return tuple(links)
