"""What a content error says: every problem of a file in one run, the value that was wrong,
where a YAML error is (file, line, column and the line itself, under `kp build` and
`kp check`), and a lesson or course in the wrong folder as exactly that."""

from __future__ import annotations

import pytest
import yaml

from site_builder.build import BuildFailed
from site_builder.content import build_index, markdown_sources


def _errors(mini) -> list[str]:
    """Every content error of the project, as the build and `kp check` print them."""
    docs = mini.root / "content"
    extra = yaml.safe_load(mini.config.read_text(encoding="utf-8"))["extra"]
    return [str(e) for e in build_index(docs, markdown_sources(docs), extra).errors]


def _errors_of(mini, relative: str) -> list[str]:
    label = f"content/{relative}"
    return [e for e in _errors(mini) if e.startswith((f"{label}:", f"{label} "))]


def test_a_course_missing_its_price_reports_its_other_errors_in_the_same_run(mini):
    """The price error used to hide the missing Stripe reference (and the rest) until the
    price was fixed: one build now lists them all."""
    mini.write(
        "courses/d/index.md",
        "---\ntitle: D\ncurrency: usd\nmode: payment\ninterval: month\ntier: gold\n---\n",
    )
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    message = str(failed.value)
    label = "content/courses/d/index.md"
    assert f"{label}: key 'price': required key is missing" in message
    assert f"{label}: key 'lookup_key': a course needs `lookup_key` or `stripe_price`" in message
    assert (
        f"{label}: key 'interval': `interval: month` is only for `mode: subscription` "
        "(this course has `mode: payment`)"
    ) in message
    assert f"{label}: key 'tier': unknown tier 'gold' (extra.paywall.tiers: pro)" in message
    assert "4 content error(s)" in message


def test_a_wrong_value_does_not_hide_the_cta_and_language_checks(mini):
    mini.write(
        "articles/hello.zh.md",
        '---\ntitle: 你好\ndate: 2026-01-02\nlang: en\ndraft: "no"\ncta: webinar\n---\n文。\n',
    )
    label = "content/articles/hello.zh.md"
    assert _errors_of(mini, "articles/hello.zh.md") == [
        f"{label}: key 'draft': Input should be a valid boolean (true or false, without "
        "quotes), got 'no'",
        f"{label}: key 'cta': unknown CTA 'webinar' (known: default, none, course)",
        f"{label}: key 'lang': the file name says 'zh' (.zh.md) but lang is 'en'",
    ]


def test_a_wrong_key_next_to_a_missing_one_is_not_judged_twice(mini):
    """`mode` is wrong: whether `interval` fits it is not guessed at."""
    mini.write(
        "courses/s/index.md",
        "---\ntitle: S\nprice: 5\ncurrency: usd\nmode: subscriptoin\ninterval: month\n"
        "lookup_key: s\n---\n",
    )
    assert _errors_of(mini, "courses/s/index.md") == [
        "content/courses/s/index.md: key 'mode': Input should be 'payment' or 'subscription', "
        "got 'subscriptoin'"
    ]


VALUES = {
    "articles/a1.md": (
        "---\ntitle: A\ndate: 2026-01-01\naccess: member\n---\n",
        "key 'access': Input should be 'public' or 'members', got 'member'",
    ),
    "articles/a2.md": (
        "---\ntitle: A\ndate: 2026-01-01\nlang: fr\n---\n",
        "key 'lang': Input should be 'en' or 'zh', got 'fr'",
    ),
    "articles/a3.md": (
        "---\ntitle: A\ndate: 2026-01-01\ntags: community\n---\n",
        "key 'tags': Input should be a valid list, got 'community'",
    ),
    "articles/a4.md": (
        "---\ntitle: A\ndate: 2026-01-01\nslug: My Slug\n---\n",
        "key 'slug': use lower-case letters, digits and hyphens, like first-steps, got 'My Slug'",
    ),
    "articles/a5.md": (
        "---\ntitle: A\ndate: 20260101\n---\n",
        "key 'date': expected a date like 2026-05-01, got 20260101",
    ),
    "articles/a6.md": (
        "---\ntitle: A\ndate: next week\n---\n",
        "key 'date': expected a date like 2026-05-01, got 'next week'",
    ),
    "articles/a7.md": (
        "---\ntitle: 2024\ndate: 2026-01-01\n---\n",
        "key 'title': Input should be a valid string, got 2024 (to use it as text, quote it: "
        'title: "2024")',
    ),
    "articles/a8.md": (
        "---\ntitle: A\ndate: 2026-01-01\nsumary: One line.\n---\n",
        "key 'sumary': unknown key; did you mean 'summary'? (an article's keys: title, date, "
        "tags, summary, lang, draft, cta, access, slug)",
    ),
    "articles/a9.md": (
        "---\ntitle: A\ndate: 2026-01-01\nsummary: [one, two]\n---\n",
        "key 'summary': Input should be a valid string, got [one, two]",
    ),
    "courses/c1/index.md": (
        '---\ntitle: C\nprice: "49"\ncurrency: us\nmode: payment\nlookup_key: c1\n---\n',
        "key 'price': expected a number like 49 or 49.5, got '49'",
    ),
    "courses/c2/index.md": (
        "---\ntitle: C\nprice: 5\ncurrency: us\nmode: payment\nlookup_key: c2\n---\n",
        "key 'currency': expected a three-letter currency code like usd or eur, got 'us'",
    ),
    "courses/c3/index.md": (
        "---\ntitle: C\nprice: -5\ncurrency: usd\nmode: subscription\ninterval: weekly\n"
        "lookup_key: c3\n---\n",
        "key 'interval': Input should be 'month' or 'year', got 'weekly'",
    ),
    "courses/c/03-free.md": (
        "---\ntitle: L\nfree_preview: yes please\n---\n",
        "key 'free_preview': Input should be a valid boolean (true or false, without quotes), "
        "got 'yes please'",
    ),
    "pages/p1.md": (
        "---\ntitle: P\nhide: [nav]\n---\n",
        "key 'hide.0': Input should be 'navigation', 'toc', 'footer', 'path', 'tags' or "
        "'feedback', got 'nav'",
    ),
    "pages/p2.md": (
        "---\ntitle: P\ndraft: 1\n---\n",
        "key 'draft': Input should be a valid boolean (true or false, without quotes), got 1",
    ),
}


@pytest.mark.parametrize("relative", sorted(VALUES))
def test_every_message_repeats_the_value_that_was_wrong(mini, relative):
    text, expected = VALUES[relative]
    mini.write(relative, text)
    assert f"content/{relative}: {expected}" in _errors_of(mini, relative)


YAML_ERRORS = [
    # (front matter lines after `---`, line, column, message start)
    (
        ["title: T", "date: 2026-01-01", "tags: [community, growth"],
        4,
        7,
        "invalid YAML front matter: expected ',' or ']' before the end of the front matter "
        "(while parsing a flow sequence that starts here)",
    ),
    (
        ["title: Pricing: a guide", "date: 2026-01-01"],
        2,
        15,
        "invalid YAML front matter: mapping values are not allowed here; a value holding ': ' "
        'needs quotes, e.g. title: "Pricing: a guide"',
    ),
    (
        ["title: T", "\tdate: 2026-01-01"],
        3,
        1,
        "invalid YAML front matter: found character '\\t' that cannot start any token; YAML "
        "does not allow tabs for indentation: use spaces",
    ),
    (
        ["title: T", 'summary: "an open quote', "date: 2026-01-01"],
        3,
        10,
        "invalid YAML front matter: not closed before the end of the front matter (while "
        "scanning a quoted scalar that starts here)",
    ),
]


@pytest.mark.parametrize("lines, line, column, message", YAML_ERRORS)
@pytest.mark.parametrize("command", ["build", "check"])
def test_a_yaml_error_names_its_line_and_column_and_shows_the_line(
    mini, kp_cli, command, lines, line, column, message
):
    """The place is the file's (the opening `---` is line 1), the line is printed as it is
    and the caret stands under the column, under `kp build` and `kp check` alike."""
    mini.write("articles/bad.md", "---\n" + "\n".join(lines) + "\n---\n\nText.\n")
    result = kp_cli(command, "--no-leak-check" if command == "check" else "--no-accel",
                    "--config", str(mini.config))  # fmt: skip
    assert result.exit_code == 1
    out = result.output.splitlines()
    head = f"  content/articles/bad.md:{line}:{column}: {message}"
    assert head in out, result.output
    shown, caret = out[out.index(head) + 1], out[out.index(head) + 2]
    source = lines[line - 2]
    assert shown == f"    {line} | {source}"
    assert caret.rstrip(" ^\t") == f"    {' ' * len(str(line))} |"
    # The caret under the character at `column`, tabs kept so it lines up as displayed.
    prefix = shown[: shown.index("| ") + 2]
    assert (
        caret[len(prefix) :]
        == "".join("\t" if ch == "\t" else " " for ch in source[: column - 1]) + "^"
    )


def test_an_impossible_date_is_an_error_at_its_place_not_a_crash(mini):
    """PyYAML reads `2026-13-01` as a date and fails building it (a ValueError, not a YAML
    error): the build used to stop with a traceback."""
    mini.write("articles/when.md", "---\ntitle: When\ndate: 2026-13-01\n---\n")
    assert _errors_of(mini, "articles/when.md") == [
        "content/articles/when.md:3:7: not a date: 2026-13-01 (month must be in 1..12); "
        "write dates as YYYY-MM-DD\n  3 | date: 2026-13-01\n    |       ^"
    ]


def test_front_matter_that_is_never_closed_is_an_error_at_line_one(mini):
    mini.write("articles/open.md", "---\ntitle: Open\ndate: 2026-01-01\n\nText.\n")
    assert _errors_of(mini, "articles/open.md") == [
        "content/articles/open.md:1: the front matter opened by `---` on line 1 is never "
        "closed: end it with a line holding only `---`\n  1 | ---"
    ]


def test_a_file_that_is_not_utf8_says_so(mini):
    path = mini.root / "content/articles/latin1.md"
    path.write_bytes("---\ntitle: Café\ndate: 2026-01-01\n---\n".encode("latin-1"))
    assert _errors_of(mini, "articles/latin1.md") == [
        "content/articles/latin1.md: not UTF-8 text (byte 0xe9 at offset 14): save it as UTF-8"
    ]


LESSON_OUTSIDE = (
    "lesson outside a course: `free_preview` is a lesson's key, and lessons live in "
    "courses/<course>/NN-<slug>.md next to the course's index.md (move this file there, or "
    "remove `free_preview`)"
)


@pytest.mark.parametrize("relative", ["articles/01-setup.md", "lessons/01-setup.md", "index.md"])
def test_a_lesson_outside_any_course_says_exactly_that(mini, relative):
    """Not "unknown key 'free_preview'" (nor a missing `date` for what is no article)."""
    mini.write(relative, "---\ntitle: Setup\nfree_preview: true\n---\n\nFree lesson.\n")
    assert _errors_of(mini, relative) == [f"content/{relative}: {LESSON_OUTSIDE}"]


def test_a_course_outside_its_folder_says_where_it_belongs(mini):
    course = "---\ntitle: Solo\nprice: 5\ncurrency: usd\nmode: payment\nlookup_key: solo\n---\n"
    mini.write("pages/solo.md", course)
    mini.write("courses/solo.md", course)
    assert _errors_of(mini, "pages/solo.md") == [
        "content/pages/solo.md: course outside courses/: a page with `lookup_key` is a course, "
        "and a course is courses/<course>/index.md (move this file to courses/solo/index.md)"
    ]
    assert _errors_of(mini, "courses/solo.md") == [
        "content/courses/solo.md: course outside its folder: a course is "
        "courses/<course>/index.md (move this file to courses/solo/index.md)"
    ]


def test_a_misnamed_lesson_also_has_its_front_matter_checked(mini):
    mini.write("courses/c/intro.md", "---\ntitle: Intro\nfree_preview: maybe\n---\n")
    assert _errors_of(mini, "courses/c/intro.md") == [
        "content/courses/c/intro.md: lesson file names start with their number, e.g. "
        "02-first-members.md, got 'intro.md'",
        "content/courses/c/intro.md: key 'free_preview': Input should be a valid boolean (true "
        "or false, without quotes), got 'maybe'",
    ]
