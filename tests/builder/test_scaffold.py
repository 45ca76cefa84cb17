"""`kp new article|course|lesson`: valid front matter, slugs (pinyin), no overwriting; the
language from the title; new articles are drafts until the editor publishes them."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from kp_contract.manifest import read_manifest
from site_builder.content import build_index, markdown_sources
from site_builder.frontmatter import split_front_matter


def _errors(mini) -> list[str]:
    docs = mini.root / "content"
    extra = yaml.safe_load(mini.config.read_text(encoding="utf-8"))["extra"]
    index = build_index(docs, markdown_sources(docs), extra)
    return [str(e) for e in index.errors]


def _meta(path):
    return split_front_matter(path.read_text(encoding="utf-8"))[0]


def test_new_article_is_valid_and_dated_today(mini, kp_cli):
    result = kp_cli("new", "article", "Build a Community!", "--config", str(mini.config))
    assert result.exit_code == 0, result.output
    path = mini.root / "content/articles/build-a-community.md"
    assert "Created" in result.output and "build-a-community.md" in result.output
    meta = _meta(path)
    assert meta["title"] == "Build a Community!" and meta["date"] == dt.date.today()
    assert meta["lang"] == "en" and meta["draft"] is True
    assert _errors(mini) == []


def test_chinese_title_gets_pinyin_slug(mini, kp_cli):
    result = kp_cli("new", "article", "社群运营入门", "--lang", "zh", "--config", str(mini.config))
    assert result.exit_code == 0, result.output
    path = mini.root / "content/articles/she-qun-yun-ying-ru-men.md"
    assert _meta(path)["title"] == "社群运营入门" and _meta(path)["lang"] == "zh"
    assert _errors(mini) == []
    mini.build(drafts=True)
    assert (mini.root / "site/articles/she-qun-yun-ying-ru-men/index.html").is_file()


@pytest.mark.parametrize(
    "title, lang, slug",
    [
        ("我的测试文章", "zh", "wo-de-ce-shi-wen-zhang"),
        ("AI 写作入门", "zh", "ai-xie-zuo-ru-men"),
        ("Growth notes", "en", "growth-notes"),
    ],
)
def test_without_lang_a_title_in_chinese_makes_a_chinese_article(mini, kp_cli, title, lang, slug):
    result = kp_cli("new", "article", title, "--config", str(mini.config))
    assert result.exit_code == 0, result.output
    other = "en" if lang == "zh" else "zh"
    assert f"(lang: {lang}, from the title; --lang {other} for the other language)" in (
        result.output
    )
    assert _meta(mini.root / f"content/articles/{slug}.md")["lang"] == lang
    assert _errors(mini) == []


def test_an_explicit_lang_wins_over_the_title(mini, kp_cli):
    result = kp_cli("new", "article", "我的测试文章", "--lang", "en", "--config", str(mini.config))
    assert result.exit_code == 0, result.output
    assert _meta(mini.root / "content/articles/wo-de-ce-shi-wen-zhang.md")["lang"] == "en"
    assert "from the title" not in result.output


def test_a_course_in_chinese_without_lang_is_chinese(mini, kp_cli):
    result = kp_cli("new", "course", "私域流量课", "--config", str(mini.config))
    assert result.exit_code == 0, result.output
    assert _meta(mini.root / "content/courses/si-yu-liu-liang-ke/index.md")["lang"] == "zh"
    assert "lang: zh, from the title" in result.output


def test_a_new_article_is_a_draft_until_published_as_the_output_says(mini, kp_cli):
    """Like `hugo new` and Ghost: nothing half-written goes out with the next build; the
    output says how to preview and how to publish it."""
    config = str(mini.config)
    result = kp_cli("new", "article", "Growth notes", "--config", config)
    assert result.exit_code == 0, result.output
    assert (
        "It is a draft: preview it with `kp serve --watch --drafts`; to publish it, delete "
        "its `draft: true` line and run `kp build`."
    ) in result.output
    path = mini.root / "content/articles/growth-notes.md"
    page = mini.root / "site/articles/growth-notes/index.html"

    assert kp_cli("build", "--config", config).exit_code == 0
    assert not page.exists()
    assert kp_cli("build", "--drafts", "--config", config).exit_code == 0
    assert page.is_file()

    text = path.read_text(encoding="utf-8")
    assert text.count("draft: true\n") == 1
    path.write_text(text.replace("draft: true\n", ""), encoding="utf-8")  # as the line says
    assert kp_cli("build", "--config", config).exit_code == 0
    assert page.is_file()


def test_refuses_to_overwrite(mini, kp_cli):
    path = mini.root / "content/articles/hello.md"
    before = path.read_bytes()
    result = kp_cli("new", "article", "Hello", "--config", str(mini.config))
    assert result.exit_code == 1
    assert "already exists" in result.output and "Nothing created." in result.output
    assert path.read_bytes() == before


def test_explicit_slug_is_checked(mini, kp_cli):
    ok = kp_cli("new", "article", "你好", "--slug", "ni-hao-2026", "--config", str(mini.config))
    assert ok.exit_code == 0 and (mini.root / "content/articles/ni-hao-2026.md").is_file()
    bad = kp_cli("new", "article", "X", "--slug", "Not A Slug", "--config", str(mini.config))
    assert bad.exit_code == 1 and "--slug 'Not A Slug'" in bad.output


def test_new_course_and_numbered_lessons(mini, kp_cli):
    config = str(mini.config)
    course = kp_cli(
        "new", "course", "私域流量课", "--mode", "subscription", "--tier", "pro",
        "--price", "9.9", "--lang", "zh", "--config", config,
    )  # fmt: skip
    assert course.exit_code == 0, course.output
    index = mini.root / "content/courses/si-yu-liu-liang-ke/index.md"
    meta = _meta(index)
    assert meta["price"] == 9.9 and meta["interval"] == "month"
    assert meta["lookup_key"] == "si-yu-liu-liang-ke" and meta["tier"] == "pro"

    first = kp_cli(
        "new", "lesson", "第一课", "--course", "si-yu-liu-liang-ke", "--free-preview",
        "--config", config,
    )  # fmt: skip
    second = kp_cli(
        "new", "lesson", "Second lesson", "--course", "si-yu-liu-liang-ke", "--config", config
    )
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    lessons = sorted(p.name for p in index.parent.glob("0*.md"))
    assert lessons == ["01-di-yi-ke.md", "02-second-lesson.md"]
    assert _meta(index.parent / "01-di-yi-ke.md")["free_preview"] is True
    assert "<!-- more -->" in (index.parent / "02-second-lesson.md").read_text()
    # A paid lesson is dated today: `kp newsletter send --lessons` announces it.
    assert _meta(index.parent / "02-second-lesson.md")["date"] == dt.date.today()
    assert "date" not in _meta(index.parent / "01-di-yi-ke.md")
    # A Chinese course offers the tier on Chinese pages: the tier needs a Chinese title.
    assert _errors(mini) == [
        "mkdocs.yml: key 'extra.paywall.tiers.pro.translations.zh': 'zh' pages show this "
        "tier: give its title (and summary) in 'zh'"
    ]
    extra = yaml.safe_load(mini.config.read_text(encoding="utf-8"))["extra"]
    extra["paywall"]["tiers"]["pro"]["translations"] = {"zh": {"title": "专业会员"}}
    mini.configure(extra=extra)
    assert _errors(mini) == []
    result = mini.build()
    assert "专业会员" in (mini.root / "site/courses/si-yu-liu-liang-ke/index.html").read_text()
    gated = read_manifest(mini.root / "private/manifest.json").gated
    assert "/courses/si-yu-liu-liang-ke/02-second-lesson/" in gated
    assert "/courses/si-yu-liu-liang-ke/01-di-yi-ke/" not in gated
    assert result.gated == 2


def test_lesson_needs_existing_course(mini, kp_cli):
    result = kp_cli("new", "lesson", "Lost", "--course", "nope", "--config", str(mini.config))
    assert result.exit_code == 1
    assert "no course 'nope'" in result.output and "courses: c" in result.output
