"""RSS 2.0 feeds of the free articles, one per language, as Ghost and blog readers expect.

`feed.xml` holds the articles in the site's language, `<lang>/feed.xml` those in each other
language (`zh/feed.xml`), mirroring where translated pages live. An RSS channel has one
`<language>`, so one feed per language; each feed points to the others with Atom
`rel="alternate" hreflang` links.

Items carry the title, link, date, tags and the editor's `summary` only, never the body, so
a feed cannot leak paid or members-only text and stays small.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import format_datetime
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

from kp.i18n import t
from site_builder.content import ContentIndex

FEED_FILE = "feed.xml"
MAX_ITEMS = 30
ATOM = "http://www.w3.org/2005/Atom"
ET.register_namespace("atom", ATOM)


@dataclass(frozen=True)
class FeedLink:
    """A language's feed: `path` relative to the site root, `title` for `<link>` tags."""

    lang: str
    path: str
    title: str


def feed_path(lang: str, default_lang: str) -> str:
    """`feed.xml` for the site's language, `zh/feed.xml` for Chinese on an English site."""
    return FEED_FILE if lang == default_lang else f"{lang}/{FEED_FILE}"


def feed_links(index: ContentIndex, site_name: str) -> list[FeedLink]:
    """Every language that has published articles, the default language first."""
    langs = {e.lang for e in index.published("article")}
    return [
        FeedLink(
            lang, feed_path(lang, index.default_lang), t(lang, "theme.feed_title", site=site_name)
        )
        for lang in index.langs()
        if lang in langs
    ]


def _rfc822(day: dt.date) -> str:
    return format_datetime(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))


def render_feed(
    index: ContentIndex,
    *,
    lang: str,
    site_name: str,
    site_url: str,
    description: str,
    others: list[FeedLink] | None = None,
) -> str:
    """The feed XML for `lang`; `site_url` must be absolute (feed readers need absolute
    links). `others` are the other languages' feeds, linked as alternates."""
    root = ET.Element("rss", version="2.0")
    channel = ET.SubElement(root, "channel")
    ET.SubElement(channel, "title").text = site_name
    home = index.home(lang)
    ET.SubElement(channel, "link").text = urljoin(site_url, home.url if home else "")
    ET.SubElement(channel, "description").text = description or site_name
    ET.SubElement(channel, "language").text = lang
    self_href = urljoin(site_url, feed_path(lang, index.default_lang))
    ET.SubElement(
        channel, f"{{{ATOM}}}link", href=self_href, rel="self", type="application/rss+xml"
    )
    for other in others or []:
        if other.lang != lang:
            ET.SubElement(
                channel,
                f"{{{ATOM}}}link",
                href=urljoin(site_url, other.path),
                rel="alternate",
                hreflang=other.lang,
                type="application/rss+xml",
            )
    articles = [e for e in index.articles_newest_first() if e.lang == lang][:MAX_ITEMS]
    if articles:
        ET.SubElement(channel, "lastBuildDate").text = _rfc822(articles[0].meta.date)
    for entry in articles:
        item = ET.SubElement(channel, "item")
        link = urljoin(site_url, entry.url)
        ET.SubElement(item, "title").text = entry.meta.title
        ET.SubElement(item, "link").text = link
        ET.SubElement(item, "guid", isPermaLink="true").text = link
        ET.SubElement(item, "pubDate").text = _rfc822(entry.meta.date)
        if entry.meta.summary:
            ET.SubElement(item, "description").text = entry.meta.summary
        for tag in entry.meta.tags:
            ET.SubElement(item, "category").text = tag
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
