"""Sitemaps with `hreflang` alternates (the format search engines document for multilingual
sites: every `<url>` lists all language versions, itself included, plus `x-default`).

`sitemap.xml` (and mkdocs' `sitemap.xml.gz`) lists every public page, as before; a
bilingual site also gets `sitemap-<lang>.xml` per language, with the same alternates. They
sit at the site root because a sitemap may only list URLs below its own directory, and
Chinese pages without an English original live outside `/zh/`.

Only URLs and dates go in, so a sitemap cannot leak paid text; a gated page is
listed by its public teaser URL.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from site_builder.alternates import absolute, hreflang
from site_builder.content import ContentIndex, Entry

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
XHTML_NS = "http://www.w3.org/1999/xhtml"
ET.register_namespace("", SITEMAP_NS)
ET.register_namespace("xhtml", XHTML_NS)


def sitemap_path(lang: str) -> str:
    """Per-language sitemap file name at the site root."""
    return f"sitemap-{lang}.xml"


def _entries(index: ContentIndex, lang: str | None) -> list[Entry]:
    return sorted(
        (e for e in index.published() if lang is None or e.lang == lang),
        key=lambda e: e.url_path,
    )


def render_sitemap(index: ContentIndex, site_url: str, lang: str | None = None) -> str:
    """Sitemap XML of every published page (`lang` None) or of one language's pages."""
    root = ET.Element(f"{{{SITEMAP_NS}}}urlset")
    for entry in _entries(index, lang):
        url = ET.SubElement(root, f"{{{SITEMAP_NS}}}url")
        ET.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = absolute(site_url, entry)
        if entry.kind == "article":
            ET.SubElement(url, f"{{{SITEMAP_NS}}}lastmod").text = entry.meta.date.isoformat()
        for alternate in hreflang(index, entry, site_url):
            ET.SubElement(
                url,
                f"{{{XHTML_NS}}}link",
                rel="alternate",
                hreflang=alternate.lang,
                href=alternate.href,
            )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
