"""The synthetic bench corpus: articles, courses and lessons in English and Chinese.

Deterministic from a seed, so every tool builds exactly the same text and a rerun measures the
same work. Each article has ~800 words with headings, a list, a table and a code block (a
typical article's mix); lessons hide their paid part behind `<!-- more -->` and carry a
marker (`PAID_MARKER`) the paywall benchmark uses to check it was served the full lesson.

The corpus directory holds the project's real front matter (validated with
`site_builder.content.build_index`, so a corpus the builder would reject is never measured),
an mkdocs.yml for `kp build`, an mkdocs-plain.yml for plain mkdocs-material, and a Hugo site
with the same Markdown (see configs.py).
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench import configs
from bench.words import (
    EN_GLUE,
    EN_TITLE_WORDS,
    EN_WORDS,
    TAGS_EN,
    TAGS_ZH,
    ZH_GLUE,
    ZH_TITLE_WORDS,
    ZH_WORDS,
)

PAID_MARKER = "BENCH-PAID-LESSON-TEXT"
LESSONS_PER_COURSE = 6
FIRST_DATE = dt.date(2012, 1, 1)
DATE_SPAN_DAYS = 12 * 365  # every article is dated in the past, so all of them are published


@dataclass(frozen=True)
class Corpus:
    """A generated corpus on disk and what it contains."""

    root: Path
    articles: int
    courses: int
    lessons: int
    other_pages: int

    @property
    def content(self) -> Path:
        return self.root / "content"

    @property
    def pages(self) -> int:
        """Markdown pages every tool renders (the unit of pages/s)."""
        return self.articles + self.courses + self.lessons + self.other_pages

    def article_path(self, number: int) -> Path:
        """The file of article `number` (1-based), the one the incremental bench edits."""
        return self.content / "articles" / article_name(number)


def course_count(articles: int) -> int:
    """Generated courses grow with the site (one per 200 articles), at least two; the
    example site's courses come on top."""
    return max(2, articles // 200)


def article_lang(number: int) -> str:
    return "en" if number % 2 else "zh"


def article_name(number: int) -> str:
    return f"{article_lang(number)}-{number:05d}.md"


# -- prose ------------------------------------------------------------------------------------


def _en_sentence(rng: random.Random) -> str:
    words = [
        rng.choice(EN_GLUE if rng.random() < 0.3 else EN_WORDS) for _ in range(rng.randint(9, 17))
    ]
    return " ".join(words).capitalize() + "."


def _zh_sentence(rng: random.Random) -> str:
    words = [
        rng.choice(ZH_GLUE if rng.random() < 0.3 else ZH_WORDS) for _ in range(rng.randint(9, 17))
    ]
    cut = len(words) // 2
    return "".join(words[:cut]) + "，" + "".join(words[cut:]) + "。"


def paragraph(rng: random.Random, lang: str, sentences: int = 6) -> str:
    make = _en_sentence if lang == "en" else _zh_sentence
    joiner = " " if lang == "en" else ""
    return joiner.join(make(rng) for _ in range(sentences))


def _title(rng: random.Random, lang: str) -> str:
    if lang == "en":
        return " ".join(rng.choice(EN_TITLE_WORDS) for _ in range(4)).capitalize()
    return "".join(rng.choice(ZH_TITLE_WORDS) for _ in range(3))


def _bullet_list(rng: random.Random, lang: str) -> str:
    make = _en_sentence if lang == "en" else _zh_sentence
    return "\n".join(f"- {make(rng)}" for _ in range(4))


def _table(rng: random.Random, lang: str) -> str:
    words = EN_WORDS if lang == "en" else ZH_WORDS
    head = "| Step | Focus | Hours |" if lang == "en" else "| 步骤 | 重点 | 小时 |"
    rows = [
        f"| {n} | {rng.choice(words)} {rng.choice(words)} | {rng.randint(1, 12)} |"
        for n in range(1, 5)
    ]
    return "\n".join([head, "|---|---|---|", *rows])


def _code_block(rng: random.Random, number: int) -> str:
    names = [rng.choice(EN_WORDS) for _ in range(3)]
    return "\n".join(
        [
            "```python",
            f"def plan_{number}(weeks: int) -> list[str]:",
            f'    """Spread {names[0]} and {names[1]} over the weeks."""',
            f'    steps = ["{names[0]}", "{names[1]}", "{names[2]}"]',
            "    return [steps[week % len(steps)] for week in range(weeks)]",
            "```",
        ]
    )


def _front_matter(fields: dict[str, object]) -> str:
    lines = ["---"]
    for key, value in fields.items():
        if isinstance(value, list):
            lines.append(f"{key}: [{', '.join(str(v) for v in value)}]")
        elif isinstance(value, bool):
            lines.append(f"{key}: {'true' if value else 'false'}")
        elif isinstance(value, str) and key != "date":
            escaped = value.replace('"', "'")
            lines.append(f'{key}: "{escaped}"')
        else:
            lines.append(f"{key}: {value}")
    return "\n".join([*lines, "---", ""])


# -- pages ------------------------------------------------------------------------------------


def article_text(rng: random.Random, number: int, articles: int) -> str:
    """One ~800-word article (about 1,600 characters of Chinese for zh)."""
    lang = article_lang(number)
    tags = TAGS_EN if lang == "en" else TAGS_ZH
    date = FIRST_DATE + dt.timedelta(days=number * DATE_SPAN_DAYS // max(articles, 1))
    heads = ("Why it matters", "How to start", "What to measure", "Keep going")
    if lang == "zh":
        heads = ("为什么重要", "如何开始", "衡量什么", "坚持下去")
    meta = _front_matter(
        {
            "title": _title(rng, lang),
            "date": date.isoformat(),
            "tags": rng.sample(tags, 2),
            "summary": _en_sentence(rng) if lang == "en" else _zh_sentence(rng),
            "lang": lang,
        }
    )
    body = [
        paragraph(rng, lang),
        f"## {heads[0]}",
        paragraph(rng, lang),
        paragraph(rng, lang),
        _bullet_list(rng, lang),
        f"## {heads[1]}",
        paragraph(rng, lang),
        _table(rng, lang),
        paragraph(rng, lang),
        f"## {heads[2]}",
        paragraph(rng, lang),
        _code_block(rng, number),
        paragraph(rng, lang),
        f"## {heads[3]}",
        paragraph(rng, lang),
        paragraph(rng, lang),
    ]
    return meta + "\n" + "\n\n".join(body) + "\n"


def course_index_text(rng: random.Random, number: int, lang: str) -> str:
    meta = _front_matter(
        {
            "title": f"{_title(rng, lang)} {number}",
            "summary": paragraph(rng, lang, 1),
            "price": 29 + number,
            "currency": "usd",
            "mode": "payment",
            "lookup_key": f"bench-course-{number}",
            "tier": "pro",
            "lang": lang,
        }
    )
    learn = "What you will learn" if lang == "en" else "你将学到"
    return "\n\n".join([meta, paragraph(rng, lang), f"## {learn}", _bullet_list(rng, lang)]) + "\n"


def lesson_text(rng: random.Random, number: int, lang: str) -> str:
    fields: dict[str, object] = {"title": _title(rng, lang), "summary": paragraph(rng, lang, 1)}
    if number == 1:
        fields["free_preview"] = True
    parts = [
        _front_matter(fields),
        paragraph(rng, lang),
        "<!-- more -->",
        f"{PAID_MARKER} {paragraph(rng, lang)}",
        "## " + ("Exercise" if lang == "en" else "练习"),
        _bullet_list(rng, lang),
        paragraph(rng, lang),
        _table(rng, lang),
        paragraph(rng, lang),
    ]
    return "\n\n".join(parts) + "\n"


HOME = """---
title: Bench corpus
summary: A synthetic site for measuring build speed.
---

Synthetic articles, courses and lessons for `python -m bench`.
"""

ABOUT = """---
title: About
---

This site is generated by the build benchmark.
"""


# -- writing ----------------------------------------------------------------------------------


def generate(root: Path, articles: int, seed: int = 7) -> Corpus:
    """(Re)write the corpus of `articles` articles under `root`; same seed, same bytes."""
    if articles < 2:
        raise ValueError(
            f"bench corpus: need at least 2 articles (one per language), got {articles}"
        )
    rng = random.Random(f"{seed}:{articles}")
    content = root / "content"
    if content.exists():
        shutil.rmtree(content)
    files: dict[str, str] = {"index.md": HOME, "pages/about.md": ABOUT}
    for number in range(1, articles + 1):
        files[f"articles/{article_name(number)}"] = article_text(rng, number, articles)
    courses = course_count(articles)
    for number in range(1, courses + 1):
        lang = "en" if number % 2 else "zh"
        folder = f"courses/course-{number:03d}"
        files[f"{folder}/index.md"] = course_index_text(rng, number, lang)
        for lesson in range(1, LESSONS_PER_COURSE + 1):
            files[f"{folder}/{lesson:02d}-lesson.md"] = lesson_text(rng, lesson, lang)
    for relative, text in files.items():
        path = content / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    example_courses, example_lessons = copy_example_courses(content)
    corpus = Corpus(
        root,
        articles,
        courses + example_courses,
        courses * LESSONS_PER_COURSE + example_lessons,
        other_pages=2,
    )
    configs.write_all(corpus)
    return corpus


def copy_example_courses(content: Path) -> tuple[int, int]:
    """The example site's courses, which every corpus includes (the inherited mkdocs.yml
    may refer to them: tiers, referral rewards). Returns (courses, lessons) copied."""
    source = configs.REPO / "content" / "courses"
    courses = lessons = 0
    for folder in sorted(p for p in source.iterdir() if p.is_dir()) if source.is_dir() else []:
        for path in sorted(folder.glob("*.md")):
            target = content / "courses" / folder.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            if path.name == "index.md":
                courses += 1
            else:
                lessons += 1
    return courses, lessons


def validate(corpus: Corpus) -> None:
    """Check the corpus with the builder's own content rules; raise naming every error."""
    from mkdocs.config import load_config

    from site_builder.content import build_index, markdown_sources

    config = load_config(str(corpus.root / configs.KP_CONFIG))
    index = build_index(corpus.content, markdown_sources(corpus.content), dict(config.extra))
    if index.errors:
        listed = "\n".join(f"  {error}" for error in index.errors)
        raise ValueError(f"bench corpus {corpus.root} is invalid:\n{listed}")
    published = len(index.published())
    if published != corpus.pages:
        raise ValueError(f"bench corpus: {published} published pages, expected {corpus.pages}")
