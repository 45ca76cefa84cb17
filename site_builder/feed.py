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

from kp_contract.i18n import t
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


# ---------------------------------------------------------------- Atom (RFC 4287)

ATOM_FILE = "atom.xml"


def atom_path(lang: str, default_lang: str) -> str:
    """`atom.xml` beside `feed.xml` (and `zh/atom.xml`) for readers that prefer Atom."""
    return ATOM_FILE if lang == default_lang else f"{lang}/{ATOM_FILE}"


def _rfc3339(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def render_atom(
    index: ContentIndex,
    *,
    lang: str,
    site_name: str,
    site_url: str,
    description: str,
    others: list[FeedLink] | None = None,
) -> str:
    """The Atom feed for `lang`: the same entries as the RSS feed, each with its title,
    link, dates, tags and the editor's `summary` only (members-only and paid text never)."""
    # Plain tag names under a literal default `xmlns`: ElementTree cannot serialize an
    # unprefixed namespace together with the unqualified attributes Atom uses.
    root = ET.Element("feed", {"xmlns": ATOM, "xml:lang": lang})

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, tag, attrs)
        if text is not None:
            node.text = text
        return node

    home = index.home(lang)
    home_url = urljoin(site_url, home.url if home else "")
    sub(root, "title", site_name)
    if description:
        sub(root, "subtitle", description)
    sub(root, "id", home_url)
    sub(root, "link", rel="alternate", type="text/html", href=home_url)
    self_href = urljoin(site_url, atom_path(lang, index.default_lang))
    sub(root, "link", rel="self", type="application/atom+xml", href=self_href)
    for other in others or []:
        if other.lang != lang:
            sub(
                root,
                "link",
                rel="alternate",
                type="application/atom+xml",
                hreflang=other.lang,
                href=urljoin(site_url, atom_path(other.lang, index.default_lang)),
            )
    author = sub(root, "author")
    sub(author, "name", site_name)
    articles = [e for e in index.articles_newest_first() if e.lang == lang][:MAX_ITEMS]
    newest = articles[0].meta.date if articles else dt.date(1970, 1, 1)
    sub(root, "updated", _rfc3339(newest))
    for entry in articles:
        item = sub(root, "entry")
        link = urljoin(site_url, entry.url)
        sub(item, "title", entry.meta.title)
        sub(item, "link", rel="alternate", type="text/html", href=link)
        sub(item, "id", link)
        sub(item, "published", _rfc3339(entry.meta.date))
        sub(item, "updated", _rfc3339(entry.meta.date))
        if entry.meta.summary:
            sub(item, "summary", entry.meta.summary)
        for tag in entry.meta.tags:
            sub(item, "category", term=tag)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body
