"""Page languages on small sites: the `.zh.md` suffix convention, `lang:`, URLs of
translations, pinyin slugs for Chinese names, per-language copy from mkdocs.yml, a Chinese
default language, and the validation errors that name the file and the key."""

from __future__ import annotations

import re

import pytest

from kp_contract.manifest import read_manifest
from site_builder.build import BuildFailed

ZH_ARTICLE = """\
    ---
    title: 你好
    date: 2026-01-03
    summary: 第一篇中文文章。
    ---

    你好，读者。这篇文章免费。
    """


def _html(mini, url: str) -> str:
    return (mini.root / "site" / url.strip("/") / "index.html").read_text(encoding="utf-8")


def _switcher(html: str) -> dict[str, str]:
    return dict(re.findall(r'<a href="([^"]*)" hreflang="([a-z]+)"[^>]*data-kp-lang', html)[::1])


def _failure(mini) -> str:
    with pytest.raises(BuildFailed) as caught:
        mini.build()
    return "\n".join(caught.value.problems)


def test_suffix_makes_a_translation_under_the_language_prefix(mini):
    mini.write("articles/hello.zh.md", ZH_ARTICLE)
    mini.build()
    zh = _html(mini, "/zh/articles/hello/")
    en = _html(mini, "/articles/hello/")
    assert '<html lang="zh"' in zh and '<html lang="en"' in en
    assert "2026年1月3日" in zh and "January 2, 2026" in en
    assert {lang: href for href, lang in _switcher(zh).items()} == {
        "en": "../../../articles/hello/",
        "zh": "./",
    }
    assert {lang: href for href, lang in _switcher(en).items()} == {
        "en": "./",
        "zh": "../../zh/articles/hello/",
    }
    assert (
        '<link rel="alternate" hreflang="zh" href="http://127.0.0.1:8000/zh/articles/hello/">' in en
    )
    assert (
        '<link rel="alternate" hreflang="x-default" href="http://127.0.0.1:8000/articles/hello/">'
        in zh
    )


def test_single_language_site_has_no_switcher_and_no_alternates(mini):
    mini.build()
    html = _html(mini, "/articles/hello/")
    assert "kp-language" not in html and 'hreflang="zh"' not in html
    assert not (mini.root / "site" / "zh").exists()
    assert not (mini.root / "site" / "sitemap-en.xml").exists()


def test_translation_keeps_the_originals_slug(mini):
    mini.write(
        "articles/hello.md",
        "---\ntitle: Hello\ndate: 2026-01-02\nslug: greetings\n---\n\nHello.\n",
    )
    mini.write("articles/hello.zh.md", ZH_ARTICLE)
    mini.build()
    assert (mini.root / "site/articles/greetings/index.html").is_file()
    zh = _html(mini, "/zh/articles/greetings/")
    assert 'href="../../../articles/greetings/" hreflang="en"' in zh


def test_chinese_file_and_folder_names_become_pinyin_urls(mini):
    mini.write("articles/社群公约怎么写.md", ZH_ARTICLE.replace("你好", "社群公约怎么写"))
    mini.write(
        "courses/社群课/index.md",
        """\
        ---
        title: 社群课
        price: 9
        currency: usd
        mode: payment
        lookup_key: she-qun-ke
        lang: zh
        ---

        课程介绍。
        """,
    )
    mini.write(
        "courses/社群课/01-开始.md",
        "---\ntitle: 开始\n---\n\n公开的部分。\n\n<!-- more -->\n\n付费部分只在私有页面里。\n",
    )
    first = mini.build()
    assert (mini.root / "site/articles/she-qun-gong-yue-zen-me-xie/index.html").is_file()
    manifest = read_manifest(mini.root / "private/manifest.json")
    assert manifest.courses["she-qun-ke"].url == "/courses/she-qun-ke/"
    assert "/courses/she-qun-ke/01-kai-shi/" in manifest.gated
    assert manifest.gated["/courses/she-qun-ke/01-kai-shi/"].requires[0] == "course:she-qun-ke"
    sitemap = (mini.root / "site/sitemap.xml").read_bytes()
    mini.build()
    assert (mini.root / "site/sitemap.xml").read_bytes() == sitemap, "stable across rebuilds"
    assert first.gated == 2


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (
            {"articles/hello.zh.md": ZH_ARTICLE.replace("summary:", "lang: en\n    summary:")},
            "content/articles/hello.zh.md: key 'lang': the file name says 'zh' (.zh.md) but "
            "lang is 'en'",
        ),
        (
            {"courses/c/index.zh.md": "---\ntitle: 课程\n---\n"},
            "content/courses/c/index.zh.md: a course cannot have a .zh.md translation",
        ),
        (
            {"courses/c/02-paid.zh.md": "---\ntitle: 付费课\n---\n"},
            "content/courses/c/02-paid.zh.md: a lesson cannot have a .zh.md translation",
        ),
        (
            {
                "articles/twin.md": ZH_ARTICLE.replace("summary:", "lang: zh\n    summary:"),
                "articles/twin.zh.md": ZH_ARTICLE,
            },
            "content/articles/twin.zh.md: key 'lang': content/articles/twin.md is already the "
            "'zh' version of this page",
        ),
        (
            {"articles/!!!.md": ZH_ARTICLE},
            "content/articles/!!!.md: cannot make a URL from the name '!!!'",
        ),
        (
            {"articles/hello.en.md": "---\ntitle: Hi\ndate: 2026-01-02\n---\n"},
            "content/articles/hello.en.md: key 'lang': content/articles/hello.md is already "
            "the 'en' version of this page",
        ),
    ],
)
def test_language_mistakes_are_build_errors_naming_file_and_key(mini, files, problem):
    for relative, text in files.items():
        mini.write(relative, text)
    assert problem in _failure(mini)


def test_named_cta_needs_copy_in_the_pages_language(mini):
    mini.write("articles/hello.zh.md", ZH_ARTICLE.replace("summary:", "cta: course\n    summary:"))
    assert (
        "content/articles/hello.zh.md: key 'cta': CTA 'course' has no 'zh' text for this 'zh' "
        "page: add extra.community.ctas.course.translations.zh"
    ) in _failure(mini)
    extra = _extra_with(
        mini,
        ctas={
            "course": {
                "title": "Take the course",
                "url": "/courses/c/",
                "translations": {"zh": {"title": "来上课吧", "url": "/zh/"}},
            }
        },
    )
    mini.configure(extra=extra)
    mini.write("index.zh.md", "---\ntitle: 首页\n---\n\n欢迎。\n")
    mini.build()
    zh = _html(mini, "/zh/articles/hello/")
    assert "来上课吧" in zh and "了解更多" in zh and 'href="../../"' in zh
    assert "Take the course" not in zh


def test_community_overrides_need_every_language(mini):
    mini.write("articles/hello.zh.md", ZH_ARTICLE)
    mini.configure(extra=_extra_with(mini, cta_title="Come and join us"))
    problems = _failure(mini)
    assert (
        "content/articles/hello.zh.md: key 'cta': this 'zh' page ends with the community CTA"
        in (problems)
    )
    assert "extra.community.translations.zh" in problems
    mini.configure(
        extra=_extra_with(
            mini,
            cta_title="Come and join us",
            translations={"zh": {"cta_title": "快来加入", "name": "迷你圈"}},
        )
    )
    mini.build()
    assert "快来加入" in _html(mini, "/zh/articles/hello/")
    assert "Come and join us" in _html(mini, "/articles/hello/")


def _extra_with(mini, **community: object) -> dict:
    import yaml

    extra = yaml.safe_load(mini.config.read_text(encoding="utf-8"))["extra"]
    extra["community"].update(community)
    return extra


def test_chinese_default_language_puts_english_under_en(mini):
    config = mini.config.read_text(encoding="utf-8")
    mini.config.write_text(config.replace("custom_dir:", "language: zh\n  custom_dir:"), "utf-8")
    mini.write("index.md", "---\ntitle: 首页\n---\n\n欢迎。\n")
    mini.write("index.en.md", "---\ntitle: Home\n---\n\nWelcome.\n")
    mini.write("articles/hello.md", ZH_ARTICLE)
    mini.write("articles/hello.en.md", "---\ntitle: Hello\ndate: 2026-01-03\n---\n\nHello.\n")
    mini.write(
        "courses/c/index.md",
        builder_course_in_english(),
    )
    mini.build()
    assert '<html lang="zh"' in _html(mini, "/articles/hello/")
    assert '<html lang="en"' in _html(mini, "/en/articles/hello/")
    assert '<html lang="en"' in _html(mini, "/courses/c/"), "lang: en on a Chinese site"
    assert "<language>zh</language>" in (mini.root / "site/feed.xml").read_text("utf-8")
    assert "<language>en</language>" in (mini.root / "site/en/feed.xml").read_text("utf-8")
    zh_home = _html(mini, "/")
    assert '<link rel="alternate" hreflang="x-default" href="http://127.0.0.1:8000/">' in zh_home


def builder_course_in_english() -> str:
    return """\
        ---
        title: The Course
        price: 10
        currency: usd
        mode: payment
        lookup_key: c-course
        lang: en
        ---

        What you learn.
        """


def _kp(*args: str):
    import click
    from click.testing import CliRunner

    from kp.commands.build import register

    group = click.Group("kp")
    register(group)
    return CliRunner().invoke(group, list(args), catch_exceptions=False)


def test_kp_new_translation_starts_a_draft_with_the_original_text(mini):
    config = str(mini.config)
    result = _kp("new", "translation", "articles/hello.md", "--lang", "zh", "--config", config)
    assert result.exit_code == 0, result.output
    path = mini.root / "content/articles/hello.zh.md"
    text = path.read_text(encoding="utf-8")
    assert "draft: true" in text and "title: Hello" in text
    assert "Hello readers, this article is free." in text
    mini.build()
    assert not (mini.root / "site/zh/articles/hello").exists(), "a draft is not published"
    path.write_text(text.replace("draft: true\n", "").replace("title: Hello", "title: 你好"))
    mini.build()
    assert '<html lang="zh"' in _html(mini, "/zh/articles/hello/")

    again = _kp("new", "translation", "articles/hello.md", "--lang", "zh", "--config", config)
    assert again.exit_code == 1 and "already exists" in again.output
    course = _kp("new", "translation", "courses/c/index.md", "--lang", "zh", "--config", config)
    assert course.exit_code == 1 and "sold in one language" in course.output
    missing = _kp("new", "translation", "articles/nope.md", "--lang", "zh", "--config", config)
    assert missing.exit_code == 1 and "no such page" in missing.output
