"""Every page of the example site, in both languages: the interface around the page's own
text (header, navigation, breadcrumbs, previous/next links, footer, the kp- blocks: CTA,
paywall, offers, pricing cards) is in the page's language. Text in another language is
allowed only where it is marked: an element with that `lang` next to a language mark
("英文课程"), the language switcher, or the generator's name. Issue 16: "Community
convention" and the English course in the Chinese navigation, the English course on the
Chinese pricing page, the theme footer, "Previous: 文章" on English pages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import yaml

from kp_contract.i18n import strings, translations

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
SKIPPED = {"script", "style", "svg", "code", "pre", "title", "template"}
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _Tree(HTMLParser):
    """A tolerant DOM: enough to know each text's ancestors."""

    def __init__(self) -> None:
        super().__init__()
        self.root = Node("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def _ancestors(node: Node | None):
    while node is not None:
        yield node
        node = node.parent


def _texts(root: Node):
    """(text, its element) for every visible text node outside scripts, code and titles."""
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if node.tag in SKIPPED or "hidden" in node.attrs:
            continue
        for child in node.children:
            if isinstance(child, Node):
                stack.append(child)
            elif child.strip():
                yield child.strip(), node


def _is_interface(element: Node) -> bool:
    """Outside the page's own Markdown: everything but `article.md-content__inner`, whose
    kp- blocks (CTA, paywall, offers, cards, archive listings) count as interface again."""
    for node in _ancestors(element):
        if any(c.startswith("kp-") for c in node.classes):
            return True
        if "md-content__inner" in node.classes:
            return False
    return True


def _marked(element: Node, page_lang: str) -> bool:
    """Whether text in another language is marked as such where it is shown."""
    for node in _ancestors(element):
        lang = node.attrs.get("lang")
        if "kp-language" in node.classes or "hreflang" in node.attrs:
            return True  # the language switcher: each language named in itself
        if lang and lang != page_lang:
            if node.attrs.get("href", "").startswith("https://squidfunk.github.io/"):
                return True  # "Material for MkDocs", a name
            # A mark beside it, or in the same card or list item (title marked, summary not).
            block = node.parent.parent if node.parent and node.parent.parent else node.parent
            return block is not None and _has_mark(block)
        if lang == page_lang:
            return False
    return False


def _has_mark(node: Node) -> bool:
    return "kp-lang-mark" in node.classes or any(
        isinstance(child, Node) and _has_mark(child) for child in node.children
    )


def _chinese_vocabulary(repo_root) -> set[str]:
    """Latin words the Chinese copy itself uses ("Pro 会员", the site's name): the Chinese
    strings of translations.yml and of mkdocs.yml's `translations`, and `site_name`."""
    config = yaml.safe_load(
        re.sub(r"!!python/\S+", "", (repo_root / "mkdocs.yml").read_text(encoding="utf-8"))
    )
    texts = [entry["zh"] for entry in translations().messages.values()]
    texts.append(config["site_name"])

    def zh_copy(value: object, in_zh: bool = False) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                zh_copy(item, in_zh or key == "zh")
        elif isinstance(value, list):
            for item in value:
                zh_copy(item, in_zh)
        elif isinstance(value, str) and in_zh:
            texts.append(value)

    zh_copy(config["extra"])
    return {word for text in texts for word in LATIN_WORD.findall(text)}


def _problems(html: str, vocabulary: set[str]) -> list[str]:
    tree = _Tree()
    tree.feed(html)
    page_lang = re.search(r'<html lang="(\w+)"', html).group(1)
    found = []
    for text, element in _texts(tree.root):
        if not _is_interface(element) or _marked(element, page_lang):
            continue
        context = next((n.attrs["lang"] for n in _ancestors(element) if "lang" in n.attrs), "")
        if context and context != page_lang:
            found.append(f"unmarked {context} text {text!r} ({sorted(element.classes)})")
        elif page_lang == "en" and CJK.search(text):
            found.append(f"Chinese {text!r} ({sorted(element.classes)})")
        elif page_lang == "zh":
            english = [w for w in LATIN_WORD.findall(text) if w not in vocabulary]
            if english:
                found.append(f"English {text!r} ({sorted(element.classes)})")
    return found


def test_every_page_shows_interface_text_in_its_own_language(i18n_build, repo_root):
    vocabulary = _chinese_vocabulary(repo_root)
    pages = sorted(i18n_build.site.rglob("index.html"))
    langs = {re.search(r'<html lang="(\w+)"', p.read_text("utf-8")).group(1) for p in pages}
    assert langs == {"en", "zh"} and len(pages) > 40, "both languages, every page"
    problems = {}
    for path in pages:
        found = _problems(path.read_text("utf-8"), vocabulary)
        if found:
            problems[str(path.relative_to(i18n_build.site))] = sorted(set(found))
    assert problems == {}


def test_the_walk_finds_text_in_the_other_language():
    """The checker itself: English navigation on a Chinese page, a Chinese footer link on an
    English page, and an unmarked English course title are all reported."""
    zh = (
        '<html lang="zh"><body><nav class="md-nav"><a>Community convention</a></nav>'
        '<div><p class="kp-card__title"><a lang="en">Launch</a></p></div>'
        '<div><p class="kp-card__title"><a lang="en">Marked</a> <span class="kp-lang-mark">英文课程'
        '</span></p><p lang="en">Its summary</p></div>'
        '<article class="md-content__inner"><p>正文 with English</p></article></body></html>'
    )
    assert sorted(p.split(" (")[0] for p in _problems(zh, {"Pro"})) == [
        "English 'Community convention'",
        "unmarked en text 'Launch'",
    ]
    en = '<html lang="en"><body><a class="md-footer__link">Previous 文章</a></body></html>'
    assert len(_problems(en, set())) == 1


def test_footer_is_in_the_page_language(i18n_build):
    zh = i18n_build.html("/zh/")
    en = i18n_build.html("/")
    made_with = strings("zh")["made_with"].split("{")[0].strip()
    assert made_with in zh and "Made with" not in zh and "Made with" in en
    assert "版权所有" in zh and "Copyright" not in zh and "Copyright" in en
