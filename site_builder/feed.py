"""RSS 2.0 feed of the free articles (`site/feed.xml`), as Ghost and blog readers expect.

Items carry the title, link, date, tags and the editor's `summary` only, never the body, so
the feed cannot leak paid or members-only text and stays small.
"""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

from site_builder.content import ContentIndex

FEED_FILE = "feed.xml"
MAX_ITEMS = 30


def _rfc822(day: dt.date) -> str:
    return format_datetime(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))


def render_feed(
    index: ContentIndex, *, site_name: str, site_url: str, description: str, lang: str
) -> str:
    """The feed XML; `site_url` must be absolute (feed readers need absolute links)."""
    root = ET.Element("rss", version="2.0")
    channel = ET.SubElement(root, "channel")
    ET.SubElement(channel, "title").text = site_name
    ET.SubElement(channel, "link").text = site_url
    ET.SubElement(channel, "description").text = description or site_name
    ET.SubElement(channel, "language").text = lang
    articles = index.articles_newest_first()[:MAX_ITEMS]
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
